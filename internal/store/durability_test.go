//go:build !js

package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	ds "github.com/ipfs/go-datastore"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/latticedb/lattice/internal/poll"
	"github.com/stretchr/testify/require"
)

// countingFS counts the fsyncs that reach the real file system and can be
// told to fail them.
type countingFS struct {
	vfs.FS
	syncs atomic.Int64
	fail  atomic.Bool
}

func (fs *countingFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, c)
	if err != nil {
		return nil, err
	}
	return &countingFile{File: f, fs: fs}, nil
}

type countingFile struct {
	vfs.File
	fs *countingFS
}

func (f *countingFile) sync() error {
	if f.fs.fail.Load() {
		return errors.New("EIO")
	}
	f.fs.syncs.Add(1)
	return nil
}
func (f *countingFile) Sync() error     { return f.sync() }
func (f *countingFile) SyncData() error { return f.sync() }

func TestWALFSDefersSyncsOfLogFilesOnly(t *testing.T) {
	inner := &countingFS{FS: vfs.NewMem()}
	fs := newWALFS(inner, false)

	wal, err := fs.Create("000002.log", walCategory)
	require.NoError(t, err)
	_, err = wal.Write([]byte("record"))
	require.NoError(t, err)
	require.NoError(t, wal.Sync())
	require.Zero(t, inner.syncs.Load(), "a WAL sync must be deferred")

	require.NoError(t, fs.syncDirty())
	require.EqualValues(t, 1, inner.syncs.Load(), "the background sync must reach the disk")
	require.NoError(t, fs.syncDirty())
	require.EqualValues(t, 1, inner.syncs.Load(), "nothing written since: no fsync")

	// Other files sync as pebble asks.
	sst, err := fs.Create("000003.sst", "pebble-compaction")
	require.NoError(t, err)
	require.NoError(t, sst.Sync())
	require.EqualValues(t, 2, inner.syncs.Load())
	require.NoError(t, sst.Close())

	// Closing a log syncs what was deferred.
	_, err = wal.Write([]byte("more"))
	require.NoError(t, err)
	require.NoError(t, wal.Sync())
	require.EqualValues(t, 2, inner.syncs.Load())
	require.NoError(t, wal.Close())
	require.EqualValues(t, 3, inner.syncs.Load())
	require.NoError(t, fs.syncDirty(), "a closed log is no longer tracked")
}

func TestWALFSSyncEachIsReal(t *testing.T) {
	inner := &countingFS{FS: vfs.NewMem()}
	fs := newWALFS(inner, true)
	wal, err := fs.Create("000002.log", walCategory)
	require.NoError(t, err)
	require.NoError(t, wal.Sync())
	require.NoError(t, wal.SyncData())
	require.EqualValues(t, 2, inner.syncs.Load())
	require.NoError(t, wal.Close())
}

// A failed background fsync must not be forgotten: the kernel may have
// dropped the pages, and pebble must see the error on its next sync.
func TestWALFSBackgroundSyncErrorIsReported(t *testing.T) {
	inner := &countingFS{FS: vfs.NewMem()}
	fs := newWALFS(inner, false)
	wal, err := fs.Create("000002.log", walCategory)
	require.NoError(t, err)
	require.NoError(t, wal.Sync())
	inner.fail.Store(true)
	require.Error(t, fs.syncDirty())
	require.Error(t, wal.Sync(), "the next sync must report the failed fsync")
	inner.fail.Store(false)
	_ = wal.Close()
}

// With the default durability, a pebble store leaves no WAL write
// unsynced for long after writes stop.
func TestStoreSyncsWALInBackground(t *testing.T) {
	ctx := context.Background()
	st, err := Open(filepath.Join(t.TempDir(), "pebble"), false, nil, Sizes{})
	require.NoError(t, err)
	defer func() { require.NoError(t, st.Close()) }()
	for i := 0; i < 20; i++ {
		require.NoError(t, st.Put(ctx, ds.NewKey(fmt.Sprintf("/k/%d", i)), []byte("v")))
		require.NoError(t, st.SyncWAL()) // as each commit group does
	}
	state := func() (files, dirty int) {
		st.wal.mu.Lock()
		defer st.wal.mu.Unlock()
		for f := range st.wal.files {
			files++
			if f.dirty.Load() {
				dirty++
			}
		}
		return files, dirty
	}
	files, _ := state()
	require.NotZero(t, files, "pebble's log must be opened through the walFS")
	require.NotZero(t, st.wal.deferred.Load(), "writes must not wait for fsync by default")
	poll.Eventually(t, 10*time.Second, func() error {
		if _, dirty := state(); dirty != 0 {
			return fmt.Errorf("WAL still unsynced: %d dirty files", dirty)
		}
		return nil
	})
}

// TestWALNotPreallocated: a small store takes about what it holds on
// disk, across restarts. pebble would preallocate every WAL file at 110% of
// the memtable size (70 MiB), and a log whose memtable is never flushed
// keeps that: 143 MiB on disk for 2.3 MiB of data after seven restarts.
func TestWALNotPreallocated(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "pebble")
	for r := 0; r < 4; r++ {
		st, err := Open(dir, false, nil, Sizes{})
		require.NoError(t, err)
		for i := 0; i < 200; i++ {
			require.NoError(t, st.Put(ctx, ds.NewKey(fmt.Sprintf("/k/%d/%d", r, i)), make([]byte, 100)))
		}
		require.NoError(t, st.SyncWAL())
		require.NoError(t, st.Close())
	}
	var allocated int64
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		var s syscall.Stat_t
		if err := syscall.Stat(p, &s); err != nil {
			return err
		}
		allocated += s.Blocks * 512
		return nil
	}))
	require.Less(t, allocated, int64(8<<20), "the store's files take %d bytes on disk", allocated)
}
