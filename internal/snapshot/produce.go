package snapshot

import (
	"context"
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
	"time"

	dshelp "github.com/ipfs/boxo/datastore/dshelp"
	dag "github.com/ipfs/boxo/ipld/merkledag"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	crdtpb "github.com/ipfs/go-ds-crdt/pb"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"

	"github.com/latticedb/lattice/crdt"
)

// BlockGetter reads blocks by CID (a boxo blockstore is one).
type BlockGetter interface {
	Get(ctx context.Context, c cid.Cid) (blocks.Block, error)
}

// Source is a replica's history, as a snapshot is produced from it.
type Source struct {
	// Store is the datastore holding the go-ds-crdt instance; Layout
	// names its keys (crdt.NewStoreLayout of its namespace).
	Store  ds.Read
	Layout crdt.StoreLayout
	// Blocks holds the blocks of its live elements and heads.
	Blocks BlockGetter
	// Coverage is the coverage the replica was installed with, if it
	// was (CoveredStore.Coverage): its past beyond its own markers.
	Coverage Coverage
}

// Produce makes a signed snapshot of the replica src describes, as
// database db's producer key, at now.
//
// It may run while the replica merges (an open database): it reads the
// heads, then the processed markers (the coverage), the heads again, then
// the set. go-ds-crdt marks a block processed before it makes it a head,
// so the heads read first are covered, and those read again are listed
// when covered; a version whose block merged after the
// markers were read is left out (the tail brings it again, and merging is
// idempotent); a version a later merge tombstoned reads as dead, which the
// tail makes true anyway.
func Produce(ctx context.Context, src Source, key crypto.PrivKey, db string, now time.Time) (*Bundle, error) {
	producer, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("snapshot: producer key: %w", err)
	}
	// The frontier at one moment: every block of it is processed already.
	type rawHead struct {
		h      []byte
		height uint64
	}
	var frontier []rawHead
	readHeads := func() error {
		return eachKey(ctx, src.Store, src.Layout.HeadsPrefix(), false, func(k string, v []byte) error {
			h, err := lastMultihash(k)
			if err != nil {
				return err
			}
			height, n := binary.Uvarint(v)
			if n <= 0 {
				return fmt.Errorf("snapshot: head %s: bad height", k)
			}
			frontier = append(frontier, rawHead{h, height})
			return nil
		})
	}
	if err := readHeads(); err != nil {
		return nil, err
	}
	// Coverage: every processed block.
	digests := make([][DigestSize]byte, 0, src.Coverage.Len())
	for i := 0; i < src.Coverage.Len(); i++ {
		digests = append(digests, [DigestSize]byte(src.Coverage.digests[i*DigestSize:]))
	}
	err = eachKey(ctx, src.Store, src.Layout.ProcessedPrefix(), true, func(k string, _ []byte) error {
		h, err := lastMultihash(k)
		if err != nil {
			return err
		}
		digests = append(digests, Digest(h))
		return nil
	})
	if err != nil {
		return nil, err
	}
	cov := NewCoverage(digests)
	digests = nil
	// And the frontier again: heads that merged while the markers were
	// read are covered if their markers were (and an older head they
	// replaced, listed too, only adds a link to the joiner's next write).
	if err := readHeads(); err != nil {
		return nil, err
	}

	// Live versions: elements without a tombstone, delta signatures left
	// out (they are never read as state and never deleted: keeping them
	// would keep every block).
	tombs := map[string]struct{}{}
	err = eachKey(ctx, src.Store, src.Layout.TombsPrefix(), true, func(k string, _ []byte) error {
		tombs[k[len(src.Layout.TombsPrefix()):]] = struct{}{}
		return nil
	})
	if err != nil {
		return nil, err
	}
	type raw struct{ key, id string }
	var live []raw
	err = eachKey(ctx, src.Store, src.Layout.ElemsPrefix(), true, func(k string, _ []byte) error {
		if _, dead := tombs[k[len(src.Layout.ElemsPrefix()):]]; dead {
			return nil
		}
		key, id, ok := src.Layout.SplitElemKey(src.Layout.ElemsPrefix(), k)
		if !ok {
			return fmt.Errorf("snapshot: unexpected element key %q", k)
		}
		if isSig(key) {
			return nil
		}
		live = append(live, raw{key, id})
		return nil
	})
	if err != nil {
		return nil, err
	}
	tombs = nil

	heights := map[cid.Cid]uint64{}
	var carried []blocks.Block
	load := func(c cid.Cid) (uint64, error) {
		if h, ok := heights[c]; ok {
			return h, nil
		}
		blk, err := src.Blocks.Get(ctx, c)
		if err != nil {
			return 0, fmt.Errorf("snapshot: block %s: %w", c, err)
		}
		_, d, err := decodeDelta(blk)
		if err != nil {
			return 0, err
		}
		heights[c] = d.GetPriority()
		carried = append(carried, blk)
		return d.GetPriority(), nil
	}
	s := Snapshot{Database: db, Producer: producer, Time: now, Coverage: cov}
	for _, r := range live {
		h, err := idMultihash(r.id)
		if err != nil {
			return nil, err
		}
		if !cov.Has(h) {
			continue // merged after the coverage was read: the tail brings it
		}
		c := cid.NewCidV1(cid.DagProtobuf, h)
		height, err := load(c)
		if err != nil {
			return nil, err
		}
		s.Live = append(s.Live, Element{Key: r.key, Block: c, Height: height})
	}
	seen := map[string]bool{}
	for _, fh := range frontier {
		if seen[string(fh.h)] || !cov.Has(fh.h) {
			continue // merged after the markers were read: the tail brings it
		}
		seen[string(fh.h)] = true
		c := cid.NewCidV1(cid.DagProtobuf, fh.h)
		if _, err := load(c); err != nil {
			return nil, err
		}
		s.Heads = append(s.Heads, Head{CID: c, Height: fh.height})
	}
	if len(s.Heads) == 0 {
		return nil, ErrNoHistory
	}
	sort.Slice(s.Heads, func(i, j int) bool { return cidLess(s.Heads[i].CID, s.Heads[j].CID) })
	sort.Slice(s.Live, func(i, j int) bool { return elemLess(s.Live[i], s.Live[j]) })
	sort.Slice(carried, func(i, j int) bool { return cidLess(carried[i].Cid(), carried[j].Cid()) })
	sig, err := key.Sign(s.signedBytes())
	if err != nil {
		return nil, fmt.Errorf("snapshot: sign: %w", err)
	}
	s.Sig = sig
	return &Bundle{Snapshot: s, Blocks: carried}, nil
}

// Sign signs s (again) with key, which becomes its producer.
func Sign(s *Snapshot, key crypto.PrivKey) error {
	p, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return err
	}
	s.Producer = p
	s.Sig, err = key.Sign(s.signedBytes())
	return err
}

func isSig(key string) bool {
	if !strings.HasPrefix(key, crdt.SigPrefix()) {
		return false
	}
	k, err := crdt.ParseKey(key)
	return err == nil && k.Kind == crdt.KindSig
}

// eachKey runs fn over every entry under prefix, in key order.
func eachKey(ctx context.Context, store ds.Read, prefix string, keysOnly bool, fn func(k string, v []byte) error) error {
	res, err := store.Query(ctx, query.Query{Prefix: prefix, KeysOnly: keysOnly, Orders: []query.Order{query.OrderByKey{}}})
	if err != nil {
		return fmt.Errorf("snapshot: query %s: %w", prefix, err)
	}
	defer res.Close()
	for r := range res.Next() {
		if r.Error != nil {
			return fmt.Errorf("snapshot: query %s: %w", prefix, r.Error)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(r.Key, r.Value); err != nil {
			return err
		}
	}
	return nil
}

func lastMultihash(k string) ([]byte, error) {
	i := strings.LastIndexByte(k, '/')
	return idMultihash(k[i:])
}

func idMultihash(id string) ([]byte, error) {
	h, err := dshelp.DsKeyToMultihash(ds.NewKey(id))
	if err != nil {
		return nil, fmt.Errorf("snapshot: block id %q: %w", id, err)
	}
	return h, nil
}

// decodeDelta decodes a go-ds-crdt delta block.
func decodeDelta(blk blocks.Block) (*dag.ProtoNode, *crdtpb.Delta, error) {
	nd, err := dag.DecodeProtobufBlock(blk)
	if err != nil {
		return nil, nil, fmt.Errorf("snapshot: block %s: %w", blk.Cid(), err)
	}
	pn, ok := nd.(*dag.ProtoNode)
	if !ok {
		return nil, nil, fmt.Errorf("snapshot: block %s is not dag-pb", blk.Cid())
	}
	var d crdtpb.Delta
	if err := proto.Unmarshal(pn.Data(), &d); err != nil {
		return nil, nil, fmt.Errorf("snapshot: block %s: %w", blk.Cid(), err)
	}
	return pn, &d, nil
}
