package store

import (
	"context"
	"path"
	"strings"
	"sync"

	"github.com/google/btree"
	ds "github.com/ipfs/go-datastore"
	dsq "github.com/ipfs/go-datastore/query"
)

// memory is the in-memory datastore: keys in a B-tree, so a prefix query
// visits only the keys under its prefix. go-datastore's MapDatastore scans
// every key for every query, which made each document read of an
// in-memory engine cost the whole store (quadratic in the documents, the
// first cost of a many-engine simulation).
type memory struct {
	mu   sync.RWMutex
	tree *btree.BTreeG[memEntry]
}

type memEntry struct {
	key   string
	value []byte
}

func memLess(a, b memEntry) bool { return a.key < b.key }

func newMemory() *memory {
	return &memory{tree: btree.NewG(16, memLess)}
}

func (m *memory) Get(_ context.Context, k ds.Key) ([]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	e, ok := m.tree.Get(memEntry{key: k.String()})
	if !ok {
		return nil, ds.ErrNotFound
	}
	return e.value, nil
}

func (m *memory) Has(_ context.Context, k ds.Key) (bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.tree.Has(memEntry{key: k.String()}), nil
}

func (m *memory) GetSize(_ context.Context, k ds.Key) (int, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	e, ok := m.tree.Get(memEntry{key: k.String()})
	if !ok {
		return -1, ds.ErrNotFound
	}
	return len(e.value), nil
}

func (m *memory) Put(_ context.Context, k ds.Key, value []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tree.ReplaceOrInsert(memEntry{key: k.String(), value: value})
	return nil
}

func (m *memory) Delete(_ context.Context, k ds.Key) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tree.Delete(memEntry{key: k.String()})
	return nil
}

// Query answers from a snapshot of the keys under q.Prefix taken when it
// is called; the rest of q (filters, orders, offset, limit) is applied as
// go-datastore's naive implementation does.
func (m *memory) Query(_ context.Context, q dsq.Query) (dsq.Results, error) {
	prefix := "/"
	if q.Prefix != "" {
		prefix = q.Prefix
		if prefix[0] != '/' {
			prefix = "/" + prefix
		}
		prefix = path.Clean(prefix)
		if prefix != "/" {
			prefix += "/"
		}
	}
	var entries []dsq.Entry
	m.mu.RLock()
	m.tree.AscendGreaterOrEqual(memEntry{key: prefix}, func(e memEntry) bool {
		if !strings.HasPrefix(e.key, prefix) {
			return false
		}
		ent := dsq.Entry{Key: e.key, Size: len(e.value)}
		if !q.KeysOnly {
			ent.Value = e.value
		}
		entries = append(entries, ent)
		return true
	})
	m.mu.RUnlock()
	rest := q
	rest.Prefix = ""
	return dsq.NaiveQueryApply(rest, dsq.ResultsWithEntries(q, entries)), nil
}

func (m *memory) Sync(context.Context, ds.Key) error { return nil }

func (m *memory) Close() error { return nil }

func (m *memory) Batch(context.Context) (ds.Batch, error) { return ds.NewBasicBatch(m), nil }

var _ ds.Batching = (*memory)(nil)
