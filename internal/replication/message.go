package replication

import (
	"encoding/binary"
	"errors"
	"fmt"

	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"

	"github.com/latticedb/lattice/internal/wire"
)

// The broadcast message is Lattice's own wire type; pubsub moves it as
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
	maxMessageHeads  = 256
	maxMessageBlocks = 64
	maxCIDLen        = 128
)

// MaxMessageSize bounds an encoded broadcast message; pubsub is set to
// refuse larger ones before they are read.
const MaxMessageSize = 1 << 20

// ErrBadMessage marks a broadcast message that does not decode.
var ErrBadMessage = errors.New("replication: malformed broadcast message")

// ErrUnsupportedMessage marks a message this version cannot read but a
// newer one might write (another format version, a hash function we do
// not know): not evidence of a malicious sender, so not scored as one.
var ErrUnsupportedMessage = fmt.Errorf("%w: unsupported", ErrBadMessage)

// Message is one broadcast: heads, and the blocks of some of them inline.
type Message struct {
	Heads  []cid.Cid
	Blocks []blocks.Block
}

// EncodeMessage encodes m; it fails on more heads or blocks than a message
// may carry.
func EncodeMessage(m *Message) ([]byte, error) {
	if len(m.Heads) > maxMessageHeads || len(m.Blocks) > maxMessageBlocks {
		return nil, fmt.Errorf("%w: too many heads or blocks", ErrBadMessage)
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
	if len(b) > MaxMessageSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrBadMessage, len(b))
	}
	return b, nil
}

// DecodeMessage parses and verifies a broadcast message from the network.
// Every block must hash to its CID; counts and lengths are bounded and
// varints must be canonical. It never panics and allocates at most
// len(data) bytes plus small per-item overhead.
func DecodeMessage(data []byte) (*Message, error) {
	if len(data) > MaxMessageSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrBadMessage, len(data))
	}
	if len(data) < 2 || data[0] != msgMagic {
		return nil, fmt.Errorf("%w: bad header", ErrBadMessage)
	}
	if data[1] != msgVersion {
		return nil, fmt.Errorf("%w: format version %d", ErrUnsupportedMessage, data[1])
	}
	r := data[2:]
	readBytes := func(max int) ([]byte, error) {
		n, k := wire.Uvarint(r)
		if k <= 0 || n > uint64(len(r)-k) || n > uint64(max) {
			return nil, fmt.Errorf("%w: bad length", ErrBadMessage)
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
			return cid.Undef, fmt.Errorf("%w: bad CID: %v", ErrBadMessage, err)
		}
		return c, nil
	}
	readCount := func(max uint64) (int, error) {
		n, k := wire.Uvarint(r)
		if k <= 0 || n > max {
			return 0, fmt.Errorf("%w: bad count", ErrBadMessage)
		}
		r = r[k:]
		return int(n), nil
	}
	m := &Message{}
	n, err := readCount(maxMessageHeads)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: no heads", ErrBadMessage)
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
		data, err := readBytes(MaxMessageSize)
		if err != nil {
			return nil, err
		}
		sum, err := c.Prefix().Sum(data)
		if err != nil {
			return nil, fmt.Errorf("%w: block %s: %v", ErrUnsupportedMessage, c, err)
		}
		if !sum.Equals(c) {
			return nil, fmt.Errorf("%w: block does not match its CID %s", ErrBadMessage, c)
		}
		blk, err := blocks.NewBlockWithCid(append([]byte(nil), data...), c)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadMessage, err)
		}
		m.Blocks = append(m.Blocks, blk)
	}
	if len(r) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrBadMessage, len(r))
	}
	return m, nil
}
