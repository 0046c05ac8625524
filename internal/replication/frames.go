package replication

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"

	"github.com/latticedb/lattice/internal/wire"
)

// Length-prefixed framing shared by the catch-up request and stream. Only
// canonical varints are accepted from the network (see package wire).

var errFrame = errors.New("malformed frame")

func appendUvarint(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }

func appendBytes(b, p []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(p))), p...)
}

// byteReader reads frames from a byte slice.
type byteReader struct{ b []byte }

func (r *byteReader) uvarint() (uint64, error) {
	v, k := wire.Uvarint(r.b)
	if k <= 0 {
		return 0, errFrame
	}
	r.b = r.b[k:]
	return v, nil
}

func (r *byteReader) bytes(max int) ([]byte, error) {
	n, err := r.uvarint()
	if err != nil || n > uint64(max) || n > uint64(len(r.b)) {
		return nil, errFrame
	}
	p := r.b[:n]
	r.b = r.b[n:]
	return p, nil
}

// readUvarint reads a canonical varint from a stream.
func readUvarint(r io.ByteReader) (uint64, error) {
	var buf [binary.MaxVarintLen64]byte
	for i := range buf {
		c, err := r.ReadByte()
		if err != nil {
			return 0, err
		}
		buf[i] = c
		if c < 0x80 {
			v, k := wire.Uvarint(buf[:i+1])
			if k <= 0 {
				return 0, errFrame
			}
			return v, nil
		}
	}
	return 0, errFrame
}

// readBytes reads a length-prefixed byte string of at most max bytes.
func readBytes(r *bufio.Reader, max int) ([]byte, error) {
	n, err := readUvarint(r)
	if err != nil {
		return nil, err
	}
	if n > uint64(max) {
		return nil, errFrame
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		return nil, err
	}
	return p, nil
}
