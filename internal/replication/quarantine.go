package replication

import (
	"container/list"
	"context"
	"sync"
	"time"

	"github.com/ipfs/boxo/blockstore"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

// MaxQuarantineBytes is the default bound of the memory held by blocks from the network
// that no access controller has judged yet.
const MaxQuarantineBytes = 32 << 20

// Quarantine is the blockstore an engine fetches remote blocks through.
// A block that arrives from the network (inline in a broadcast, or from
// bitswap) is held in memory, not written to disk, until ValidatingDAG has
// verified the delta it holds and its author's right to write; admit then
// stores it. Blocks that are never admitted (refused deltas, junk) are
// evicted oldest first once the quarantine holds its maximum, so a
// peer that may not write cannot fill a replica's disk or its memory.
//
// Reads see both the quarantine and the store beneath it. Writes of the
// engine's own blocks do not come through here: they go straight to the
// store.
type Quarantine struct {
	blockstore.Blockstore // the persistent store, for reads and admitted blocks

	onAdmit func(context.Context, blocks.Block) // nil: nobody is told

	mu    sync.Mutex
	freed chan struct{}             // closed (and replaced) when size shrinks
	held  map[cid.Cid]*list.Element // of blocks.Block
	order *list.List                // oldest first
	size  int
	max   int
}

// NewQuarantine holds at most max bytes of unjudged blocks over store.
// onAdmit, if not nil, is told of each block admitted to the store (an
// engine tells bitswap, which can then serve it to peers that want it); it
// is called on the admitting goroutine and must not block for long.
func NewQuarantine(store blockstore.Blockstore, max int, onAdmit func(context.Context, blocks.Block)) *Quarantine {
	return &Quarantine{Blockstore: store, held: make(map[cid.Cid]*list.Element), order: list.New(), max: max, onAdmit: onAdmit}
}

// Put holds a block from the network until it is admitted. A block
// already stored is not held again: rebroadcasts resend stored heads with
// their blocks, and go-ds-crdt skips those without judging them anew.
func (q *Quarantine) Put(ctx context.Context, b blocks.Block) error {
	return q.PutMany(ctx, []blocks.Block{b})
}

// PutMany holds blocks from the network until they are admitted.
func (q *Quarantine) PutMany(ctx context.Context, bs []blocks.Block) error {
	fresh := make([]blocks.Block, 0, len(bs))
	for _, b := range bs {
		if has, err := q.Blockstore.Has(ctx, b.Cid()); err == nil && has {
			continue
		}
		fresh = append(fresh, b)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, b := range fresh {
		q.hold(b)
	}
	return nil
}

func (q *Quarantine) hold(b blocks.Block) {
	c := b.Cid()
	if _, ok := q.held[c]; ok {
		return
	}
	n := len(b.RawData())
	if n > q.max {
		return // larger than the whole quarantine: fetched again when needed
	}
	for q.size+n > q.max {
		q.drop(q.order.Front())
	}
	q.held[c] = q.order.PushBack(b)
	q.size += n
}

func (q *Quarantine) drop(el *list.Element) {
	b := q.order.Remove(el).(blocks.Block)
	delete(q.held, b.Cid())
	q.size -= len(b.RawData())
	if q.freed != nil {
		close(q.freed)
		q.freed = nil
	}
}

// WaitBelow returns once the quarantine holds at most n bytes, when ctx
// ends (with its error), or after patience without the quarantine
// shrinking (nil: the caller goes on, and eviction bounds the memory).
func (q *Quarantine) WaitBelow(ctx context.Context, n int, patience time.Duration) error {
	timer := time.NewTimer(patience)
	defer timer.Stop()
	for {
		q.mu.Lock()
		if q.size <= n {
			q.mu.Unlock()
			return nil
		}
		if q.freed == nil {
			q.freed = make(chan struct{})
		}
		freed := q.freed
		q.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			return nil
		case <-freed:
			if !timer.Stop() {
				<-timer.C
			}
			timer.Reset(patience)
		}
	}
}

// Max is the most the quarantine holds, in bytes.
func (q *Quarantine) Max() int { return q.max }

func (q *Quarantine) peek(c cid.Cid) (blocks.Block, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if el, ok := q.held[c]; ok {
		return el.Value.(blocks.Block), true
	}
	return nil, false
}

// Get returns a held block, or the stored one.
func (q *Quarantine) Get(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	if b, ok := q.peek(c); ok {
		return b, nil
	}
	return q.Blockstore.Get(ctx, c)
}

// Has reports whether a block is held or stored.
func (q *Quarantine) Has(ctx context.Context, c cid.Cid) (bool, error) {
	if _, ok := q.peek(c); ok {
		return true, nil
	}
	return q.Blockstore.Has(ctx, c)
}

// GetSize returns the size of a held or stored block.
func (q *Quarantine) GetSize(ctx context.Context, c cid.Cid) (int, error) {
	if b, ok := q.peek(c); ok {
		return len(b.RawData()), nil
	}
	return q.Blockstore.GetSize(ctx, c)
}

// DeleteBlock forgets a block, held or stored.
func (q *Quarantine) DeleteBlock(ctx context.Context, c cid.Cid) error {
	q.forget(c)
	return q.Blockstore.DeleteBlock(ctx, c)
}

func (q *Quarantine) forget(c cid.Cid) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if el, ok := q.held[c]; ok {
		q.drop(el)
	}
}

// Admit stores a judged block and releases it from the quarantine. The
// caller passes the block it judged: it may have been evicted meanwhile.
func (q *Quarantine) Admit(ctx context.Context, b blocks.Block) error {
	c := b.Cid()
	_, held := q.peek(c)
	if !held {
		// Most judged blocks were read from disk (already admitted, or our
		// own): a lookup is cheaper than a write.
		if has, err := q.Blockstore.Has(ctx, c); err == nil && has {
			return nil
		}
	}
	if err := q.Blockstore.Put(ctx, b); err != nil {
		return err
	}
	q.forget(c)
	if q.onAdmit != nil {
		q.onAdmit(ctx, b)
	}
	return nil
}

// Reject drops a block whose delta was refused.
func (q *Quarantine) Reject(c cid.Cid) { q.forget(c) }

// HeldBytes reports the memory held, for stats and tests.
func (q *Quarantine) HeldBytes() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.size
}

var _ blockstore.Blockstore = (*Quarantine)(nil)

// ipld.Node is a blocks.Block: ValidatingDAG admits the nodes it judged.
var _ blocks.Block = ipld.Node(nil)
