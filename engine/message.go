package engine

import (
	"encoding/binary"
	"errors"
	"fmt"

	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"

	"github.com/latticedb/lattice/internal/wire"
)

// The broadcast message is the engine's own wire type; pubsub moves it as
// opaque bytes. Layout (version 1):
//
//	'L' 0x01
//	uvarint n, then n heads:   uvarint len, CID bytes
//	uvarint m, then m blocks:  uvarint len, CID bytes, uvarint len, data
//
// Blocks carry the newest DAG nodes so receivers need no bitswap round trip;
// each is verified against its CID before it is stored.
const (
	msgMagic         = 'L'
	msgVersion       = 1
	maxMessageSize   = 1 << 20
	maxMessageHeads  = 256
	maxMessageBlocks = 64
	maxCIDLen        = 128
)

var errBadMessage = errors.New("engine: malformed broadcast message")

// errUnsupportedMessage marks a message this version cannot read but a
// newer one might write (another format version, a hash function we do
// not know): not evidence of a malicious sender, so not scored as one.
var errUnsupportedMessage = fmt.Errorf("%w: unsupported", errBadMessage)

type message struct {
	Heads  []cid.Cid
	Blocks []blocks.Block
}

func encodeMessage(m *message) ([]byte, error) {
	if len(m.Heads) > maxMessageHeads || len(m.Blocks) > maxMessageBlocks {
		return nil, fmt.Errorf("%w: too many heads or blocks", errBadMessage)
	}
	b := []byte{msgMagic, msgVersion}
	b = binary.AppendUvarint(b, uint64(len(m.Heads)))
	for _, h := range m.Heads {
		cb := h.Bytes()
		b = binary.AppendUvarint(b, uint64(len(cb)))
		b = append(b, cb...)
	}
	b = binary.AppendUvarint(b, uint64(len(m.Blocks)))
	for _, blk := range m.Blocks {
		cb := blk.Cid().Bytes()
		b = binary.AppendUvarint(b, uint64(len(cb)))
		b = append(b, cb...)
		b = binary.AppendUvarint(b, uint64(len(blk.RawData())))
		b = append(b, blk.RawData()...)
	}
	if len(b) > maxMessageSize {
		return nil, fmt.Errorf("%w: %d bytes", errBadMessage, len(b))
	}
	return b, nil
}

// decodeMessage parses and verifies a broadcast message. Every block must
// hash to its CID. It never panics and allocates at most len(data) bytes
// plus small per-item overhead.
func decodeMessage(data []byte) (*message, error) {
	if len(data) > maxMessageSize {
		return nil, fmt.Errorf("%w: %d bytes", errBadMessage, len(data))
	}
	if len(data) < 2 || data[0] != msgMagic {
		return nil, fmt.Errorf("%w: bad header", errBadMessage)
	}
	if data[1] != msgVersion {
		return nil, fmt.Errorf("%w: format version %d", errUnsupportedMessage, data[1])
	}
	r := data[2:]
	readBytes := func(max int) ([]byte, error) {
		n, k := wire.Uvarint(r)
		if k <= 0 || n > uint64(len(r)-k) || n > uint64(max) {
			return nil, fmt.Errorf("%w: bad length", errBadMessage)
		}
		out := r[k : k+int(n)]
		r = r[k+int(n):]
		return out, nil
	}
	readCID := func() (cid.Cid, error) {
		cb, err := readBytes(maxCIDLen)
		if err != nil {
			return cid.Undef, err
		}
		c, err := cid.Cast(cb)
		if err != nil {
			return cid.Undef, fmt.Errorf("%w: bad CID: %v", errBadMessage, err)
		}
		return c, nil
	}
	readCount := func(max uint64) (int, error) {
		n, k := wire.Uvarint(r)
		if k <= 0 || n > max {
			return 0, fmt.Errorf("%w: bad count", errBadMessage)
		}
		r = r[k:]
		return int(n), nil
	}
	m := &message{}
	n, err := readCount(maxMessageHeads)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: no heads", errBadMessage)
	}
	for i := 0; i < n; i++ {
		c, err := readCID()
		if err != nil {
			return nil, err
		}
		m.Heads = append(m.Heads, c)
	}
	if n, err = readCount(maxMessageBlocks); err != nil {
		return nil, err
	}
	for i := 0; i < n; i++ {
		c, err := readCID()
		if err != nil {
			return nil, err
		}
		data, err := readBytes(maxMessageSize)
		if err != nil {
			return nil, err
		}
		sum, err := c.Prefix().Sum(data)
		if err != nil {
			return nil, fmt.Errorf("%w: block %s: %v", errUnsupportedMessage, c, err)
		}
		if !sum.Equals(c) {
			return nil, fmt.Errorf("%w: block does not match its CID %s", errBadMessage, c)
		}
		blk, err := blocks.NewBlockWithCid(append([]byte(nil), data...), c)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errBadMessage, err)
		}
		m.Blocks = append(m.Blocks, blk)
	}
	if len(r) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errBadMessage, len(r))
	}
	return m, nil
}
