package engine_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/enginetest"
)

// seedDocs inserts n documents {_id: "d<i>", g: "a", n: 0} into c.
func seedDocs(t testing.TB, c *engine.Collection, n int) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < n; i += 1000 {
		var docs []any
		for j := i; j < min(n, i+1000); j++ {
			docs = append(docs, engine.M{"_id": fmt.Sprintf("d%05d", j), "g": "a", "n": int64(0)})
		}
		_, err := c.InsertMany(ctx, docs)
		require.NoError(t, err)
	}
}

// onceHook returns a scan hook that runs f at its k-th call, from the
// planning of the write it is set on.
func onceHook(k int, f func(ctx context.Context)) func(ctx context.Context) {
	var mu sync.Mutex
	calls := 0
	return func(ctx context.Context) {
		mu.Lock()
		calls++
		run := calls == k
		mu.Unlock()
		if run {
			f(ctx)
		}
	}
}

// A large UpdateMany or DeleteMany is matched and planned before it takes
// the database's write path: a single insert into the same database
// commits while the large write is still planning (the insert runs, to
// its end, from inside the planning; were the planning in the write path,
// the insert would queue behind it and never return).
func TestLargeWritesPlanOutsideTheWritePath(t *testing.T) {
	ctx := context.Background()
	e := enginetest.NewEngine(t)
	db, err := e.Create(ctx, "big")
	require.NoError(t, err)
	c := db.Collection("c")
	seedDocs(t, c, 1000)

	for _, op := range []string{"UpdateMany", "DeleteMany"} {
		big := db.Collection("c")
		inserted := false
		engine.SetScanHook(big, onceHook(500, func(context.Context) {
			// A deadline only guards against the deadlock: the insert is
			// expected to return at once.
			ictx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			defer cancel()
			_, err := db.Collection("other").InsertOne(ictx, engine.M{"op": op})
			require.NoError(t, err, "the insert waited for the large write's planning")
			inserted = true
		}))
		var n int64
		if op == "UpdateMany" {
			res, err := big.UpdateMany(ctx, engine.M{"g": "a"}, engine.M{"$inc": engine.M{"n": 1}})
			require.NoError(t, err)
			n = res.ModifiedCount
		} else {
			res, err := big.DeleteMany(ctx, engine.M{"g": "a"})
			require.NoError(t, err)
			n = res.DeletedCount
		}
		require.True(t, inserted, "%s: the hook did not run while planning", op)
		require.EqualValues(t, 1000, n, op)
	}
	left, err := c.CountDocuments(ctx, nil)
	require.NoError(t, err)
	require.Zero(t, left)
	others, err := db.Collection("other").CountDocuments(ctx, nil)
	require.NoError(t, err)
	require.EqualValues(t, 2, others)
}

// Documents changed between an UpdateMany's plan and its commit are
// planned again, never lost: a document updated meanwhile keeps that
// update and gets this one, a document that stopped matching is left
// alone, and one that started matching (inserted or changed) is updated.
func TestUpdateManyReplansDocumentsChangedMeanwhile(t *testing.T) {
	ctx := context.Background()
	e := enginetest.NewEngine(t)
	db, err := e.Create(ctx, "replan")
	require.NoError(t, err)
	c := db.Collection("c")
	seedDocs(t, c, 300)

	big := db.Collection("c")
	engine.SetScanHook(big, onceHook(150, func(context.Context) {
		// d00010 was planned already; d00290 not yet; both change.
		_, err := c.UpdateOne(ctx, engine.M{"_id": "d00010"}, engine.M{"$inc": engine.M{"n": int64(10)}, "$set": engine.M{"mark": true}})
		require.NoError(t, err)
		_, err = c.UpdateOne(ctx, engine.M{"_id": "d00290"}, engine.M{"$inc": engine.M{"n": int64(10)}})
		require.NoError(t, err)
		_, err = c.UpdateOne(ctx, engine.M{"_id": "d00011"}, engine.M{"$set": engine.M{"g": "b"}})
		require.NoError(t, err)
		_, err = c.InsertOne(ctx, engine.M{"_id": "new", "g": "a", "n": int64(5)})
		require.NoError(t, err)
	}))
	res, err := big.UpdateMany(ctx, engine.M{"g": "a"}, engine.M{"$inc": engine.M{"n": int64(1)}})
	require.NoError(t, err)
	require.EqualValues(t, 300, res.MatchedCount, "300 - d00011 + new")

	get := func(id string) engine.M {
		var d engine.M
		require.NoError(t, c.FindByID(ctx, id).Decode(&d))
		return d
	}
	require.EqualValues(t, 11, get("d00010")["n"])
	require.Equal(t, true, get("d00010")["mark"])
	require.EqualValues(t, 11, get("d00290")["n"])
	require.EqualValues(t, 0, get("d00011")["n"])
	require.EqualValues(t, 6, get("new")["n"])
	require.EqualValues(t, 1, get("d00100")["n"])
	n, err := c.CountDocuments(ctx, engine.M{"n": int64(1)})
	require.NoError(t, err)
	require.EqualValues(t, 297, n)
}

// A DeleteMany leaves a document that stopped matching between its plan
// and its commit, and deletes one that started matching.
func TestDeleteManyReplansDocumentsChangedMeanwhile(t *testing.T) {
	ctx := context.Background()
	e := enginetest.NewEngine(t)
	db, err := e.Create(ctx, "replan")
	require.NoError(t, err)
	c := db.Collection("c")
	seedDocs(t, c, 100)
	_, err = c.InsertOne(ctx, engine.M{"_id": "late", "g": "z"})
	require.NoError(t, err)

	big := db.Collection("c")
	engine.SetScanHook(big, onceHook(50, func(context.Context) {
		_, err := c.UpdateOne(ctx, engine.M{"_id": "d00003"}, engine.M{"$set": engine.M{"g": "b"}})
		require.NoError(t, err)
		_, err = c.UpdateOne(ctx, engine.M{"_id": "late"}, engine.M{"$set": engine.M{"g": "a"}})
		require.NoError(t, err)
	}))
	res, err := big.DeleteMany(ctx, engine.M{"g": "a"})
	require.NoError(t, err)
	require.EqualValues(t, 100, res.DeletedCount)
	var left []engine.M
	cur, err := c.Find(ctx, nil)
	require.NoError(t, err)
	require.NoError(t, cur.All(ctx, &left))
	require.Len(t, left, 1)
	require.Equal(t, "d00003", left[0]["_id"])
}

// An UpdateOne whose planned document stops matching before it commits
// updates the next document in sort order instead, as it would have had
// it run after the change.
func TestUpdateOneTakesTheNextMatchWhenItsOwnChanged(t *testing.T) {
	ctx := context.Background()
	e := enginetest.NewEngine(t)
	db, err := e.Create(ctx, "one")
	require.NoError(t, err)
	c := db.Collection("c")
	seedDocs(t, c, 10)
	one := db.Collection("c")
	engine.SetScanHook(one, onceHook(1, func(context.Context) {
		_, err := c.UpdateOne(ctx, engine.M{"_id": "d00009"}, engine.M{"$set": engine.M{"g": "b"}})
		require.NoError(t, err)
	}))
	var before engine.M
	err = one.FindOneAndUpdate(ctx, engine.M{"g": "a"}, engine.M{"$set": engine.M{"hit": true}},
		engine.SortBy("_id", -1)).Decode(&before)
	require.NoError(t, err)
	require.Equal(t, "d00008", before["_id"])
	n, err := c.CountDocuments(ctx, engine.M{"hit": true})
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
}

// When more documents of the collection changed during the plan than the
// view remembers (readmodel's change log), the plan is made again: the
// documents inserted meanwhile are updated too.
func TestUpdateManyReplansWhenTheViewForgot(t *testing.T) {
	ctx := context.Background()
	e := enginetest.NewEngine(t)
	db, err := e.Create(ctx, "forgot")
	require.NoError(t, err)
	c := db.Collection("c")
	seedDocs(t, c, 10)
	big := db.Collection("c")
	engine.SetScanHook(big, onceHook(5, func(context.Context) {
		docs := make([]any, 5000)
		for i := range docs {
			docs[i] = engine.M{"_id": fmt.Sprintf("m%05d", i), "g": "a", "n": int64(0)}
		}
		_, err := c.InsertMany(ctx, docs)
		require.NoError(t, err)
	}))
	res, err := big.UpdateMany(ctx, engine.M{"g": "a"}, engine.M{"$inc": engine.M{"n": int64(1)}})
	require.NoError(t, err)
	require.EqualValues(t, 5010, res.ModifiedCount)
	n, err := c.CountDocuments(ctx, engine.M{"n": int64(1)})
	require.NoError(t, err)
	require.EqualValues(t, 5010, n)
}

// BenchmarkUpdateManyBesideInserts measures how long a large UpdateMany
// holds the database's write path: single inserts run one after another
// beside it, and the longest of them (write-path-ms) is about how long
// the update held the path, the rest being one insert's own commit.
func BenchmarkUpdateManyBesideInserts(b *testing.B) {
	for _, n := range []int{2000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			ctx := context.Background()
			e := enginetest.NewEngine(b)
			db, err := e.Create(ctx, "bench")
			require.NoError(b, err)
			c := db.Collection("c")
			seedDocs(b, c, n)
			var worst, total time.Duration
			for i := 0; i < b.N; i++ {
				done := make(chan struct{})
				var wg sync.WaitGroup
				wg.Add(1)
				var longest time.Duration
				go func() {
					defer wg.Done()
					for {
						select {
						case <-done:
							return
						default:
						}
						start := time.Now()
						_, err := db.Collection("other").InsertOne(ctx, engine.M{"x": 1})
						require.NoError(b, err)
						if d := time.Since(start); d > longest {
							longest = d
						}
					}
				}()
				start := time.Now()
				_, err := c.UpdateMany(ctx, engine.M{"g": "a"}, engine.M{"$inc": engine.M{"n": int64(1)}})
				total += time.Since(start)
				close(done)
				wg.Wait()
				require.NoError(b, err)
				worst = max(worst, longest)
			}
			b.ReportMetric(float64(worst.Microseconds())/1000, "write-path-ms")
			b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "update-ms")
		})
	}
}
