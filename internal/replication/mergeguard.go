package replication

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	blockstore "github.com/ipfs/boxo/blockstore"
	dshelp "github.com/ipfs/boxo/datastore/dshelp"
	dag "github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dsq "github.com/ipfs/go-datastore/query"
)

// The merge guard. go-ds-crdt v0.6.8 merges deltas concurrently (its DAG
// workers, and local commits beside them), and its set keeps each key's
// visible value by read-compute-write: putElems reads whether an element
// is tombstoned and the current priority, then writes the value;
// putTombs reads the remaining elements, then writes their best value or
// deletes it. putElems holds a lock, putTombs does not, and each runs in
// its own batch. When a tombstone and the element it removes (or another
// element of the same key) merge at once, the later commit can write what
// it computed from a state the other had already changed: a tombstoned
// element's value comes back (seen in the property test: a late joiner
// that walked two branches at once kept a deleted incarnation's fields,
// and its own delete of the document could not remove them, since their
// elements were already tombstoned), or a live element's value is lost.
// The DAG is the same everywhere; the visible state is not.
//
// The guard sits between go-ds-crdt and its store. It notices when two of
// go-ds-crdt's batches are open at once (or one is open while the guard
// repairs), and after such a batch commits it recomputes the visible value
// of every key the batch touched from the committed elements and
// tombstones, as go-ds-crdt's own rule does (the live element of highest
// priority, ties to the larger value), and writes it where it differs.
// Repairs run one at a time and read what is committed; the repair after
// the last of any overlapping commits sees them all, so the value ends as
// a serial merge would leave it. Batches that never overlap cost nothing
// more than noting their keys.

// mergeGuard wraps the store go-ds-crdt is given.
type mergeGuard struct {
	ds.Batching
	set    string // "<ns>/s": go-ds-crdt's set namespace in the store
	blocks blockstore.Blockstore
	log    hclog.Logger

	mu   sync.Mutex
	open map[*guardBatch]struct{} // go-ds-crdt's batches not committed yet, and running repairs

	repairMu sync.Mutex     // one repair at a time
	repairs  *atomic.Uint64 // values a repair rewrote
}

func newMergeGuard(base ds.Batching, ns string, blocks blockstore.Blockstore, log hclog.Logger, repairs *atomic.Uint64) *mergeGuard {
	if repairs == nil {
		repairs = new(atomic.Uint64)
	}
	return &mergeGuard{
		Batching: base,
		set:      strings.TrimSuffix(ns, "/") + "/s",
		blocks:   blocks,
		log:      log,
		open:     make(map[*guardBatch]struct{}),
		repairs:  repairs,
	}
}

// setKey maps a store key of go-ds-crdt's set (an element, a tombstone, a
// value or a priority) to the CRDT key it belongs to.
func (g *mergeGuard) setKey(k string) (string, bool) {
	rest, ok := strings.CutPrefix(k, g.set+"/")
	if !ok || len(rest) < 2 || rest[1] != '/' {
		return "", false
	}
	switch rest[0] {
	case 's', 't', 'k': // /s<key>/<block>, /t<key>/<block>, /k<key>/{v,p}
	default:
		return "", false
	}
	i := strings.LastIndexByte(rest, '/')
	if i <= 1 {
		return "", false
	}
	return rest[1:i], true
}

// enter registers b (a batch, or a repair) as running: if anything else
// runs, every one of them overlaps.
func (g *mergeGuard) enter(b *guardBatch) {
	g.mu.Lock()
	if len(g.open) > 0 {
		b.overlapped = true
		for o := range g.open {
			o.overlapped = true
		}
	}
	g.open[b] = struct{}{}
	g.mu.Unlock()
}

// leave unregisters b and tells whether it overlapped anything.
func (g *mergeGuard) leave(b *guardBatch) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.open[b]; ok {
		delete(g.open, b)
		close(b.left)
	}
	return b.overlapped
}

// Batch returns a batch whose commit is followed by a repair of its keys
// if it overlapped another.
func (g *mergeGuard) Batch(ctx context.Context) (ds.Batch, error) {
	inner, err := g.Batching.Batch(ctx)
	if err != nil {
		return nil, err
	}
	b := &guardBatch{Batch: inner, g: g, left: make(chan struct{})}
	g.enter(b)
	return b, nil
}

// quietBatch is a batch of deletions that change no visible value (a
// compaction's: dead versions with their tombstones, signatures): it marks
// every batch open beside it as overlapping, so that a merge that read
// its keys half-deleted repairs after itself, and repairs nothing itself.
func (g *mergeGuard) quietBatch(ctx context.Context) (ds.Batch, error) {
	inner, err := g.Batching.Batch(ctx)
	if err != nil {
		return nil, err
	}
	b := &guardBatch{Batch: inner, g: g, left: make(chan struct{}), quiet: true}
	g.enter(b)
	return b, nil
}

// settleBound bounds settle's wait: a batch go-ds-crdt abandoned on an
// error never commits.
const settleBound = time.Minute

// settle returns once every batch open now has committed (or after
// settleBound): a merge running at the time of a compaction's deletions
// has then finished reading.
func (g *mergeGuard) settle(ctx context.Context) error {
	g.mu.Lock()
	var wait []chan struct{}
	for b := range g.open {
		wait = append(wait, b.left)
	}
	g.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, settleBound)
	defer cancel()
	for _, c := range wait {
		select {
		case <-c:
		case <-ctx.Done():
			if err := context.Cause(ctx); !errors.Is(err, context.DeadlineExceeded) {
				return err
			}
			return nil
		}
	}
	return nil
}

// guardBatch is one of go-ds-crdt's batches, with the CRDT keys it
// touches. overlapped is guarded by the guard's mu.
type guardBatch struct {
	ds.Batch
	g          *mergeGuard
	mu         sync.Mutex
	written    []string // store keys put or deleted, parsed only for a repair
	overlapped bool
	done       bool
	quiet      bool          // repairs nothing itself (quietBatch)
	left       chan struct{} // closed when it leaves the guard
}

func (b *guardBatch) note(k ds.Key) {
	b.mu.Lock()
	b.written = append(b.written, k.String())
	b.mu.Unlock()
}

func (b *guardBatch) Put(ctx context.Context, k ds.Key, v []byte) error {
	b.note(k)
	return b.Batch.Put(ctx, k, v)
}

func (b *guardBatch) Delete(ctx context.Context, k ds.Key) error {
	b.note(k)
	return b.Batch.Delete(ctx, k)
}

// Commit commits, then repairs the batch's keys if it overlapped another
// batch or a repair.
func (b *guardBatch) Commit(ctx context.Context) error {
	err := b.Batch.Commit(ctx)
	b.mu.Lock()
	if b.done {
		b.mu.Unlock()
		return err
	}
	b.done = true
	written := b.written
	b.mu.Unlock()
	if overlapped := b.g.leave(b); err != nil || !overlapped || b.quiet {
		return err
	}
	keys := make(map[string]struct{})
	for _, k := range written {
		if ck, ok := b.g.setKey(k); ok {
			keys[ck] = struct{}{}
		}
	}
	if len(keys) > 0 {
		b.g.repair(ctx, keys)
	}
	return nil
}

// repair recomputes the visible value of each key from what is committed
// and rewrites it where it differs. A key whose elements' blocks are not
// all local is left as it is (go-ds-crdt could not have judged it either).
func (g *mergeGuard) repair(ctx context.Context, keys map[string]struct{}) {
	g.repairMu.Lock()
	defer g.repairMu.Unlock()
	self := &guardBatch{g: g, left: make(chan struct{})}
	g.enter(self) // batches that open meanwhile repair after themselves
	defer g.leave(self)
	for k := range keys {
		if err := g.repairKey(ctx, k); err != nil && ctx.Err() == nil {
			g.log.Debug("merge guard: repair", "key", k, "error", err)
		}
	}
}

func (g *mergeGuard) repairKey(ctx context.Context, key string) error {
	best, prio, err := g.bestValue(ctx, key)
	if err != nil {
		return err
	}
	valueK := ds.NewKey(g.set + "/k" + key + "/v")
	prioK := ds.NewKey(g.set + "/k" + key + "/p")
	cur, err := g.Batching.Get(ctx, valueK)
	if err != nil && err != ds.ErrNotFound {
		return err
	}
	var curPrio uint64
	if raw, err := g.Batching.Get(ctx, prioK); err == nil {
		if p, n := binary.Uvarint(raw); n > 0 && p > 0 {
			curPrio = p - 1
		}
	} else if err != ds.ErrNotFound {
		return err
	}
	if best == nil {
		if cur == nil {
			return nil
		}
		g.noteRepair()
		b, err := g.Batching.Batch(ctx)
		if err != nil {
			return err
		}
		if err := b.Delete(ctx, valueK); err != nil {
			return err
		}
		if err := b.Delete(ctx, prioK); err != nil {
			return err
		}
		return b.Commit(ctx)
	}
	if cur != nil && bytes.Equal(cur, best) && curPrio == prio {
		return nil
	}
	g.noteRepair()
	b, err := g.Batching.Batch(ctx)
	if err != nil {
		return err
	}
	if err := b.Put(ctx, valueK, best); err != nil {
		return err
	}
	if err := b.Put(ctx, prioK, binary.AppendUvarint(nil, prio+1)); err != nil {
		return err
	}
	return b.Commit(ctx)
}

func (g *mergeGuard) noteRepair() { g.repairs.Add(1) }

// bestValue is go-ds-crdt's rule over what is committed: among the
// key's elements that are not tombstoned, the one of highest priority,
// and among those the largest value. nil when none is live.
func (g *mergeGuard) bestValue(ctx context.Context, key string) ([]byte, uint64, error) {
	prefix := g.set + "/s" + key + "/"
	res, err := g.Batching.Query(ctx, dsq.Query{Prefix: prefix, KeysOnly: true})
	if err != nil {
		return nil, 0, err
	}
	defer res.Close()
	var best []byte
	var bestPrio uint64
	for r := range res.Next() {
		if r.Error != nil {
			return nil, 0, r.Error
		}
		id := strings.TrimPrefix(r.Key, prefix)
		if id == "" || strings.Contains(id, "/") {
			continue // an element of a longer key
		}
		tomb, err := g.Batching.Has(ctx, ds.NewKey(g.set+"/t"+key+"/"+id))
		if err != nil {
			return nil, 0, err
		}
		if tomb {
			continue
		}
		mh, err := dshelp.DsKeyToMultihash(ds.NewKey(id))
		if err != nil {
			return nil, 0, err
		}
		blk, err := g.blocks.Get(ctx, cid.NewCidV1(cid.DagProtobuf, mh))
		if err != nil {
			return nil, 0, err
		}
		nd, err := dag.DecodeProtobufBlock(blk)
		if err != nil {
			return nil, 0, err
		}
		d, err := decodeDelta(nd)
		if err != nil {
			return nil, 0, err
		}
		if d.Priority < bestPrio {
			continue
		}
		var v []byte
		for _, e := range d.GetElements() {
			if e.GetKey() == key && bytes.Compare(v, e.GetValue()) < 0 {
				v = e.GetValue()
			}
		}
		if d.Priority > bestPrio || bytes.Compare(best, v) < 0 {
			best, bestPrio = v, d.Priority
		}
	}
	return best, bestPrio, nil
}
