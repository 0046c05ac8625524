package replication

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	mh "github.com/multiformats/go-multihash"

	"github.com/latticedb/lattice/crdt"
	"github.com/latticedb/lattice/internal/snapshot"
)

// Compaction of an open replica (see internal/snapshot and
// docs/snapshots.md). A replica compacts while it keeps merging local
// writes and remote deltas: snapshot.CompactLive scans and deletes on the
// compacting goroutine, its deletions go through the merge guard (a merge
// that read a key half-deleted repairs after itself), and blocks go only
// once every merge that was running has finished. Nothing it does holds a
// lock a merge or a local write takes.
//
// Automatic compaction (AutoCompact) runs on the replica's own goroutine,
// woken by the merges it counts; the same goroutine measures the
// history's footprint once at open, for History.

// AutoCompact says when a replica compacts by itself: once the blocks it
// merged since its last compaction (or since it opened) reach Factor times
// its live documents, and at least MinBlocks. Counted, not timed: the
// same history triggers the same compactions.
type AutoCompact struct {
	// Factor is how many times the live state the new history may grow
	// to before a compaction; 0 never compacts by itself.
	Factor float64
	// MinBlocks is the least history worth a compaction.
	MinBlocks int
	// Live counts the live documents. Required when Factor > 0; called on
	// the replica's goroutine.
	Live func() int
}

// ErrCompacting is returned for a snapshot asked of a replica while it
// compacts.
var ErrCompacting = errors.New("replication: replica is compacting")

// History is what a replica's history holds: its blocks and bytes
// (measured at open, then kept current by counting merged blocks and by
// each compaction's result), and the snapshot it stands on, if any. The
// measurement at open is exact; a compaction's "after" may miss or count
// twice a block merged during its own final scan.
type History struct {
	// Measured is false until the first measurement finished.
	Measured bool
	snapshot.Footprint
	// Merged is how many blocks merged since the last compaction (or
	// since the replica opened): what AutoCompact counts.
	Merged int64
	// Last is the snapshot the replica was installed from or last
	// compacted to; nil if none.
	Last *snapshot.Snapshot
}

// compactor is a replica's compaction state. mu is held by a compaction
// and by Snapshot (one at a time: a snapshot produced while a compaction
// deletes markers could miss blocks).
type compactor struct {
	mu   sync.Mutex
	kick chan struct{} // a merge happened: check AutoCompact

	measured atomic.Bool
	blocks   atomic.Int64 // history blocks
	bytes    atomic.Int64 // and bytes
	merged   atomic.Int64 // blocks merged since the last compaction
	last     atomic.Pointer[snapshot.Snapshot]
	runs     atomic.Uint64 // compactions finished
}

// onProcessed counts a block go-ds-crdt merged (CoveredStore.OnProcessed).
func (r *Replica) onProcessed(h mh.Multihash) {
	c := &r.compact
	c.blocks.Add(1)
	c.merged.Add(1)
	if n, err := r.n.bstore.GetSize(r.ctx, cid.NewCidV1(cid.DagProtobuf, h)); err == nil {
		c.bytes.Add(int64(n))
	}
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// History reports what the replica's history holds.
func (r *Replica) History() History {
	c := &r.compact
	return History{
		Measured:  c.measured.Load(),
		Footprint: snapshot.Footprint{Blocks: int(c.blocks.Load()), Bytes: c.bytes.Load()},
		Merged:    c.merged.Load(),
		Last:      c.last.Load(),
	}
}

// Compactions is how many compactions of this replica finished since it
// opened.
func (r *Replica) Compactions() uint64 { return r.compact.runs.Load() }

// Compact compacts the replica while it stays open and keeps merging:
// see snapshot.CompactLive. The snapshot it stands on is signed by this
// node. A second call waits for the first. It fails with ErrClosed once
// the replica is closed, and stops (leaving a replica that reads the
// same, see snapshot.Compact) when ctx ends or the replica closes.
func (r *Replica) Compact(ctx context.Context) (*snapshot.Compaction, error) {
	if r.store() == nil {
		return nil, ErrClosed
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(r.ctx, cancel)()
	return r.compactNow(ctx)
}

func (r *Replica) compactNow(ctx context.Context) (*snapshot.Compaction, error) {
	key := r.n.host.Peerstore().PrivKey(r.n.host.ID())
	if key == nil {
		return nil, fmt.Errorf("%w: no private key for this host", ErrSnapshot)
	}
	c := &r.compact
	c.mu.Lock()
	defer c.mu.Unlock()
	merged := c.merged.Load()
	layout := crdt.NewStoreLayout(r.cfg.Namespace.String())
	res, err := snapshot.CompactLive(ctx, r.covered, layout, r.n.bstore, key, r.cfg.Database, r.n.now(),
		snapshot.Live{Deletes: quietStore{r.guard}, Settle: r.guard.settle})
	if err != nil {
		return nil, fmt.Errorf("replication: compact: %w", err)
	}
	// What merged during the compaction is counted on top of its result.
	since := c.merged.Add(-merged)
	c.blocks.Store(int64(res.After.Blocks) + since)
	c.bytes.Store(res.After.Bytes)
	c.measured.Store(true)
	if res.Snapshot != nil {
		c.last.Store(res.Snapshot)
	}
	c.runs.Add(1)
	return res, nil
}

// quietStore batches a compaction's deletions through the merge guard.
type quietStore struct{ g *mergeGuard }

func (q quietStore) Batch(ctx context.Context) (ds.Batch, error) { return q.g.quietBatch(ctx) }

// measure measures the history once, at open, off the write path.
func (r *Replica) measure(ctx context.Context) {
	c := &r.compact
	runs := c.runs.Load()
	var blocks, bytes int64
	f, err := r.covered.Footprint(ctx, crdt.NewStoreLayout(r.cfg.Namespace.String()), r.n.bstore, func() {
		blocks, bytes = c.blocks.Load(), c.bytes.Load() // what the scan holds already
	})
	if err != nil {
		r.cfg.Log.Debug("measure history", "error", err)
		return
	}
	// Not under mu, so that snapshots are served meanwhile; a compaction
	// that finished meanwhile measured after it.
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.runs.Load() != runs {
		return
	}
	// Blocks merged since the scan opened are counted on top of it.
	c.blocks.Store(int64(f.Blocks) + c.blocks.Load() - blocks)
	c.bytes.Store(f.Bytes + c.bytes.Load() - bytes)
	c.measured.Store(true)
}

// due reports whether AutoCompact asks for a compaction now.
func (a AutoCompact) due(merged int64) bool {
	if a.Factor <= 0 || a.Live == nil || merged < int64(a.MinBlocks) {
		return false
	}
	return float64(merged) >= a.Factor*float64(max(a.Live(), 1))
}

// runCompactor is the replica's compaction goroutine: it measures the
// history, then compacts whenever AutoCompact is due, until the replica
// closes.
func (r *Replica) runCompactor() {
	r.measure(r.ctx)
	auto := r.cfg.AutoCompact
	if auto.Factor <= 0 {
		return
	}
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-r.compact.kick:
		}
		if !auto.due(r.compact.merged.Load()) {
			continue
		}
		start := r.n.now()
		res, err := r.compactNow(r.ctx)
		if err != nil {
			if r.ctx.Err() == nil {
				r.cfg.Log.Warn("automatic compaction failed", "error", err)
			}
			continue
		}
		r.cfg.Log.Debug("compacted", "blocks_before", res.Before.Blocks, "blocks_after", res.After.Blocks,
			"bytes_before", res.Before.Bytes, "bytes_after", res.After.Bytes, "took", r.n.now().Sub(start).Round(time.Millisecond))
	}
}
