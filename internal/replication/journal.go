package replication

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/ipfs/boxo/blockstore"
	dshelp "github.com/ipfs/boxo/datastore/dshelp"
	dag "github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dsq "github.com/ipfs/go-datastore/query"
)

// Journal makes a remote merge safe to interrupt. go-ds-crdt merges a
// branch from its head down, marking each node processed as it goes, and
// records the branch's head only when it reaches known history. A process
// killed in between leaves the top of the branch marked processed, the
// rest unmerged and no head that leads to it: when the head is announced
// again it is skipped as known, and the replica never merges the rest
// (it "stops receiving for good").
//
// The broadcaster writes the head it hands go-ds-crdt to the journal
// first and removes it when go-ds-crdt asks for the next one (go-ds-crdt
// processes one broadcast head at a time, synchronously, unless
// MultiHeadProcessing is set, which Lattice never does). The store's
// writes reach its write-ahead log in order, so after a crash a journal
// entry is there whenever any of its branch's markers are. Recover, run
// before go-ds-crdt opens the store, finds such entries: an interrupted
// branch becomes a head again and the store is marked dirty, so
// go-ds-crdt's repair (which runs at start when the store is dirty)
// merges what is missing below it.
//
// Recover reads and writes go-ds-crdt v0.6.8's own keys (heads under
// <ns>/h, processed markers under <ns>/b, the dirty bit at <ns>/d); a test
// kills a receiving replica mid-merge to pin that this still works.
type Journal struct {
	store ds.Datastore
	ns    ds.Key // the go-ds-crdt namespace
	pre   ds.Key // where entries live: <ns>/l/inflight
}

// NewJournal returns the journal of the go-ds-crdt instance at ns.
func NewJournal(store ds.Datastore, ns ds.Key) *Journal {
	return &Journal{store: store, ns: ns, pre: ns.ChildString("l").ChildString("inflight")}
}

func (j *Journal) key(c cid.Cid) ds.Key { return j.pre.ChildString(c.String()) }

// Begin records that go-ds-crdt is about to merge the branch headed by c.
func (j *Journal) Begin(ctx context.Context, c cid.Cid) error {
	return j.store.Put(ctx, j.key(c), nil)
}

// End records that go-ds-crdt is done with the branch headed by c.
func (j *Journal) End(ctx context.Context, c cid.Cid) error {
	return j.store.Delete(ctx, j.key(c))
}

// Recover repairs what an interrupted merge left, reading blocks from
// blocks, and returns the journaled heads that were never started, to be
// handed to go-ds-crdt again. It must run before go-ds-crdt opens the
// store.
func (j *Journal) Recover(ctx context.Context, blocks blockstore.Blockstore) (retry []cid.Cid, err error) {
	res, err := j.store.Query(ctx, dsq.Query{Prefix: j.pre.String(), KeysOnly: true})
	if err != nil {
		return nil, fmt.Errorf("replication: read journal: %w", err)
	}
	entries, err := res.Rest()
	if err != nil {
		return nil, fmt.Errorf("replication: read journal: %w", err)
	}
	for _, en := range entries {
		k := ds.NewKey(en.Key)
		c, perr := cid.Decode(k.BaseNamespace())
		if perr == nil {
			var started bool
			if started, err = j.repair(ctx, blocks, c); err != nil {
				return nil, err
			}
			if !started {
				retry = append(retry, c)
			}
		}
		if err := j.store.Delete(ctx, k); err != nil {
			return nil, fmt.Errorf("replication: clear journal: %w", err)
		}
	}
	return retry, nil
}

// repair makes an interrupted branch at c a head again and marks the
// store dirty; started is false when go-ds-crdt never began it.
func (j *Journal) repair(ctx context.Context, blocks blockstore.Blockstore, c cid.Cid) (started bool, err error) {
	mh := dshelp.MultihashToDsKey(c.Hash())
	processed, err := j.store.Has(ctx, j.ns.ChildString("b").Child(mh))
	if err != nil || !processed {
		return false, err
	}
	headKey := j.ns.ChildString("h").Child(mh)
	if isHead, err := j.store.Has(ctx, headKey); err != nil || isHead {
		return true, err
	}
	blk, err := blocks.Get(ctx, c)
	if err != nil {
		return true, fmt.Errorf("replication: interrupted head %s: %w", c, err)
	}
	nd, err := dag.DecodeProtobufBlock(blk)
	if err != nil {
		return true, fmt.Errorf("replication: interrupted head %s: %w", c, err)
	}
	d, err := decodeDelta(nd)
	if err != nil {
		return true, fmt.Errorf("replication: interrupted head %s: %w", c, err)
	}
	height := binary.AppendUvarint(nil, d.GetPriority())
	if err := j.store.Put(ctx, headKey, height); err != nil {
		return true, err
	}
	return true, j.store.Put(ctx, j.ns.ChildString("d"), nil)
}
