// Package wire holds the varint readers shared by Lattice's binary
// decoders (broadcast messages, CRDT registers, write tokens).
//
// encoding/binary accepts overlong varints: 0x80 0x00 decodes to 0 just as
// 0x00 does. For bytes that arrive from the network that makes one value
// have many encodings, so a decoded message would not re-encode to what was
// received, and anything keyed or deduplicated by its bytes could be fooled.
// These readers accept only the shortest (canonical) encoding.
package wire

import "encoding/binary"

// Uvarint decodes a canonical unsigned varint from the start of b. It
// returns the value and the number of bytes read; k <= 0 means b holds no
// valid canonical varint (truncated, overflowing or overlong).
func Uvarint(b []byte) (v uint64, k int) {
	v, k = binary.Uvarint(b)
	if k > 1 && b[k-1] == 0 {
		return 0, 0 // overlong: a trailing zero group adds nothing
	}
	return v, k
}

// Varint decodes a canonical zig-zag signed varint, as binary.AppendVarint
// writes it, from the start of b; k <= 0 means none.
func Varint(b []byte) (v int64, k int) {
	ux, k := Uvarint(b)
	if k <= 0 {
		return 0, k
	}
	v = int64(ux >> 1)
	if ux&1 != 0 {
		v = ^v
	}
	return v, k
}
