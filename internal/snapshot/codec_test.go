package snapshot

import (
	"bytes"
	"errors"
	"testing"
)

func TestBundleRoundTrip(t *testing.T) {
	w := newWorld(t)
	defer w.close()
	a := w.writer("A")
	a.put("/k", "1")
	a.batch([]op{{key: "/k", value: "2"}, {key: "/j", value: "3"}})
	a.del("/j")
	b := w.snapshot(a)
	enc := b.Encode()
	got, err := DecodeBundle(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Encode(), enc) {
		t.Fatal("bundle does not round-trip")
	}
	if got.Snapshot.Coverage.Len() != 3 || len(got.Snapshot.Live) != 2 || len(got.Snapshot.Heads) != 1 {
		t.Fatalf("coverage %d, live %v, heads %v", got.Snapshot.Coverage.Len(), got.Snapshot.Live, got.Snapshot.Heads)
	}
	if err := (Verifier{Database: w.db, MayProduce: allowAll}).Verify(w.ctx, got); err != nil {
		t.Fatal(err)
	}
}

func TestDecodeRefusesTamperedBlock(t *testing.T) {
	w := newWorld(t)
	defer w.close()
	a := w.writer("A")
	a.put("/k", "1")
	enc := w.snapshot(a).Encode()
	i := bytes.LastIndex(enc, []byte("1"))
	enc[i] = '2'
	if _, err := DecodeBundle(enc); !errors.Is(err, ErrMalformed) {
		t.Fatalf("got %v, want ErrMalformed", err)
	}
}

// FuzzDecodeBundle: no input panics the decoder, and whatever decodes
// encodes back to the same bytes.
func FuzzDecodeBundle(f *testing.F) {
	w := newWorld(f)
	a := w.writer("A")
	a.put("/k", "1")
	a.put("/k/x", "2")
	b := w.snapshot(a)
	w.close()
	f.Add(b.Encode())
	f.Add(b.Snapshot.Encode())
	f.Add([]byte{})
	f.Add([]byte(magic))
	f.Fuzz(func(t *testing.T, data []byte) {
		if b, err := DecodeBundle(data); err == nil {
			if !bytes.Equal(b.Encode(), data) {
				t.Fatal("bundle does not re-encode to its input")
			}
		}
		if s, err := Decode(data); err == nil {
			if !bytes.Equal(s.Encode(), data) {
				t.Fatal("snapshot does not re-encode to its input")
			}
		}
	})
}
