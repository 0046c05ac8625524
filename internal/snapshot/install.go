package snapshot

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	mh "github.com/multiformats/go-multihash"

	"github.com/latticedb/lattice/crdt"
)

// BlockPutter stores blocks (a boxo blockstore is one).
type BlockPutter interface {
	PutMany(ctx context.Context, blks []blocks.Block) error
}

func coverageKey(l crdt.StoreLayout) ds.Key { return ds.NewKey(l.LatticePrefix() + "/snap/coverage") }
func envelopeKey(l crdt.StoreLayout) ds.Key { return ds.NewKey(l.LatticePrefix() + "/snap/envelope") }

// Install writes a verified bundle into an empty replica: the carried
// blocks first (content-addressed, harmless alone), then in one batch
// every live element, the visible value and priority of each key, the
// heads, the processed markers of the carried blocks, the coverage and
// the snapshot itself. A crash before the batch commits leaves the
// replica empty; after, installed. The go-ds-crdt instance is opened over
// CoveredStore afterwards (never before: its heads are read at open).
//
// Installing over a replica that has heads fails with ErrNotEmpty.
func Install(ctx context.Context, store ds.Batching, layout crdt.StoreLayout, bs BlockPutter, b *Bundle) error {
	res, err := store.Query(ctx, query.Query{Prefix: layout.HeadsPrefix(), KeysOnly: true, Limit: 1})
	if err != nil {
		return fmt.Errorf("snapshot: install: %w", err)
	}
	rest, err := res.Rest()
	if err != nil {
		return fmt.Errorf("snapshot: install: %w", err)
	}
	if len(rest) > 0 {
		return ErrNotEmpty
	}
	if err := bs.PutMany(ctx, b.Blocks); err != nil {
		return fmt.Errorf("snapshot: install blocks: %w", err)
	}
	deltas := map[cid.Cid]map[string][]byte{} // block -> key -> greatest value it writes
	for _, blk := range b.Blocks {
		_, d, err := decodeDelta(blk)
		if err != nil {
			return err
		}
		vals := map[string][]byte{}
		for _, e := range d.GetElements() {
			if cur, ok := vals[e.GetKey()]; !ok || bytes.Compare(cur, e.GetValue()) < 0 {
				vals[e.GetKey()] = e.GetValue()
			}
		}
		deltas[keyCID(blk.Cid())] = vals
	}
	batch, err := store.Batch(ctx)
	if err != nil {
		return fmt.Errorf("snapshot: install: %w", err)
	}
	put := func(k string, v []byte) {
		if err == nil {
			err = batch.Put(ctx, ds.NewKey(k), v)
		}
	}
	type best struct {
		height uint64
		value  []byte
	}
	winners := map[string]best{}
	for _, e := range b.Snapshot.Live {
		v, ok := deltas[keyCID(e.Block)][e.Key]
		if !ok {
			return fmt.Errorf("snapshot: install: %w: %q in %s", ErrMissingLiveElement, e.Key, e.Block)
		}
		put(layout.ElemsPrefix()+e.Key+elemID(e.Block), nil)
		// go-ds-crdt's rule: the highest priority wins, then the
		// byte-wise greater value.
		if w, ok := winners[e.Key]; !ok || e.Height > w.height || e.Height == w.height && bytes.Compare(v, w.value) > 0 {
			winners[e.Key] = best{e.Height, v}
		}
	}
	for k, w := range winners {
		put(layout.ValueKey(k), w.value)
		var p [binary.MaxVarintLen64]byte
		put(layout.PriorityKey(k), p[:binary.PutUvarint(p[:], w.height+1)])
	}
	for _, h := range b.Snapshot.Heads {
		var p [binary.MaxVarintLen64]byte
		put(layout.HeadsPrefix()+elemID(h.CID), p[:binary.PutUvarint(p[:], h.Height)])
	}
	for c := range deltas {
		put(layout.ProcessedPrefix()+elemID(c), nil)
	}
	put(coverageKey(layout).String(), b.Snapshot.Coverage.Bytes())
	put(envelopeKey(layout).String(), b.Snapshot.Encode())
	if err != nil {
		return fmt.Errorf("snapshot: install: %w", err)
	}
	if err := batch.Commit(ctx); err != nil {
		return fmt.Errorf("snapshot: install: %w", err)
	}
	return nil
}

// Installed returns the snapshot a replica was installed from, if any.
func Installed(ctx context.Context, store ds.Read, layout crdt.StoreLayout) (*Snapshot, error) {
	b, err := store.Get(ctx, envelopeKey(layout))
	if errors.Is(err, ds.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return Decode(b)
}

// CoveredStore is the datastore a go-ds-crdt instance installed from a
// snapshot runs over: the store itself, except that a block the
// snapshot covers reads as processed, so go-ds-crdt's walks stop at the
// snapshot's past without its markers or blocks (go-ds-crdt asks "is it
// processed" with Has on <ns>/b/<block> before it fetches a link).
type CoveredStore struct {
	ds.Batching
	prefix string
	cov    atomic.Pointer[Coverage]
	// OnProcessed, if set (before go-ds-crdt opens over the store), is
	// called after each processed marker go-ds-crdt writes (one per block
	// it merges), with the block's multihash, on the merging goroutine:
	// it must be quick. Markers written by Install and batches are not
	// reported.
	OnProcessed func(h mh.Multihash)
	// marking is read-held across a marker's write and its OnProcessed,
	// and held by Footprint while it opens its scan: a marker is then
	// either in the scan or reported after it, never both.
	marking sync.RWMutex
}

// Put writes, and reports a processed marker to OnProcessed.
func (s *CoveredStore) Put(ctx context.Context, k ds.Key, v []byte) error {
	ks := k.String()
	if s.OnProcessed == nil || !strings.HasPrefix(ks, s.prefix) {
		return s.Batching.Put(ctx, k, v)
	}
	s.marking.RLock()
	defer s.marking.RUnlock()
	if err := s.Batching.Put(ctx, k, v); err != nil {
		return err
	}
	if h, err := lastMultihash(ks); err == nil {
		s.OnProcessed(h)
	}
	return nil
}

var _ ds.Batching = (*CoveredStore)(nil)

// NewCoveredStore wraps store for the go-ds-crdt instance layout names,
// with the coverage Install recorded (none: a replica that was never
// installed from a snapshot reads as itself).
func NewCoveredStore(ctx context.Context, store ds.Batching, layout crdt.StoreLayout) (*CoveredStore, error) {
	s := &CoveredStore{Batching: store, prefix: layout.ProcessedPrefix() + "/"}
	b, err := store.Get(ctx, coverageKey(layout))
	switch {
	case errors.Is(err, ds.ErrNotFound):
		s.cov.Store(&Coverage{})
	case err != nil:
		return nil, fmt.Errorf("snapshot: coverage: %w", err)
	default:
		c, ok := CoverageFromBytes(b)
		if !ok {
			return nil, fmt.Errorf("snapshot: coverage: %w", ErrMalformed)
		}
		s.cov.Store(&c)
	}
	return s, nil
}

// Covers reports whether the coverage holds block c (false for a store
// never installed from a snapshot).
func (s *CoveredStore) Covers(c cid.Cid) bool {
	cov := s.cov.Load()
	return cov.Len() > 0 && cov.Has(c.Hash())
}

// Coverage is the coverage the store answers with.
func (s *CoveredStore) Coverage() Coverage { return *s.cov.Load() }

// Has reports a key as present when the store holds it or, for a
// processed marker, when the coverage holds its block.
func (s *CoveredStore) Has(ctx context.Context, k ds.Key) (bool, error) {
	ok, err := s.Batching.Has(ctx, k)
	if ok || err != nil {
		return ok, err
	}
	cov := s.cov.Load()
	if cov.Len() == 0 {
		return false, nil
	}
	ks := k.String()
	if !strings.HasPrefix(ks, s.prefix) {
		return false, nil
	}
	h, err := lastMultihash(ks)
	if err != nil {
		return false, nil
	}
	return cov.Has(h), nil
}
