package engine

import (
	"context"
	"encoding/json"
	"sync"

	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"

	"github.com/latticedb/lattice/crdt"
	"github.com/latticedb/lattice/validation"
)

// Test hooks for the engine_test package.

// HeadsOf returns the heads of db's DAG.
func HeadsOf(db *Database) []cid.Cid {
	s := db.store()
	if s == nil {
		return nil
	}
	return s.InternalStats(context.Background()).Heads
}

// StoresBlock reports whether e's block store on disk holds c (the
// quarantine of unjudged blocks is not looked at).
func StoresBlock(e *Engine, c cid.Cid) bool {
	has, err := e.node.Blocks().Has(context.Background(), c)
	return err == nil && has
}

// QuarantinedBytes reports the memory e holds in unjudged blocks.
func QuarantinedBytes(e *Engine) int { return e.node.Quarantine().HeldBytes() }

// WithoutInlineBlocks makes an engine announce heads without their
// blocks, so receivers fetch them over bitswap.
func WithoutInlineBlocks() Option {
	return func(c *config) error { c.inlineBlockLimit = 0; return nil }
}

// EnqueueHead hands db's go-ds-crdt a head as if its block were local.
func EnqueueHead(db *Database, c cid.Cid) { db.rep.Enqueue(c, db.e.ID()) }

// SetScanHook makes c's finds call hook with the scan's context (MaxTime
// included) before filtering each candidate document.
func SetScanHook(c *Collection, hook func(ctx context.Context)) { c.scanHook = hook }

// BlockOf returns a block e stores (admitted or its own).
func BlockOf(e *Engine, c cid.Cid) (blocks.Block, error) {
	return e.node.Blocks().Get(context.Background(), c)
}

// Hold puts blocks in e's quarantine, as if they had come inline in a
// broadcast.
func Hold(e *Engine, bs ...blocks.Block) error {
	return e.node.Quarantine().PutMany(context.Background(), bs)
}

// Store writes blocks to e's block store, as if e had admitted them.
func Store(e *Engine, bs ...blocks.Block) error {
	return e.node.Blocks().PutMany(context.Background(), bs)
}

// SetBeforeCommit makes f run between signing each of db's deltas and
// committing it (nil removes it). Set it while db is idle.
func SetBeforeCommit(db *Database, f func()) { db.beforeCommit = f }

// MaxHeight is the height of db's highest head.
func MaxHeight(db *Database) uint64 {
	s := db.store()
	if s == nil {
		return 0
	}
	return s.InternalStats(context.Background()).MaxHeight
}

// HoldView makes db's view stop showing remote changes (they stay dirty)
// until the returned release is called; release is idempotent. Call it
// while no remote change is being shown.
func HoldView(db *Database) (release func()) {
	ch := make(chan struct{})
	var once sync.Once
	db.mat.SetBeforeFlush(func() { <-ch })
	return func() { once.Do(func() { close(ch) }) }
}

// SetDeltaKeys makes db's writer pack up to n keys in one delta, past the
// bound receivers hold deltas to: a modified peer.
func SetDeltaKeys(db *Database, n int) { db.wq.deltaKeys = n }

// StoreDoc materialises one document straight from db's store, bypassing
// the read model's view: nil when the store holds no live document.
func StoreDoc(db *Database, coll string, id any) (map[string]any, error) {
	r, err := db.Collection(coll).ref(id)
	if err != nil {
		return nil, err
	}
	st, err := db.mat.Load(context.Background(), r)
	if err != nil {
		return nil, err
	}
	return st.Materialize(), nil
}

// FetchBlock asks e's peers for c through bitswap, as Open fetches a
// manifest; what arrives waits in the quarantine.
func FetchBlock(ctx context.Context, e *Engine, c cid.Cid) (blocks.Block, error) {
	return e.node.Fetch(ctx, c)
}

// WriteMeta stores value at a non-document key of db as a write of its
// own, judged by db's controller like any write: tests write raw entries
// with it.
func WriteMeta(ctx context.Context, db *Database, key string, value []byte) error {
	return db.write(ctx, func(t *txn) error {
		t.stageMeta(crdt.Mutation{Key: key, Value: value})
		return nil
	})
}

// SignSchema returns a schema entry for db signed by e's key.
func SignSchema(e *Engine, db string, coll string, schema json.RawMessage, version uint64) ([]byte, error) {
	return validation.NewSchemaEntry(e.key, db, coll, schema, version)
}
