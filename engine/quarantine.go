package engine

import (
	"container/list"
	"context"
	"sync"

	"github.com/ipfs/boxo/blockstore"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

// maxQuarantineBytes bounds the memory held by blocks from the network
// that no access controller has judged yet.
const maxQuarantineBytes = 32 << 20

// quarantine is the blockstore the engine fetches remote blocks through.
// A block that arrives from the network (inline in a broadcast, or from
// bitswap) is held in memory, not written to disk, until validatingDAG has
// verified the delta it holds and its author's right to write; admit then
// stores it. Blocks that are never admitted (refused deltas, junk) are
// evicted oldest first once the quarantine holds maxQuarantineBytes, so a
// peer that may not write cannot fill a replica's disk or its memory.
//
// Reads see both the quarantine and the store beneath it. Writes of the
// engine's own blocks do not come through here: they go straight to the
// store.
type quarantine struct {
	blockstore.Blockstore // the persistent store, for reads and admitted blocks

	// onAdmit, if set, is told of each block admitted to the store (the
	// engine tells bitswap, which can then serve it to peers that want it).
	onAdmit func(context.Context, blocks.Block)

	mu    sync.Mutex
	held  map[cid.Cid]*list.Element // of blocks.Block
	order *list.List                // oldest first
	size  int
	max   int
}

func newQuarantine(store blockstore.Blockstore, max int) *quarantine {
	return &quarantine{Blockstore: store, held: make(map[cid.Cid]*list.Element), order: list.New(), max: max}
}

// Put holds a block from the network until it is admitted. A block
// already stored is not held again: rebroadcasts resend stored heads with
// their blocks, and go-ds-crdt skips those without judging them anew.
func (q *quarantine) Put(ctx context.Context, b blocks.Block) error {
	return q.PutMany(ctx, []blocks.Block{b})
}

// PutMany holds blocks from the network until they are admitted.
func (q *quarantine) PutMany(ctx context.Context, bs []blocks.Block) error {
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

func (q *quarantine) hold(b blocks.Block) {
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

func (q *quarantine) drop(el *list.Element) {
	b := q.order.Remove(el).(blocks.Block)
	delete(q.held, b.Cid())
	q.size -= len(b.RawData())
}

func (q *quarantine) peek(c cid.Cid) (blocks.Block, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if el, ok := q.held[c]; ok {
		return el.Value.(blocks.Block), true
	}
	return nil, false
}

// Get returns a held block, or the stored one.
func (q *quarantine) Get(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	if b, ok := q.peek(c); ok {
		return b, nil
	}
	return q.Blockstore.Get(ctx, c)
}

// Has reports whether a block is held or stored.
func (q *quarantine) Has(ctx context.Context, c cid.Cid) (bool, error) {
	if _, ok := q.peek(c); ok {
		return true, nil
	}
	return q.Blockstore.Has(ctx, c)
}

// GetSize returns the size of a held or stored block.
func (q *quarantine) GetSize(ctx context.Context, c cid.Cid) (int, error) {
	if b, ok := q.peek(c); ok {
		return len(b.RawData()), nil
	}
	return q.Blockstore.GetSize(ctx, c)
}

// DeleteBlock forgets a block, held or stored.
func (q *quarantine) DeleteBlock(ctx context.Context, c cid.Cid) error {
	q.forget(c)
	return q.Blockstore.DeleteBlock(ctx, c)
}

func (q *quarantine) forget(c cid.Cid) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if el, ok := q.held[c]; ok {
		q.drop(el)
	}
}

// admit stores a judged block and releases it from the quarantine. The
// caller passes the block it judged: it may have been evicted meanwhile.
func (q *quarantine) admit(ctx context.Context, b blocks.Block) error {
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

// reject drops a block whose delta was refused.
func (q *quarantine) reject(c cid.Cid) { q.forget(c) }

// heldBytes reports the memory held, for stats and tests.
func (q *quarantine) heldBytes() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.size
}

var _ blockstore.Blockstore = (*quarantine)(nil)

// ipld.Node is a blocks.Block: validatingDAG admits the nodes it judged.
var _ blocks.Block = ipld.Node(nil)
