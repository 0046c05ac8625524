package snapshot

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/latticedb/lattice/crdt"
)

// BlockStore is the block storage compaction reads sizes from and
// deletes covered blocks in (a boxo blockstore is one).
type BlockStore interface {
	BlockGetter
	GetSize(ctx context.Context, c cid.Cid) (int, error)
	DeleteBlock(ctx context.Context, c cid.Cid) error
}

// Footprint is what a replica's history holds: the blocks it merged and
// still stores, and their bytes.
type Footprint struct {
	Blocks int   `json:"blocks"`
	Bytes  int64 `json:"bytes"`
}

// Compaction is what Compact did.
type Compaction struct {
	Before, After Footprint
	// Snapshot is the snapshot of itself the replica now stands on (nil
	// when it had no history to compact).
	Snapshot *Snapshot
}

// compactBatch bounds the deletions of one batch.
const compactBatch = 4096

// Compact makes a replica's history stop growing: it produces a snapshot
// of the replica (signed with key, as a producer), records its coverage
// so the store answers "processed" for every covered block, then deletes
// what the snapshot makes unneeded: covered blocks that hold no live
// version and are not heads, their processed markers, every version with
// a tombstone whose block is covered and that tombstone, and the
// signature elements of dropped blocks. Blocks of live versions stay
// (go-ds-crdt re-reads them when a delete arrives).
//
// The replica's go-ds-crdt is closed while it runs, and opened over store
// again afterwards; CompactLive compacts an open one. Deletions are in bounded batches
// after the coverage is recorded, so a crash part-way leaves a replica
// that reads the same: the coverage answers for every block whose marker
// is gone, and what is left is deleted by the next compaction.
func Compact(ctx context.Context, store *CoveredStore, layout crdt.StoreLayout, bs BlockStore, key crypto.PrivKey, db string, now time.Time) (*Compaction, error) {
	return CompactLive(ctx, store, layout, bs, key, db, now, Live{})
}

// Batcher opens batches (a ds.Batching is one).
type Batcher interface {
	Batch(ctx context.Context) (ds.Batch, error)
}

// Live is what compaction needs to run beside an open go-ds-crdt
// instance that keeps merging.
type Live struct {
	// Deletes, if not nil, is where deletions are batched: the store the
	// go-ds-crdt instance writes through (Lattice's merge guard), so that
	// a merge that read a key while it was deleted is repaired after it.
	Deletes Batcher
	// Settle, if not nil, returns once every merge that may have read a
	// key deleted so far has finished. Blocks are deleted after it: a
	// merge that listed a version before the version's keys went may
	// still read its block.
	Settle func(ctx context.Context) error
}

// CompactLive is Compact on a replica whose go-ds-crdt instance stays
// open and keeps merging (local writes and remote deltas). The snapshot
// is of a consistent point (see Produce); only blocks it covers are
// dropped, so what merges meanwhile stays. Its scans and deletions run on
// the caller's goroutine and hold no lock a merge takes: deletions go
// through live.Deletes in batches of 4,096 keys. Only one compaction or
// Produce may run on a replica at a time.
func CompactLive(ctx context.Context, store *CoveredStore, layout crdt.StoreLayout, bs BlockStore, key crypto.PrivKey, db string, now time.Time, live Live) (*Compaction, error) {
	var deletes Batcher = store
	if live.Deletes != nil {
		deletes = live.Deletes
	}
	before, err := footprint(ctx, store, layout, bs)
	if err != nil {
		return nil, err
	}
	b, err := Produce(ctx, Source{Store: store, Layout: layout, Blocks: bs, Coverage: store.Coverage()}, key, db, now)
	if errors.Is(err, ErrNoHistory) {
		return &Compaction{Before: before, After: before}, nil // nothing to compact
	}
	if err != nil {
		return nil, err
	}
	cov := b.Snapshot.Coverage
	keep := map[string]bool{}
	for _, blk := range b.Blocks {
		keep[string(blk.Cid().Hash())] = true
	}
	// Record the coverage first: from here on the store answers for the
	// markers and blocks deleted below.
	batch, err := store.Batch(ctx)
	if err != nil {
		return nil, err
	}
	if err := batch.Put(ctx, coverageKey(layout), cov.Bytes()); err != nil {
		return nil, err
	}
	if err := batch.Put(ctx, envelopeKey(layout), b.Snapshot.Encode()); err != nil {
		return nil, err
	}
	if err := batch.Commit(ctx); err != nil {
		return nil, fmt.Errorf("snapshot: compact: %w", err)
	}
	store.cov.Store(&cov)

	// Collect first, delete after: a store may not take deletions under
	// an open query.
	var dead []string    // keys to delete
	var blocks []cid.Cid // blocks to delete
	err = eachKey(ctx, store.Batching, layout.ProcessedPrefix(), true, func(k string, _ []byte) error {
		h, err := lastMultihash(k)
		if err != nil || keep[string(h)] || !cov.Has(h) {
			return err
		}
		dead = append(dead, k)
		blocks = append(blocks, cid.NewCidV1(cid.DagProtobuf, h))
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Tombstones of covered versions, and the versions they name.
	err = eachKey(ctx, store.Batching, layout.TombsPrefix(), true, func(k string, _ []byte) error {
		key, id, ok := layout.SplitElemKey(layout.TombsPrefix(), k)
		if !ok {
			return nil
		}
		h, err := idMultihash(id)
		if err != nil || !cov.Has(h) {
			return nil // a version not covered may still arrive: its tombstone stays
		}
		dead = append(dead, k, layout.ElemsPrefix()+key+id)
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Signature elements of dropped blocks (never state, never deleted by
	// anyone: a snapshot leaves them out).
	err = eachKey(ctx, store.Batching, layout.ElemsPrefix()+crdt.SigPrefix(), true, func(k string, _ []byte) error {
		key, id, ok := layout.SplitElemKey(layout.ElemsPrefix(), k)
		if !ok || !isSig(key) {
			return nil
		}
		h, err := idMultihash(id)
		if err != nil || keep[string(h)] || !cov.Has(h) {
			return nil
		}
		dead = append(dead, k, layout.ValueKey(key), layout.PriorityKey(key))
		return nil
	})
	if err != nil {
		return nil, err
	}
	for len(dead) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n := min(len(dead), compactBatch)
		batch, err := deletes.Batch(ctx)
		if err != nil {
			return nil, err
		}
		for _, k := range dead[:n] {
			if err := batch.Delete(ctx, ds.NewKey(k)); err != nil {
				return nil, err
			}
		}
		if err := batch.Commit(ctx); err != nil {
			return nil, fmt.Errorf("snapshot: compact: %w", err)
		}
		dead = dead[n:]
	}
	if live.Settle != nil {
		if err := live.Settle(ctx); err != nil {
			return nil, err
		}
	}
	for _, c := range blocks {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := bs.DeleteBlock(ctx, c); err != nil && !errors.Is(err, ds.ErrNotFound) {
			return nil, fmt.Errorf("snapshot: compact: delete block: %w", err)
		}
	}
	after, err := footprint(ctx, store, layout, bs)
	if err != nil {
		return nil, err
	}
	return &Compaction{Before: before, After: after, Snapshot: &b.Snapshot}, nil
}

// footprint counts the blocks a replica merged and still stores (its
// processed markers whose block is present) and their bytes.
func footprint(ctx context.Context, store *CoveredStore, layout crdt.StoreLayout, bs BlockStore) (Footprint, error) {
	var f Footprint
	err := eachKey(ctx, store.Batching, layout.ProcessedPrefix(), true, func(k string, _ []byte) error {
		h, err := lastMultihash(k)
		if err != nil {
			return err
		}
		n, err := bs.GetSize(ctx, cid.NewCidV1(cid.DagProtobuf, h))
		if err != nil {
			return nil // not stored here
		}
		f.Blocks++
		f.Bytes += int64(n)
		return nil
	})
	return f, err
}

// Footprint is what the replica's history holds now. at, if not nil, is
// called once the scan is open (a store's query reads one consistent
// state, as pebble's do), while no marker is being written: markers
// OnProcessed reports before at are in the scan, those after are not.
func (s *CoveredStore) Footprint(ctx context.Context, layout crdt.StoreLayout, bs BlockStore, at func()) (Footprint, error) {
	var f Footprint
	s.marking.Lock()
	res, err := s.Batching.Query(ctx, query.Query{Prefix: layout.ProcessedPrefix(), KeysOnly: true})
	if at != nil {
		at()
	}
	s.marking.Unlock()
	if err != nil {
		return f, fmt.Errorf("snapshot: query markers: %w", err)
	}
	defer res.Close()
	for r := range res.Next() {
		if r.Error != nil {
			return f, fmt.Errorf("snapshot: query markers: %w", r.Error)
		}
		if err := ctx.Err(); err != nil {
			return f, err
		}
		h, err := lastMultihash(r.Key)
		if err != nil {
			return f, err
		}
		if n, err := bs.GetSize(ctx, cid.NewCidV1(cid.DagProtobuf, h)); err == nil {
			f.Blocks++
			f.Bytes += int64(n)
		}
	}
	return f, nil
}
