package store

import (
	"context"
	"sync"

	ds "github.com/ipfs/go-datastore"
)

// Store is a peer's local datastore: pebble on disk, with the durability
// levels of durability.go, or a map in memory. It is safe for concurrent
// use; Close ends its background loop and closes the store.
type Store struct {
	ds.Batching
	syncWAL func() error // pebble's SyncWAL; nil in memory
	wal     *walFS       // pebble's WAL files; nil in memory

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// InMemory returns a store that keeps everything in memory.
func InMemory() *Store {
	return &Store{Batching: newMemory(), cancel: func() {}}
}

// Sizes bound the memory of one pebble store: its largest memtable (pebble
// starts small and doubles up to it) and its block cache. A memtable holds
// the latest writes until they are flushed to an sstable, so it bounds
// how much a burst of writes costs in memory; the cache holds sstable
// blocks read.
type Sizes struct {
	MemTable uint64
	Cache    int64
}

// DefaultSizes are for one store per process with room to spare.
var DefaultSizes = Sizes{MemTable: 64 << 20, Cache: 128 << 20}

// SyncWAL makes every write made so far durable, as far as the store's
// durability level promises (see durability.go): pebble buffers
// write-ahead-log records in user space when writes do not sync, so
// without this a killed process loses the writes still in that buffer.
func (s *Store) SyncWAL() error {
	if s.syncWAL == nil {
		return nil
	}
	return s.syncWAL()
}

// Close ends the background fsync and closes the store.
func (s *Store) Close() error {
	s.cancel()
	s.wg.Wait()
	return s.Batching.Close()
}

// Wrap returns a store over d, which stays its caller's: Close leaves d
// open, and SyncWAL is d's Sync of every key (a datastore that returns
// writes before they are durable, as the IndexedDB one does, makes them
// durable there). For a datastore an embedder owns: a test's store that
// outlives an engine's restart, a browser's IndexedDB.
func Wrap(d ds.Batching) *Store {
	return &Store{
		Batching: borrowed{d},
		syncWAL:  func() error { return d.Sync(context.Background(), ds.NewKey("/")) },
		cancel:   func() {},
	}
}

// borrowed is a datastore its user must not close.
type borrowed struct{ ds.Batching }

func (borrowed) Close() error { return nil }
