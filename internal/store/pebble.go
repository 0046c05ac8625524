//go:build !js

package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/go-hclog"
	pebbleds "github.com/ipfs/go-ds-pebble"
)

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
	s := &Store{Batching: p, wal: wal, syncWAL: func() error { return p.DB.LogData(nil, pebble.Sync) }}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	if !syncWrites {
		if log == nil {
			log = hclog.NewNullLogger()
		}
		s.wg.Add(1)
		go s.walSyncLoop(ctx, wal, log)
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

// walSyncLoop fsyncs the write-ahead log in the background when writes do
// not wait for it, bounding what a power loss can take.
func (s *Store) walSyncLoop(ctx context.Context, wal *walFS, log hclog.Logger) {
	defer s.wg.Done()
	t := time.NewTicker(walSyncInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := wal.syncDirty(); err != nil {
				log.Error("fsync write-ahead log", "error", err)
			}
		}
	}
}
