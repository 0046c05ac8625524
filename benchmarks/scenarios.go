package benchmarks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/boxo/exchange/offline"
	"github.com/ipfs/boxo/ipld/merkledag"
	ds "github.com/ipfs/go-datastore"
	dscrdt "github.com/ipfs/go-ds-crdt"
	pebbleds "github.com/ipfs/go-ds-pebble"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/engine"
)

func newEngine(b *testing.B, opts ...engine.Option) *engine.Engine {
	b.Helper()
	e, err := engine.New(context.Background(), append([]engine.Option{
		engine.WithDataDir(b.TempDir()),
		engine.WithListenAddrs("/ip4/127.0.0.1/tcp/0"),
	}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = e.Close() })
	return e
}

func newCollection(b *testing.B, e *engine.Engine, opts ...engine.DatabaseOption) *engine.Collection {
	b.Helper()
	db, err := e.Create(context.Background(), "bench", append([]engine.DatabaseOption{engine.WithAccess(accesscontrol.Open())}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	return db.Collection("docs")
}

// todo is the document used throughout: a typical small to-do item.
func todo(i int) engine.M {
	return engine.M{"title": fmt.Sprintf("buy item number %d", i), "isDone": i%2 == 0, "n": i, "tags": []any{"home", "shop"}}
}

// InsertOne times one sequential caller with the default durability:
// each insert's WAL records are written to the operating system when it
// returns (it survives kill -9); the WAL is fsynced in the background.
func InsertOne(b *testing.B) { insertSequentially(b, newEngine(b)) }

// todoSchema is a typical schema for todo's documents: every field typed,
// the title bounded, one required.
var todoSchema = map[string]json.RawMessage{"docs": json.RawMessage(`{
	"type": "object",
	"properties": {
		"title": {"type": "string", "minLength": 1, "maxLength": 1000},
		"isDone": {"type": "boolean"},
		"n": {"type": "integer", "minimum": 0},
		"tags": {"type": "array", "items": {"type": "string", "maxLength": 64}}
	},
	"required": ["title"],
	"additionalProperties": false
}`)}

// InsertOneSchema is InsertOne on a database whose documents are judged
// by a JSON Schema (engine.WithSchemas): the cost of validation.
func InsertOneSchema(b *testing.B) {
	insertSequentially(b, newEngine(b), engine.WithSchemas(todoSchema))
}

// InsertOneSyncWrites is InsertOne with WithSyncWrites(true): the
// WAL is fsynced before each insert returns (it survives power loss).
func InsertOneSyncWrites(b *testing.B) {
	insertSequentially(b, newEngine(b, engine.WithSyncWrites(true)))
}

// insertSequentially times b.N InsertOne calls from one caller.
func insertSequentially(b *testing.B, e *engine.Engine, opts ...engine.DatabaseOption) {
	c := newCollection(b, e, opts...)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	for i := 0; i < b.N; i++ {
		if _, err := c.InsertOne(ctx, todo(i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
	// The process's CPU time per insert (its background work included):
	// steadier than the rate on a machine shared with other work.
	b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/float64(b.N), "cpu-µs/op")
}

// InsertOneConcurrent16 times 16 concurrent callers; group commit
// shares deltas between them.
func InsertOneConcurrent16(b *testing.B) {
	c := newCollection(b, newEngine(b))
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	insertConcurrently(b, ctx, c, b.N, 16)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
}

// insertConcurrently inserts n documents from workers concurrent callers.
func insertConcurrently(b *testing.B, ctx context.Context, c *engine.Collection, n, workers int) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				if _, err := c.InsertOne(ctx, todo(int(i))); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// InsertMany times InsertMany in batches of 1,000 documents.
func InsertMany(b *testing.B) {
	c := newCollection(b, newEngine(b))
	ctx := context.Background()
	const batch = 1000
	docs := make([]any, batch)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range docs {
			docs[j] = todo(i*batch + j)
		}
		if _, err := c.InsertMany(ctx, docs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "docs/s")
}

// RawCRDTPut is the baseline for InsertOne: a bare go-ds-crdt Put
// of the same JSON bytes on pebble tuned as the engine tunes it, with no
// broadcaster (the engine's announcements run off the write path).
func RawCRDTPut(b *testing.B) {
	store := rawStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		doc := todo(i)
		doc["_id"] = fmt.Sprintf("%024x", i)
		v, _ := json.Marshal(doc)
		if err := store.Put(ctx, ds.NewKey(fmt.Sprintf("/d/docs/%024x", i)), v); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
}

// RawCRDTBatch is the baseline for InsertMany: go-ds-crdt batches
// of the same JSON bytes, committed every 512 Puts as the engine does.
func RawCRDTBatch(b *testing.B) {
	store := rawStore(b)
	ctx := context.Background()
	const batch = 1000
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bt, err := store.Batch(ctx)
		if err != nil {
			b.Fatal(err)
		}
		for j := 0; j < batch; j++ {
			n := i*batch + j
			doc := todo(n)
			doc["_id"] = fmt.Sprintf("%024x", n)
			v, _ := json.Marshal(doc)
			if err := bt.Put(ctx, ds.NewKey(fmt.Sprintf("/d/docs/%024x", n)), v); err != nil {
				b.Fatal(err)
			}
			if j%512 == 511 {
				if err := bt.Commit(ctx); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := bt.Commit(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "docs/s")
}

// rawStore is a bare go-ds-crdt datastore on pebble tuned as the engine
// tunes it, offline.
func rawStore(b *testing.B) *dscrdt.Datastore {
	b.Helper()
	p, err := pebbleds.NewDatastore(b.TempDir(), pebbleds.WithPebbleOpts(engine.PebbleOptions()), pebbleds.WithCacheSize(128<<20))
	if err != nil {
		b.Fatal(err)
	}
	bs := blockservice.New(blockstore.NewBlockstore(p), offline.Exchange(blockstore.NewBlockstore(p)))
	store, err := dscrdt.New(p, ds.NewKey("/raw"), merkledag.NewDAGService(bs), nil, dscrdt.DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = store.Close()
		_ = p.Close()
	})
	return store
}

func filled(b *testing.B, n int) *engine.Collection {
	b.Helper()
	c := newCollection(b, newEngine(b))
	ctx := context.Background()
	docs := make([]any, 0, 1000)
	for i := 0; i < n; i++ {
		d := todo(i)
		d["_id"] = fmt.Sprintf("id%08d", i)
		d["bucket"] = i % 1000
		docs = append(docs, d)
		if len(docs) == cap(docs) {
			if _, err := c.InsertMany(ctx, docs); err != nil {
				b.Fatal(err)
			}
			docs = docs[:0]
		}
	}
	if len(docs) > 0 {
		if _, err := c.InsertMany(ctx, docs); err != nil {
			b.Fatal(err)
		}
	}
	return c
}

// FindByID times FindByID over 10,000 documents, decoding into a map.
func FindByID(b *testing.B) {
	const n = 10000
	c := filled(b, n)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var m engine.M
		if err := c.FindByID(ctx, fmt.Sprintf("id%08d", i%n)).Decode(&m); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
}

// IndexedFind times equality on an indexed field over 100,000
// documents, 100 matches per query.
func IndexedFind(b *testing.B) {
	const n = 100000
	c := filled(b, n)
	ctx := context.Background()
	if _, err := c.CreateIndex(ctx, "bucket"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cur, err := c.Find(ctx, engine.M{"bucket": i % 1000})
		if err != nil {
			b.Fatal(err)
		}
		if cur.RemainingBatchLength() != n/1000 {
			b.Fatalf("%d results", cur.RemainingBatchLength())
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
}

// Replicate10k times 10,000 InsertOne calls from 16 concurrent callers
// on A, timed until B (over loopback TCP) holds all of them.
func Replicate10k(b *testing.B) {
	const n = 10000
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ea, eb := newEngine(b), newEngine(b)
		ctx := context.Background()
		if err := ea.Connect(ctx, peer.AddrInfo{ID: eb.ID(), Addrs: eb.Host().Addrs()}); err != nil {
			b.Fatal(err)
		}
		ca := newCollection(b, ea)
		dbB, err := eb.Open(ctx, ca.Database().Address())
		if err != nil {
			b.Fatal(err)
		}
		cb := dbB.Collection("docs")
		b.StartTimer()
		start := time.Now()
		insertConcurrently(b, ctx, ca, n, 16)
		deadline := time.Now().Add(2 * time.Minute)
		for {
			got, err := cb.CountDocuments(ctx, nil)
			if err != nil {
				b.Fatal(err)
			}
			if got == n {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("B has %d of %d documents after 2 minutes", got, n)
			}
			time.Sleep(5 * time.Millisecond)
		}
		b.ReportMetric(n/time.Since(start).Seconds(), "docs/s")
	}
}

// Converge5x1000 is DESIGN.md's raw go-ds-crdt scenario through
// the engine: 5 replicas in a full mesh over loopback TCP, each making 1,000
// single InsertOne calls at once, timed until every replica holds all 5,000.
func Converge5x1000(b *testing.B) {
	const replicas, writes = 5, 1000
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ctx := context.Background()
		es := make([]*engine.Engine, replicas)
		for j := range es {
			es[j] = newEngine(b)
		}
		for j, a := range es {
			for _, o := range es[j+1:] {
				if err := a.Connect(ctx, peer.AddrInfo{ID: o.ID(), Addrs: o.Host().Addrs()}); err != nil {
					b.Fatal(err)
				}
			}
		}
		cs := make([]*engine.Collection, replicas)
		cs[0] = newCollection(b, es[0])
		for j := 1; j < replicas; j++ {
			db, err := es[j].Open(ctx, cs[0].Database().Address())
			if err != nil {
				b.Fatal(err)
			}
			cs[j] = db.Collection("docs")
		}
		b.StartTimer()
		start := time.Now()
		var wg sync.WaitGroup
		for j, c := range cs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := 0; k < writes; k++ {
					if _, err := c.InsertOne(ctx, todo(j*writes+k)); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		deadline := time.Now().Add(5 * time.Minute)
		for _, c := range cs {
			for {
				n, err := c.CountDocuments(ctx, nil)
				if err != nil {
					b.Fatal(err)
				}
				if n == replicas*writes {
					break
				}
				if time.Now().After(deadline) {
					b.Fatalf("a replica has %d of %d documents after 5 minutes", n, replicas*writes)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		b.ReportMetric(time.Since(start).Seconds(), "s-to-converge")
	}
}

// lateJoin writes a history of n single-write deltas (sequential
// InsertOne calls, one delta each, as an app writes) on A, then times a
// fresh replica B from opening the database to holding all n documents.
func lateJoin(b *testing.B, n int, joiner ...engine.Option) { lateJoinOf(b, n, false, joiner...) }

// lateJoinOf is lateJoin, of a sealed database when sealed: B is made a
// reader (its member record shared, the newest delta) before it joins,
// and its count is 0 until its key package opens.
func lateJoinOf(b *testing.B, n int, sealed bool, joiner ...engine.Option) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ctx := context.Background()
		ea := newEngine(b)
		var dbOpts []engine.DatabaseOption
		if sealed {
			dbOpts = append(dbOpts, engine.WithSealed())
		}
		ca := newCollection(b, ea, dbOpts...)
		for k := 0; k < n; k++ {
			if _, err := ca.InsertOne(ctx, todo(k)); err != nil {
				b.Fatal(err)
			}
		}
		eb := newEngine(b, joiner...)
		if sealed {
			rec, err := eb.MemberRecord(ctx)
			if err == nil {
				err = ca.Database().Share(ctx, rec)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		if err := eb.Connect(ctx, peer.AddrInfo{ID: ea.ID(), Addrs: ea.Host().Addrs()}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		dbB, err := eb.Open(ctx, ca.Database().Address())
		if err != nil {
			b.Fatal(err)
		}
		cb := dbB.Collection("docs")
		// 30 minutes, or 50 ms a delta for the bitswap walk's long
		// histories (it fetches about 48 blocks a second).
		deadline := time.Now().Add(max(30*time.Minute, time.Duration(n)*50*time.Millisecond))
		for {
			got, err := cb.CountDocuments(ctx, nil)
			if sealed && errors.Is(err, engine.ErrNotReader) {
				got, err = 0, nil // its key package has not arrived yet
			}
			if err != nil {
				b.Fatal(err)
			}
			if int(got) == n {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("B has %d of %d documents at the deadline", got, n)
			}
			time.Sleep(5 * time.Millisecond)
		}
		b.ReportMetric(time.Since(start).Seconds(), "s-to-join")
		st := dbB.Stats()
		b.ReportMetric(float64(st.Catchup.Bytes+st.BitswapDataIn), "bytes-in")
	}
}

// LateJoin2k is a fresh replica joining a 2,000-delta history through
// catch-up (one stream from the announcer).
func LateJoin2k(b *testing.B) { lateJoin(b, 2000) }

// LateJoin2kBitswap is the baseline: the same join walking the history
// with bitswap, one round trip per DAG level.
func LateJoin2kBitswap(b *testing.B) { lateJoin(b, 2000, engine.WithCatchup(false)) }

// LateJoin10k is LateJoin2k with a 10,000-delta history.
func LateJoin10k(b *testing.B) { lateJoin(b, 10000) }

// LateJoin100k is LateJoin2k with a 100,000-delta history (about 20 s to
// write, then the join).
func LateJoin100k(b *testing.B) { lateJoin(b, 100000) }

// LateJoin100kBitswap is the baseline of LateJoin100k: the same join
// walked with bitswap (about 35 minutes).
func LateJoin100kBitswap(b *testing.B) { lateJoin(b, 100000, engine.WithCatchup(false)) }

// LateJoin1M is LateJoin2k with a 1,000,000-delta history (minutes to
// write; the join itself is the measurement).
func LateJoin1M(b *testing.B) { lateJoin(b, 1000000) }

// UpdateNested times one sequential caller incrementing a nested counter
// (`$inc` of "stats.views") and setting a nested field of documents among
// 1,000: the path-level registers of merging nested writes.
func UpdateNested(b *testing.B) {
	const n = 1000
	c := filled(b, n)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := fmt.Sprintf("id%08d", i%n)
		upd := engine.M{"$inc": engine.M{"stats.views": 1}, "$set": engine.M{"stats.last": i}}
		if _, err := c.UpdateOne(ctx, engine.M{"_id": id}, upd); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
}
