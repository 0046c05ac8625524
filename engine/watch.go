package engine

import (
	"context"
	"strings"
	"sync"

	ds "github.com/ipfs/go-datastore"
)

// watchStore wraps the datastore one go-ds-crdt instance writes to and
// reports, after each write is durable in the underlying store, which CRDT
// keys changed their visible value. go-ds-crdt's own Put/Delete hooks fire
// before its batches commit, so a reader woken by them could read the old
// value and miss the change for good; reporting after commit cannot.
//
// go-ds-crdt keeps the visible value of key K at <ns>/s/k/K/v; only writes
// and deletes of those paths are reported.
type watchStore struct {
	ds.Batching
	valuePrefix string                 // "<ns>/s/k"
	notify      func(changes []change) // called after commit with changed CRDT keys
}

// change is a committed change of a CRDT key's visible value.
type change struct {
	key     string
	value   []byte // nil when deleted
	deleted bool
}

func newWatchStore(base ds.Batching, ns ds.Key, notify func([]change)) *watchStore {
	return &watchStore{Batching: base, valuePrefix: ns.String() + "/s/k", notify: notify}
}

// crdtKey maps a datastore key to the CRDT key whose value it holds.
func (w *watchStore) crdtKey(k ds.Key) (string, bool) {
	s := k.String()
	if !strings.HasPrefix(s, w.valuePrefix) || !strings.HasSuffix(s, "/v") {
		return "", false
	}
	inner := s[len(w.valuePrefix) : len(s)-2]
	if inner == "" || inner[0] != '/' {
		return "", false
	}
	return inner, true
}

func (w *watchStore) Put(ctx context.Context, k ds.Key, v []byte) error {
	if err := w.Batching.Put(ctx, k, v); err != nil {
		return err
	}
	if ck, ok := w.crdtKey(k); ok {
		w.notify([]change{{key: ck, value: v}})
	}
	return nil
}

func (w *watchStore) Delete(ctx context.Context, k ds.Key) error {
	if err := w.Batching.Delete(ctx, k); err != nil {
		return err
	}
	if ck, ok := w.crdtKey(k); ok {
		w.notify([]change{{key: ck, deleted: true}})
	}
	return nil
}

func (w *watchStore) Batch(ctx context.Context) (ds.Batch, error) {
	b, err := w.Batching.Batch(ctx)
	if err != nil {
		return nil, err
	}
	return &watchBatch{Batch: b, w: w}, nil
}

type watchBatch struct {
	ds.Batch
	w       *watchStore
	mu      sync.Mutex
	changes []change
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
		b.changes = append(b.changes, change{key: ck, value: v, deleted: deleted})
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
