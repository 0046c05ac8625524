package crdt_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/latticedb/lattice/crdt"
)

// outOfRange are values whose numbers overflow float64: they decoded as
// infinities, which no replica could encode again.
var outOfRange = []string{"\x01c\x01e\x01e7e777", "\x01v\x00\x001e400", "\x01\x01i{\"a\":-1e999}"}

func TestDecodeRefusesOutOfRangeNumbers(t *testing.T) {
	for _, b := range outOfRange {
		_, errR := crdt.DecodeRegister([]byte(b))
		_, errM := crdt.DecodeMarker([]byte(b))
		if !errors.Is(errR, crdt.ErrBadValue) || !errors.Is(errM, crdt.ErrBadValue) {
			t.Errorf("%q: register error %v, marker error %v; want ErrBadValue", b, errR, errM)
		}
	}
	if _, err := crdt.DecodeValue([]byte(`[1, {"x": 2e308}]`)); !errors.Is(err, crdt.ErrBadValue) || !strings.Contains(err.Error(), "2e308") {
		t.Errorf("nested overflow: %v", err)
	}
	if v, err := crdt.DecodeValue([]byte(`1.5e308`)); err != nil || v != 1.5e308 {
		t.Errorf("a large finite number: %v, %v", v, err)
	}
}

// FuzzDecode feeds arbitrary bytes to every decoder of stored or replicated
// values and keys: none may panic, and what decodes must re-encode.
func FuzzDecode(f *testing.F) {
	r, _ := crdt.EncodeRegister(crdt.Register{Kind: crdt.RegValue, Nonce: "n", Value: map[string]any{"a": int64(1)}})
	m, _ := crdt.EncodeMarker(crdt.Marker{Inc: "i", Base: map[string]any{"_id": "x"}})
	f.Add(r, "/d/c/i/inc/f/a")
	f.Add(m, "/d/c/i")
	bs, _ := crdt.EncodeBase(3, map[string]any{"_id": "x", "n": int64(2)})
	f.Add(bs, "/d/c/i/0/b/n1")
	f.Add(crdt.EncodeGrave(1), "/d/c/i/0/g")
	se, _ := crdt.EncodeSetElem(crdt.SetElem{Value: []any{"a"}, Ord: 7, Replica: "r"})
	f.Add(se, "/d/c/i/0/s/t/e/h-2")
	f.Add([]byte{1, 'c', 1, 'e', 1, 'e', '7'}, "/d/c/i/inc/n/f/e/r")
	for _, b := range outOfRange {
		f.Add([]byte(b), "/d/c/i")
	}
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
		if gen, base, err := crdt.DecodeBase(b); err == nil {
			if _, err := crdt.EncodeBase(gen, base); err != nil {
				t.Fatalf("decoded base does not re-encode: %v", err)
			}
		}
		if gen, err := crdt.DecodeGrave(b); err == nil && string(crdt.EncodeGrave(gen)) != string(b) {
			t.Fatalf("grave %q does not round-trip", b)
		}
		if e, err := crdt.DecodeSetElem(b); err == nil {
			again, err := crdt.EncodeSetElem(e)
			if err != nil {
				t.Fatalf("decoded set element does not re-encode: %v", err)
			}
			if e2, err := crdt.DecodeSetElem(again); err != nil || e2.Ord != e.Ord || e2.Replica != e.Replica {
				t.Fatalf("set element %q does not round-trip: %+v vs %+v (%v)", b, e, e2, err)
			}
		}
		_, _ = crdt.DecodeNumber(b)
		if k, err := crdt.ParseKey(key); err == nil {
			var back string
			switch k.Kind {
			case crdt.KindDoc:
				back = crdt.DocPrefix(k.Coll, k.ID)
			case crdt.KindBase:
				back = crdt.BaseKey(k.Coll, k.ID, k.Inc, k.Sub)
			case crdt.KindGrave:
				back = crdt.GraveKey(k.Coll, k.ID, k.Inc)
			default:
				back = key
			}
			if back != key {
				t.Fatalf("ParseKey(%q) does not round-trip: %q", key, back)
			}
		}
		d, _ := crdt.Assemble("c", "i", map[string][]byte{key: b, "/d/c/i": b, "/d/c/i/0/b/x": b})
		_ = d.Materialize()
	})
}
