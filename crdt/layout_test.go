package crdt

import "testing"

func TestStoreLayout(t *testing.T) {
	l := NewStoreLayout("/db/abc")
	if got := l.ValuesPrefix(); got != "/db/abc/s/k" {
		t.Fatalf("ValuesPrefix = %q", got)
	}
	k := DocPrefix("todos", "x1")
	sk := l.ValueKey(k)
	if back, ok := l.CRDTKey(sk); !ok || back != k {
		t.Fatalf("CRDTKey(%q) = %q, %v; want %q", sk, back, ok, k)
	}
	for _, other := range []string{"/db/abc/s/k/v", "/db/abc/s/p/x/v", "/db/abc/s/k/x/p", "/db/other/s/k/x/v", "/db/abc/s/kx/v"} {
		if got, ok := l.CRDTKey(other); ok {
			t.Fatalf("CRDTKey(%q) = %q, want no CRDT key", other, got)
		}
	}
}
