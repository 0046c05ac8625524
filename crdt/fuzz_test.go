package crdt_test

import (
	"testing"

	"github.com/latticedb/lattice/crdt"
)

// FuzzDecode feeds arbitrary bytes to every decoder of stored or replicated
// values and keys: none may panic, and what decodes must re-encode.
func FuzzDecode(f *testing.F) {
	r, _ := crdt.EncodeRegister(crdt.Register{Kind: crdt.RegValue, Nonce: "n", Value: map[string]any{"a": int64(1)}})
	m, _ := crdt.EncodeMarker(crdt.Marker{Inc: "i", Base: map[string]any{"_id": "x"}})
	f.Add(r, "/d/c/i/inc/f/a")
	f.Add(m, "/d/c/i")
	f.Add([]byte{1, 'c', 1, 'e', 1, 'e', '7'}, "/d/c/i/inc/n/f/e/r")
	f.Fuzz(func(t *testing.T, b []byte, key string) {
		if reg, err := crdt.DecodeRegister(b); err == nil {
			if _, err := crdt.EncodeRegister(reg); err != nil {
				t.Fatalf("decoded register does not re-encode: %v", err)
			}
		}
		if mk, err := crdt.DecodeMarker(b); err == nil {
			if _, err := crdt.EncodeMarker(mk); err != nil {
				t.Fatalf("decoded marker does not re-encode: %v", err)
			}
		}
		_, _ = crdt.DecodeNumber(b)
		if k, err := crdt.ParseKey(key); err == nil && k.Kind == crdt.KindDoc {
			if crdt.DocPrefix(k.Coll, k.ID) != key {
				t.Fatalf("ParseKey(%q) does not round-trip", key)
			}
		}
		d, _ := crdt.Assemble("c", "i", map[string][]byte{key: b, "/d/c/i": b})
		_ = d.Materialize()
	})
}
