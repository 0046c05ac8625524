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
	valuePrefix string              // "<ns>/s/k"
	notify      func(keys []string) // called after commit with changed CRDT keys
}

func newWatchStore(base ds.Batching, ns ds.Key, notify func([]string)) *watchStore {
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
		w.notify([]string{ck})
	}
	return nil
}

func (w *watchStore) Delete(ctx context.Context, k ds.Key) error {
	if err := w.Batching.Delete(ctx, k); err != nil {
		return err
	}
	if ck, ok := w.crdtKey(k); ok {
		w.notify([]string{ck})
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
	w    *watchStore
	mu   sync.Mutex
	keys []string
}

func (b *watchBatch) Put(ctx context.Context, k ds.Key, v []byte) error {
	if err := b.Batch.Put(ctx, k, v); err != nil {
		return err
	}
	b.note(k)
	return nil
}

func (b *watchBatch) Delete(ctx context.Context, k ds.Key) error {
	if err := b.Batch.Delete(ctx, k); err != nil {
		return err
	}
	b.note(k)
	return nil
}

func (b *watchBatch) note(k ds.Key) {
	if ck, ok := b.w.crdtKey(k); ok {
		b.mu.Lock()
		b.keys = append(b.keys, ck)
		b.mu.Unlock()
	}
}

func (b *watchBatch) Commit(ctx context.Context) error {
	if err := b.Batch.Commit(ctx); err != nil {
		return err
	}
	b.mu.Lock()
	keys := b.keys
	b.keys = nil
	b.mu.Unlock()
	if len(keys) > 0 {
		b.w.notify(keys)
	}
	return nil
}
