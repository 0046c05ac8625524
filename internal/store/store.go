package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/go-hclog"
	ds "github.com/ipfs/go-datastore"
	pebbleds "github.com/ipfs/go-ds-pebble"
)

// Store is a peer's local datastore: pebble on disk, with the durability
// levels of durability.go, or a map in memory. It is safe for concurrent
// use; Close ends its background loop and closes the store.
type Store struct {
	ds.Batching
	pebble *pebbleds.Datastore // nil in memory
	wal    *walFS              // pebble's WAL files; nil in memory

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

// Open opens (or creates) the pebble store in dir. Individual writes do
// not sync (go-ds-crdt makes several per delta): callers end each commit
// group with SyncWAL, which is real with syncWrites and deferred to a
// background fsync every walSyncInterval without. Zero sizes are
// DefaultSizes'.
func Open(dir string, syncWrites bool, log hclog.Logger, sizes Sizes) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return nil, fmt.Errorf("store: data directory: %w", err)
	}
	if sizes.MemTable == 0 {
		sizes.MemTable = DefaultSizes.MemTable
	}
	if sizes.Cache == 0 {
		sizes.Cache = DefaultSizes.Cache
	}
	wal := newWALFS(vfs.Default, syncWrites)
	opts := PebbleOptions()
	opts.MemTableSize = sizes.MemTable
	opts.FS = wal
	p, err := pebbleds.NewDatastore(dir,
		pebbleds.WithPebbleWriteOptions(pebble.NoSync), pebbleds.WithPebbleOpts(opts),
		pebbleds.WithCacheSize(sizes.Cache))
	if err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	s := &Store{Batching: p, pebble: p, wal: wal}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	if !syncWrites {
		if log == nil {
			log = hclog.NewNullLogger()
		}
		s.wg.Add(1)
		go s.walSyncLoop(ctx, log)
	}
	return s, nil
}

// PebbleConfig is pebble's Options, named here so that callers handing
// them on need not import pebble.
type PebbleConfig = pebble.Options

// PebbleOptions tunes pebble for go-ds-crdt's access pattern: most of its
// reads are lookups of keys that do not exist (tombstones, processed-block
// markers, priorities of new keys), which bloom filters answer without
// touching sstable blocks.
func PebbleOptions() *pebble.Options {
	o := &pebble.Options{MemTableSize: DefaultSizes.MemTable}
	for i := range o.Levels {
		o.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	return o
}

// SyncWAL makes every write made so far durable, as far as the store's
// durability level promises (see durability.go): pebble buffers
// write-ahead-log records in user space when writes do not sync, so
// without this a killed process loses the writes still in that buffer.
func (s *Store) SyncWAL() error {
	if s.pebble == nil {
		return nil
	}
	return s.pebble.DB.LogData(nil, pebble.Sync)
}

// walSyncLoop fsyncs the write-ahead log in the background when writes do
// not wait for it, bounding what a power loss can take.
func (s *Store) walSyncLoop(ctx context.Context, log hclog.Logger) {
	defer s.wg.Done()
	t := time.NewTicker(walSyncInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.wal.syncDirty(); err != nil {
				log.Error("fsync write-ahead log", "error", err)
			}
		}
	}
}

// Close ends the background fsync and closes the store.
func (s *Store) Close() error {
	s.cancel()
	s.wg.Wait()
	return s.Batching.Close()
}
