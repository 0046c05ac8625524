//go:build !js

package store

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// Durability of a returned write, in two levels:
//
//   - The default: every commit group's write-ahead-log records are handed
//     to the operating system (write(2)) before its writes return, so a
//     returned write survives the process dying in any way (kill -9, panic,
//     OOM kill). The log is fsynced in the background every walSyncInterval,
//     so a power loss or kernel crash loses at most about that much.
//   - WithSyncWrites(true): the log is fsynced before a commit group's
//     writes return, so they survive power loss too, on a disk that honours
//     fsync. One fsync per commit group, shared by every write in it.
//
// pebble knows only "sync" (write and fsync) and "no sync" (the records may
// stay in its user-space buffer). walFS gives the first level: pebble is
// asked to sync, and the WAL files it syncs are ours, whose fsync is
// deferred to the background loop unless every sync must be real.

// walSyncInterval bounds what a power loss can take with the default
// durability. MongoDB's journal commit interval is the same.
const walSyncInterval = 100 * time.Millisecond

// walCategory is the category pebble creates write-ahead-log files with.
const walCategory vfs.DiskWriteCategory = "pebble-wal"

// walFS wraps pebble's file system to decide when its write-ahead-log
// files are fsynced. Every other file passes through untouched.
type walFS struct {
	vfs.FS
	syncEach bool         // every Sync of a WAL file is real
	deferred atomic.Int64 // syncs deferred to the background

	mu    sync.Mutex
	files map[*walFile]struct{} // open WAL files
}

func newWALFS(inner vfs.FS, syncEach bool) *walFS {
	return &walFS{FS: inner, syncEach: syncEach, files: make(map[*walFile]struct{})}
}

// Create implements vfs.FS.
func (fs *walFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, category)
	if err != nil || category != walCategory {
		return f, err
	}
	return fs.track(f), nil
}

// ReuseForWrite implements vfs.FS: pebble recycles old log files this way.
func (fs *walFS) ReuseForWrite(oldname, newname string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname, category)
	if err != nil || category != walCategory {
		return f, err
	}
	return fs.track(f), nil
}

// Unwrap implements vfs.FS.
func (fs *walFS) Unwrap() vfs.FS { return fs.FS }

func (fs *walFS) track(f vfs.File) *walFile {
	w := &walFile{File: f, fs: fs}
	fs.mu.Lock()
	fs.files[w] = struct{}{}
	fs.mu.Unlock()
	return w
}

// syncDirty fsyncs every WAL file written since its last fsync.
func (fs *walFS) syncDirty() error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var errs []error
	for f := range fs.files {
		errs = append(errs, f.flush())
	}
	return errors.Join(errs...)
}

// walFile is a WAL file whose syncs the walFS may defer.
type walFile struct {
	vfs.File
	fs    *walFS
	dirty atomic.Bool
	// failed is a background fsync's error, returned by the next Sync:
	// after a failed fsync the kernel may have dropped the pages, so
	// pebble must learn of it (it treats a WAL sync error as fatal).
	failed atomic.Pointer[error]
}

// Preallocate does nothing. pebble preallocates each WAL file at 110% of
// the memtable size (70 MiB here), and a file whose memtable is never
// flushed keeps it: a to-do list of a few hundred documents took 143 MiB
// on disk for 2.3 MiB of data after seven restarts. Without it a log takes
// what it holds; the cost is a little more file-system metadata work per
// fsync, which runs in the background by default.
func (f *walFile) Preallocate(offset, length int64) error { return nil }

// flush fsyncs the file if it was written since its last fsync.
func (f *walFile) flush() error {
	if !f.dirty.Swap(false) {
		return nil
	}
	if err := f.File.SyncData(); err != nil {
		f.failed.CompareAndSwap(nil, &err)
		return err
	}
	return nil
}

func (f *walFile) deferSync() error {
	if p := f.failed.Load(); p != nil {
		return *p
	}
	f.dirty.Store(true)
	f.fs.deferred.Add(1)
	return nil
}

// Sync implements vfs.File. pebble has written the records it syncs, so
// they are in the operating system's page cache by now. A real sync is a
// data sync (fdatasync): it persists the metadata needed to read the data
// back, which is all a log needs, and skips timestamps.
func (f *walFile) Sync() error {
	if f.fs.syncEach {
		return f.File.SyncData()
	}
	return f.deferSync()
}

// SyncData implements vfs.File.
func (f *walFile) SyncData() error {
	if f.fs.syncEach {
		return f.File.SyncData()
	}
	return f.deferSync()
}

// SyncTo implements vfs.File: a deferred sync is "queued", which SyncTo's
// contract allows (fullSync false: no persistence guarantee yet).
func (f *walFile) SyncTo(length int64) (bool, error) {
	if f.fs.syncEach {
		return f.File.SyncTo(length)
	}
	return false, f.deferSync()
}

// Close implements vfs.File: it fsyncs what a deferred sync left, so a
// closed log is always durable.
func (f *walFile) Close() error {
	f.fs.mu.Lock()
	delete(f.fs.files, f)
	f.fs.mu.Unlock()
	err := f.flush()
	return errors.Join(err, f.File.Close())
}
