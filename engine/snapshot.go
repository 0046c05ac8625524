package engine

import (
	"context"
	"errors"
	"fmt"

	ds "github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/latticedb/lattice/internal/snapshot"
)

// JoinFromSnapshot opens the database at address as Open does, but when
// this engine holds nothing of it yet, it starts from a snapshot of the
// database fetched from peer from (connected, with the database open):
// verified (the producer must be allowed to make snapshots by the
// database's access controller, see docs/snapshots.md, and every block
// it carries is judged as any remote delta), installed in one batch, and
// then the history above it merges as usual. A database already held, or
// already open, is simply opened. Sealed databases are not supported yet.
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
	if m.Sealed != nil {
		return nil, fmt.Errorf("engine: join %s from a snapshot: sealed databases are not supported yet", addr)
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

// ErrDatabaseOpen is returned by Compact for a database that is open.
var ErrDatabaseOpen = errors.New("engine: database is open")

// Compact makes the history of the database at address stop growing: the
// replica stands on a snapshot of itself (signed by this engine), and the
// blocks, markers and tombstones that snapshot makes unneeded are deleted;
// the blocks of live versions stay (docs/snapshots.md). The database must
// be known here and closed (ErrDatabaseOpen): close it, compact, open it
// again. A compacted replica serves catch-up only above its snapshot:
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
	if db, err := e.openDatabase(ctx, addr); err != nil {
		return Compaction{}, err
	} else if db != nil {
		return Compaction{}, fmt.Errorf("%w: %s: close it before compacting", ErrDatabaseOpen, addr)
	}
	if has, err := e.store.Has(ctx, ds.NewKey(dbRegistryPrefix+"/"+addr.Manifest.String())); err != nil || !has {
		return Compaction{}, fmt.Errorf("%w: %s", ErrNoDatabase, addr)
	}
	c, err := e.node.Compact(ctx, e.replicaBase(addr))
	if err != nil {
		return Compaction{}, fmt.Errorf("engine: compact %s: %w", addr, err)
	}
	return Compaction{
		Before: HistoryFootprint{Blocks: c.Before.Blocks, Bytes: c.Before.Bytes},
		After:  HistoryFootprint{Blocks: c.After.Blocks, Bytes: c.After.Bytes},
	}, nil
}
