package store

import (
	"context"
	"fmt"
	"math"
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
//
// It is also sized for many replicas in one process: a key's leading
// segments (its namespace: a database's "/db/<cid>", go-ds-crdt's key
// kind, a collection or a writer) are stored once, interned and shared by
// every key under them, and the rest of the key and the value are one
// string of exactly their size (a caller's over-sized or shared buffer is
// never retained). Like pebble, reads return copies of values, which the
// caller owns.
type memory struct {
	mu   sync.RWMutex
	tree *btree.BTreeG[memEntry]
	ns   map[string]*memNS // interned namespaces, by their string
}

// memNS is an interned namespace and how many stored keys use it.
type memNS struct {
	s    string
	refs int
}

// memEntry is one stored key, ns.s+kv[:klen], and its value, kv[klen:].
// A probe (a key being looked up) has only the key.
type memEntry struct {
	ns   *memNS
	kv   string
	klen uint32
}

func (e memEntry) rest() string { return e.kv[:e.klen] }

// value returns a copy of the entry's value.
func (e memEntry) value() []byte { return []byte(e.kv[e.klen:]) }

func (e memEntry) size() int { return len(e.kv) - int(e.klen) }

// nsSegments is how many leading segments of a key make its namespace
// (never the whole key): enough for go-ds-crdt's keys of our documents,
// "/db/<cid>/s/k/d/<collection>", and of our signatures,
// "/db/<cid>/s/s/s/<writer>".
const nsSegments = 6

// splitKey splits a key into its namespace and the rest: the namespace is
// up to nsSegments leading segments, and never the last one.
func splitKey(k string) (ns, rest string) {
	last := strings.LastIndexByte(k, '/')
	if last <= 0 {
		return "", k
	}
	end, n := 0, 0
	for i := 1; i < last && n < nsSegments; i++ {
		if k[i] == '/' {
			end, n = i, n+1
		}
	}
	if n < nsSegments {
		end = last // fewer segments: all but the last
	}
	return k[:end], k[end:]
}

// compareKeys compares a1+a2 with b1+b2 byte-wise without building them.
func compareKeys(a1, a2, b1, b2 string) int {
	for {
		if len(a1) == 0 {
			a1, a2 = a2, ""
		}
		if len(b1) == 0 {
			b1, b2 = b2, ""
		}
		if len(a1) == 0 || len(b1) == 0 {
			return len(a1) - len(b1) // the exhausted one is smaller; both: equal
		}
		n := min(len(a1), len(b1))
		if c := strings.Compare(a1[:n], b1[:n]); c != 0 {
			return c
		}
		a1, b1 = a1[n:], b1[n:]
	}
}

func nsString(ns *memNS) string {
	if ns == nil {
		return ""
	}
	return ns.s
}

func memLess(a, b memEntry) bool {
	if a.ns == b.ns {
		return a.rest() < b.rest()
	}
	return compareKeys(nsString(a.ns), a.rest(), nsString(b.ns), b.rest()) < 0
}

func (e memEntry) key() string { return nsString(e.ns) + e.rest() }

// probeOf is the entry that stands for key ns.s+rest in lookups.
func probeOf(ns *memNS, rest string) memEntry {
	return memEntry{ns: ns, kv: rest, klen: uint32(len(rest))}
}

// NewMemory returns an empty in-memory datastore: keys in a B-tree, safe
// for concurrent use. Reads return copies; Sync and Close do nothing.
func NewMemory() ds.Batching { return newMemory() }

func newMemory() *memory {
	return &memory{tree: btree.NewG(16, memLess), ns: make(map[string]*memNS)}
}

// probe is an entry to look k up with (it allocates nothing: the rest is
// a substring of k); ok is false when no stored key can equal k (its
// namespace is not interned), and the entry must then not be used: it
// stands for another key.
func (m *memory) probe(k string) (e memEntry, ok bool) {
	ns, rest := splitKey(k)
	if ns == "" {
		return probeOf(nil, rest), true
	}
	n := m.ns[ns]
	return probeOf(n, rest), n != nil
}

func (m *memory) lookup(k ds.Key) (memEntry, bool) {
	p, ok := m.probe(k.String())
	if !ok {
		return memEntry{}, false
	}
	return m.tree.Get(p)
}

func (m *memory) Get(_ context.Context, k ds.Key) ([]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	e, ok := m.lookup(k)
	if !ok {
		return nil, ds.ErrNotFound
	}
	return e.value(), nil
}

func (m *memory) Has(_ context.Context, k ds.Key) (bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	_, ok := m.lookup(k)
	return ok, nil
}

func (m *memory) GetSize(_ context.Context, k ds.Key) (int, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	e, ok := m.lookup(k)
	if !ok {
		return -1, ds.ErrNotFound
	}
	return e.size(), nil
}

func (m *memory) Put(_ context.Context, k ds.Key, value []byte) error {
	ns, rest := splitKey(k.String())
	if uint64(len(rest)) > math.MaxUint32 {
		return fmt.Errorf("store: key of %d bytes", len(k.String()))
	}
	// One string of exactly both, the store's own (a concatenation would
	// return rest itself for an empty value: a substring of the caller's key).
	var b strings.Builder
	b.Grow(len(rest) + len(value))
	b.WriteString(rest)
	b.Write(value)
	kv := b.String()
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.lookup(k); ok {
		old.kv = kv // the same key: its namespace stays
		m.tree.ReplaceOrInsert(old)
		return nil
	}
	e := memEntry{kv: kv, klen: uint32(len(rest))}
	if ns != "" {
		n := m.ns[ns]
		if n == nil {
			n = &memNS{s: strings.Clone(ns)}
			m.ns[n.s] = n
		}
		n.refs++
		e.ns = n
	}
	m.tree.ReplaceOrInsert(e)
	return nil
}

func (m *memory) Delete(_ context.Context, k ds.Key) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.probe(k.String())
	if !ok {
		return nil
	}
	old, ok := m.tree.Delete(p)
	if ok && old.ns != nil {
		if old.ns.refs--; old.ns.refs == 0 {
			delete(m.ns, old.ns.s)
		}
	}
	return nil
}

// hasPrefix tells whether e's key starts with prefix.
func (e memEntry) hasPrefix(prefix string) bool {
	ns := nsString(e.ns)
	if len(prefix) <= len(ns) {
		return strings.HasPrefix(ns, prefix)
	}
	return strings.HasPrefix(prefix, ns) && strings.HasPrefix(e.rest(), prefix[len(ns):])
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
	m.tree.AscendGreaterOrEqual(probeOf(nil, prefix), func(e memEntry) bool {
		if !e.hasPrefix(prefix) {
			return false
		}
		ent := dsq.Entry{Key: e.key(), Size: e.size()}
		if !q.KeysOnly {
			ent.Value = e.value()
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
