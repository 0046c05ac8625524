package snapshot

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// The wire form. Everything is length-prefixed (uvarint) or fixed, every
// count is bounded by the bytes left, and Decode refuses trailing bytes,
// unsorted lists and blocks whose data does not hash to their CID.
//
//	snapshot: magic, database, producer, time (8 bytes, Unix ms),
//	          heads (count, then CID + height each), coverage (bytes),
//	          live (count, then key + CID + height each), signature
//	bundle:   snapshot (bytes), blocks (count, then CID + data each)
const (
	magic      = "lattice-snapshot-v1\n"
	sigDomain  = "lattice-snapshot-sig-v1\x00"
	maxKey     = 64 << 10
	maxCID     = 256
	maxSig     = 4 << 10
	maxBlock   = 2 << 20
	maxPeerStr = 256
)

type writer struct{ bytes.Buffer }

func (w *writer) uvarint(v uint64) {
	var n [binary.MaxVarintLen64]byte
	w.Write(n[:binary.PutUvarint(n[:], v)])
}

func (w *writer) field(b []byte) {
	w.uvarint(uint64(len(b)))
	w.Write(b)
}

// unsigned is the encoding of everything but the signature.
func (s *Snapshot) unsigned() []byte {
	var w writer
	w.WriteString(magic)
	w.field([]byte(s.Database))
	w.field([]byte(s.Producer.String()))
	var t [8]byte
	binary.BigEndian.PutUint64(t[:], uint64(s.Time.UnixMilli()))
	w.Write(t[:])
	w.uvarint(uint64(len(s.Heads)))
	for _, h := range s.Heads {
		w.field(h.CID.Bytes())
		w.uvarint(h.Height)
	}
	w.field(s.Coverage.Bytes())
	w.uvarint(uint64(len(s.Live)))
	for _, e := range s.Live {
		w.field([]byte(e.Key))
		w.field(e.Block.Bytes())
		w.uvarint(e.Height)
	}
	return w.Bytes()
}

// signedBytes is what the producer signs.
func (s *Snapshot) signedBytes() []byte {
	return append([]byte(sigDomain), s.unsigned()...)
}

// Encode returns the snapshot's wire form.
func (s *Snapshot) Encode() []byte {
	w := writer{}
	w.Write(s.unsigned())
	w.field(s.Sig)
	return w.Bytes()
}

// Encode returns the bundle's wire form.
func (b *Bundle) Encode() []byte {
	var w writer
	w.field(b.Snapshot.Encode())
	w.uvarint(uint64(len(b.Blocks)))
	for _, blk := range b.Blocks {
		w.field(blk.Cid().Bytes())
		w.field(blk.RawData())
	}
	return w.Bytes()
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrMalformed, what)
	}
}

func (r *reader) uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) field(what string, max int) []byte {
	n := r.uvarint(what)
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) || n > uint64(max) {
		r.fail(what + " too long")
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

// count reads a count of items that take at least min bytes each.
func (r *reader) count(what string, min int) int {
	n := r.uvarint(what)
	if r.err == nil && n > uint64(len(r.b)/min) {
		r.fail(what + " count past the input")
		return 0
	}
	return int(n)
}

func (r *reader) cid(what string) cid.Cid {
	b := r.field(what, maxCID)
	if r.err != nil {
		return cid.Undef
	}
	c, err := cid.Cast(b)
	if err != nil {
		r.fail(what + ": " + err.Error())
		return cid.Undef
	}
	return c
}

// Decode parses a snapshot's wire form. It checks form only; Verify
// judges what it claims.
func Decode(b []byte) (*Snapshot, error) {
	if !bytes.HasPrefix(b, []byte(magic)) {
		return nil, fmt.Errorf("%w: no magic", ErrMalformed)
	}
	r := &reader{b: b[len(magic):]}
	s := &Snapshot{}
	s.Database = string(r.field("database", maxKey))
	prod := r.field("producer", maxPeerStr)
	if r.err == nil {
		p, err := peer.Decode(string(prod))
		if err != nil {
			r.fail("producer: " + err.Error())
		}
		s.Producer = p
	}
	if r.err == nil {
		if len(r.b) < 8 {
			r.fail("time")
		} else {
			s.Time = time.UnixMilli(int64(binary.BigEndian.Uint64(r.b[:8])))
			r.b = r.b[8:]
		}
	}
	nh := r.count("heads", 3)
	for i := 0; i < nh && r.err == nil; i++ {
		h := Head{CID: r.cid("head"), Height: r.uvarint("head height")}
		if r.err == nil && len(s.Heads) > 0 && !cidLess(s.Heads[len(s.Heads)-1].CID, h.CID) {
			r.fail("heads not sorted")
		}
		s.Heads = append(s.Heads, h)
	}
	cov := r.field("coverage", len(r.b))
	if r.err == nil {
		c, ok := CoverageFromBytes(cov)
		if !ok {
			r.fail("coverage not sorted digests")
		}
		s.Coverage = c
	}
	nl := r.count("live", 4)
	for i := 0; i < nl && r.err == nil; i++ {
		e := Element{Key: string(r.field("key", maxKey)), Block: r.cid("element block"), Height: r.uvarint("element height")}
		if r.err == nil && len(s.Live) > 0 && !elemLess(s.Live[len(s.Live)-1], e) {
			r.fail("live elements not sorted")
		}
		s.Live = append(s.Live, e)
	}
	s.Sig = r.field("signature", maxSig)
	if r.err == nil && len(r.b) != 0 {
		r.fail("trailing bytes")
	}
	if r.err != nil {
		return nil, r.err
	}
	return s, nil
}

// DecodeBundle parses a bundle's wire form; every block's data must hash
// to its CID.
func DecodeBundle(b []byte) (*Bundle, error) {
	r := &reader{b: b}
	sb := r.field("snapshot", len(b))
	if r.err != nil {
		return nil, r.err
	}
	s, err := Decode(sb)
	if err != nil {
		return nil, err
	}
	out := &Bundle{Snapshot: *s}
	n := r.count("blocks", 3)
	for i := 0; i < n && r.err == nil; i++ {
		c := r.cid("block")
		data := r.field("block data", maxBlock)
		if r.err != nil {
			break
		}
		sum, err := c.Prefix().Sum(data)
		if err != nil || !sum.Equals(c) {
			r.fail("block " + c.String() + " does not match its CID")
			break
		}
		blk, err := blocks.NewBlockWithCid(bytes.Clone(data), c)
		if err != nil {
			r.fail(err.Error())
			break
		}
		out.Blocks = append(out.Blocks, blk)
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("trailing bytes")
	}
	if r.err != nil {
		return nil, r.err
	}
	return out, nil
}

func cidLess(a, b cid.Cid) bool { return bytes.Compare(a.Bytes(), b.Bytes()) < 0 }

func elemLess(a, b Element) bool {
	if a.Key != b.Key {
		return a.Key < b.Key
	}
	return cidLess(a.Block, b.Block)
}
