package wire

import (
	"encoding/binary"
	"math"
	"testing"
)

func TestUvarintRoundTrip(t *testing.T) {
	for _, v := range []uint64{0, 1, 127, 128, 300, 1 << 32, math.MaxUint64} {
		b := binary.AppendUvarint(nil, v)
		got, k := Uvarint(b)
		if got != v || k != len(b) {
			t.Errorf("Uvarint(%x) = %d, %d; want %d, %d", b, got, k, v, len(b))
		}
	}
	for _, v := range []int64{0, -1, 1, -64, 64, math.MinInt64, math.MaxInt64} {
		b := binary.AppendVarint(nil, v)
		got, k := Varint(b)
		if got != v || k != len(b) {
			t.Errorf("Varint(%x) = %d, %d; want %d, %d", b, got, k, v, len(b))
		}
	}
}

func TestRefusesNonCanonical(t *testing.T) {
	for _, b := range [][]byte{
		nil,                // empty
		{0x80},             // truncated
		{0x80, 0x00},       // overlong 0
		{0x81, 0x80, 0x00}, // overlong 1
		{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, // overflow
	} {
		if _, k := Uvarint(b); k > 0 {
			t.Errorf("Uvarint(%x) accepted", b)
		}
		if _, k := Varint(b); k > 0 {
			t.Errorf("Varint(%x) accepted", b)
		}
	}
}

// FuzzUvarint: whatever is accepted is exactly what AppendUvarint writes.
func FuzzUvarint(f *testing.F) {
	f.Add([]byte{0x80, 0x00})
	f.Add([]byte{0xac, 0x02})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, k := Uvarint(b)
		if k <= 0 {
			return
		}
		if again := binary.AppendUvarint(nil, v); string(again) != string(b[:k]) {
			t.Fatalf("%x decodes to %d, which encodes as %x", b[:k], v, again)
		}
	})
}
