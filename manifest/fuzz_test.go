package manifest

import "testing"

// FuzzDecodeManifest: manifests come from the network.
func FuzzDecodeManifest(f *testing.F) {
	f.Add([]byte(`{"name":"x","type":"docstore","access":{"type":"open"}}`))
	f.Add([]byte(`{"name":"","type":"docstore","access":{"type":"open"}}`))
	f.Add([]byte(`{"name":"x","type":"docstore","access":{"type":"open"},"nonce":"abcdefghijklmnopqrstuvwxyz"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if err != nil {
			return
		}
		if _, err := Encode(m); err != nil {
			t.Fatalf("decoded manifest does not encode: %v", err)
		}
	})
}

// FuzzParseAddress: addresses come from users and invite links.
func FuzzParseAddress(f *testing.F) {
	f.Add("/lattice/bagaaierasords4njcts6vs7qvdjfcvgnume4hqohf65zsfguprqphs3icwea/TodoList")
	f.Add("/lattice//x")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAddress(s)
		if err != nil {
			return
		}
		if _, err := ParseAddress(a.String()); err != nil {
			t.Fatalf("formatted address does not parse: %v", err)
		}
	})
}
