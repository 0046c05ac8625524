package readmodel

import (
	"context"
	"sync"

	ds "github.com/ipfs/go-datastore"

	"github.com/latticedb/lattice/crdt"
)

// WatchStore wraps the datastore one go-ds-crdt instance writes to and
// reports, after each write is durable in the underlying store, which CRDT
// keys changed their visible value. go-ds-crdt's own Put/Delete hooks fire
// before its batches commit, so a reader woken by them could read the old
// value and miss the change for good; reporting after commit cannot.
//
// Only writes and deletes of visible values (crdt.StoreLayout) are
// reported.
type WatchStore struct {
	ds.Batching
	layout crdt.StoreLayout       // where go-ds-crdt keeps visible values
	notify func(changes []Change) // called after commit with changed CRDT keys
}

// Change is a committed change of a CRDT key's visible value.
type Change struct {
	Key     string // the CRDT key
	Value   []byte // the new value; nil when deleted
	Deleted bool
}

// NewWatchStore wraps base, the store of the go-ds-crdt instance at ns.
// notify is called, on the committing goroutine and after the commit, with
// the CRDT keys whose visible value the commit changed; it must not block
// for long nor write to the store.
func NewWatchStore(base ds.Batching, ns ds.Key, notify func([]Change)) *WatchStore {
	return &WatchStore{Batching: base, layout: crdt.NewStoreLayout(ns.String()), notify: notify}
}

// crdtKey maps a datastore key to the CRDT key whose value it holds.
func (w *WatchStore) crdtKey(k ds.Key) (string, bool) {
	return w.layout.CRDTKey(k.String())
}

// Put writes, then reports the change.
func (w *WatchStore) Put(ctx context.Context, k ds.Key, v []byte) error {
	if err := w.Batching.Put(ctx, k, v); err != nil {
		return err
	}
	if ck, ok := w.crdtKey(k); ok {
		w.notify([]Change{{Key: ck, Value: v}})
	}
	return nil
}

// Delete deletes, then reports the change.
func (w *WatchStore) Delete(ctx context.Context, k ds.Key) error {
	if err := w.Batching.Delete(ctx, k); err != nil {
		return err
	}
	if ck, ok := w.crdtKey(k); ok {
		w.notify([]Change{{Key: ck, Deleted: true}})
	}
	return nil
}

// Batch returns a batch that reports its changes once committed.
func (w *WatchStore) Batch(ctx context.Context) (ds.Batch, error) {
	b, err := w.Batching.Batch(ctx)
	if err != nil {
		return nil, err
	}
	return &watchBatch{Batch: b, w: w}, nil
}

type watchBatch struct {
	ds.Batch
	w       *WatchStore
	mu      sync.Mutex
	changes []Change
}

func (b *watchBatch) Put(ctx context.Context, k ds.Key, v []byte) error {
	if err := b.Batch.Put(ctx, k, v); err != nil {
		return err
	}
	b.note(k, v, false)
	return nil
}

func (b *watchBatch) Delete(ctx context.Context, k ds.Key) error {
	if err := b.Batch.Delete(ctx, k); err != nil {
		return err
	}
	b.note(k, nil, true)
	return nil
}

func (b *watchBatch) note(k ds.Key, v []byte, deleted bool) {
	if ck, ok := b.w.crdtKey(k); ok {
		b.mu.Lock()
		b.changes = append(b.changes, Change{Key: ck, Value: v, Deleted: deleted})
		b.mu.Unlock()
	}
}

func (b *watchBatch) Commit(ctx context.Context) error {
	if err := b.Batch.Commit(ctx); err != nil {
		return err
	}
	b.mu.Lock()
	changes := b.changes
	b.changes = nil
	b.mu.Unlock()
	if len(changes) > 0 {
		b.w.notify(changes)
	}
	return nil
}
