package engine

import (
	"context"
	"errors"
	"fmt"

	ds "github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/latticedb/lattice/internal/replication"
	"github.com/latticedb/lattice/internal/snapshot"
)

// JoinFromSnapshot opens the database at address as Open does, but when
// this engine holds nothing of it yet, it starts from a snapshot of the
// database fetched from peer from (connected, with the database open):
// verified (the producer must be allowed to make snapshots by the
// database's access controller, see docs/snapshots.md, and every block
// it carries is judged as any remote delta), installed in one batch, and
// then the history above it merges as usual. A database already held, or
// already open, is simply opened. A sealed database's snapshot is made of
// what its store holds, sealed keys and values and the key packages: a
// member reads it once installed, a non-member holds ciphertext only.
// The join costs the live state, not the history: see docs/snapshots.md.
// Do not open the same address concurrently with it.
func (e *Engine) JoinFromSnapshot(ctx context.Context, address string, from peer.ID) (*Database, error) {
	addr, err := ParseAddress(address)
	if err != nil {
		return nil, err
	}
	if db := e.lookup(addr); isOpen(db) {
		return e.Open(ctx, address)
	}
	m, admit, err := e.fetchManifest(ctx, addr)
	if err != nil {
		return nil, err
	}
	cfg := e.replicaBase(addr)
	if cfg.Access, cfg.Validator, err = e.judges(addr, m, e.log); err != nil {
		return nil, err
	}
	bundle, err := e.node.FetchSnapshot(ctx, from, addr.Manifest)
	if err != nil {
		return nil, fmt.Errorf("engine: join %s: %w", addr, err)
	}
	if err := e.node.InstallSnapshot(ctx, cfg, bundle); err != nil && !errors.Is(err, snapshot.ErrNotEmpty) {
		return nil, fmt.Errorf("engine: join %s: %w", addr, err)
	}
	if err := admit(); err != nil {
		return nil, err
	}
	return e.Open(ctx, address)
}

// HistoryFootprint is what a database's history holds on this engine: the
// blocks it merged and still stores, and their bytes.
type HistoryFootprint struct {
	Blocks int   `json:"blocks"`
	Bytes  int64 `json:"bytes"`
}

// Compaction is what Compact did.
type Compaction struct {
	Before HistoryFootprint `json:"before"`
	After  HistoryFootprint `json:"after"`
}

// ErrArchive is returned by Compact on an engine that keeps the full
// history (WithArchive).
var ErrArchive = errors.New("engine: an archive keeps the full history")

// Compact makes the history of the database at address stop growing: the
// replica stands on a snapshot of itself (signed by this engine), and the
// blocks, markers and tombstones that snapshot makes unneeded are deleted;
// the blocks of live versions stay (docs/snapshots.md). The database must
// be known here; if it is open, it compacts as Database.Compact does. A
// compacted replica serves catch-up only above its snapshot:
// fresh peers join it with JoinFromSnapshot.
func (e *Engine) Compact(ctx context.Context, address string) (Compaction, error) {
	addr, err := ParseAddress(address)
	if err != nil {
		return Compaction{}, err
	}
	ctx, leave, err := e.enter(ctx)
	if err != nil {
		return Compaction{}, err
	}
	defer leave()
	if e.cfg.archive {
		return Compaction{}, fmt.Errorf("%w: %s", ErrArchive, addr)
	}
	if db, err := e.openDatabase(ctx, addr); err != nil {
		return Compaction{}, err
	} else if db != nil {
		return db.Compact(ctx)
	}
	if has, err := e.store.Has(ctx, ds.NewKey(dbRegistryPrefix+"/"+addr.Manifest.String())); err != nil || !has {
		return Compaction{}, fmt.Errorf("%w: %s", ErrNoDatabase, addr)
	}
	c, err := e.node.Compact(ctx, e.replicaBase(addr))
	if err != nil {
		return Compaction{}, fmt.Errorf("engine: compact %s: %w", addr, err)
	}
	return compaction(c), nil
}

func compaction(c *snapshot.Compaction) Compaction {
	return Compaction{
		Before: HistoryFootprint{Blocks: c.Before.Blocks, Bytes: c.Before.Bytes},
		After:  HistoryFootprint{Blocks: c.After.Blocks, Bytes: c.After.Bytes},
	}
}

// Compact makes the database's history stop growing while it stays open
// and writes continue: a snapshot of the replica at one moment (its heads
// then) is recorded, and what that snapshot covers and does not keep is
// deleted, as Engine.Compact does for a closed database. The scans and
// deletions run on the caller's goroutine, beside writes and merges,
// holding no lock they take; what merges meanwhile stays. A second call
// waits for the first; Close stops it (the replica then reads the same,
// and the next compaction finishes the deletions). ErrArchive on an
// archive engine.
func (db *Database) Compact(ctx context.Context) (Compaction, error) {
	if db.e.cfg.archive {
		return Compaction{}, fmt.Errorf("%w: %s", ErrArchive, db.addr)
	}
	db.writing.RLock()
	if db.closed.Load() {
		db.writing.RUnlock()
		return Compaction{}, fmt.Errorf("%w: database %s", ErrClosed, db.addr.Name)
	}
	db.wg.Add(1) // Close waits for it
	db.writing.RUnlock()
	defer db.wg.Done()
	c, err := db.rep.Compact(ctx)
	if err != nil {
		return Compaction{}, fmt.Errorf("engine: compact %s: %w", db.addr, err)
	}
	return compaction(c), nil
}

// HistoryStats are what a database's history holds on this replica.
type HistoryStats = replication.HistoryStats

// SnapshotInfo describes the snapshot a replica stands on: the one it was
// installed from or last compacted to.
type SnapshotInfo = replication.SnapshotInfo

// autoCompact is the AutoCompact of a database whose live documents live
// counts: none on an archive.
func (e *Engine) autoCompact(live func() int) replication.AutoCompact {
	if e.cfg.archive || e.cfg.autoCompact.Factor <= 0 {
		return replication.AutoCompact{}
	}
	a := e.cfg.autoCompact
	a.Live = live
	return a
}
