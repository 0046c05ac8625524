package engine_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/enginetest"
	"github.com/latticedb/lattice/query"
)

// newColl is a collection of a fresh database on a fresh test engine.
func newColl(t testing.TB, name string) *engine.Collection {
	t.Helper()
	db, err := enginetest.NewEngine(t).Create(context.Background(), name)
	require.NoError(t, err)
	return db.Collection("c")
}

// fillColl inserts n documents {"_id": "d<i>", "i": i, "s": "s<i%97>"}.
func fillColl(t testing.TB, c *engine.Collection, n int) {
	t.Helper()
	ctx := context.Background()
	for start := 0; start < n; start += 1000 {
		batch := make([]any, 0, 1000)
		for i := start; i < min(start+1000, n); i++ {
			batch = append(batch, engine.M{"_id": fmt.Sprintf("d%06d", i), "i": i, "s": fmt.Sprintf("s%d", i%97)})
		}
		_, err := c.InsertMany(ctx, batch)
		require.NoError(t, err)
	}
}

// BenchmarkFindSortLimit finds the top 10 of 20,000 documents on two sort
// keys: the top-k path.
func BenchmarkFindSortLimit(b *testing.B) {
	c := newColl(b, "bench")
	fillColl(b, c, 20000)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		cur, err := c.Find(ctx, engine.M{"i": engine.M{"$gte": 0}}, query.Sort("s", -1), query.Sort("i", 1), query.Limit(10))
		require.NoError(b, err)
		require.Equal(b, 10, cur.RemainingBatchLength())
	}
}

// BenchmarkFindIn finds 20,000 documents against an $in of 10,000 numbers
// (no index): the hashed-set path through Find.
func BenchmarkFindIn(b *testing.B)        { benchFindIn(b, false) }
func BenchmarkFindInIndexed(b *testing.B) { benchFindIn(b, true) }

// benchFindIn times a $in of 10,000 values over 20,000 documents, with or
// without an index on the field.
func benchFindIn(b *testing.B, indexed bool) {
	c := newColl(b, "bench")
	fillColl(b, c, 20000)
	if indexed {
		_, err := c.CreateIndex(context.Background(), "i")
		require.NoError(b, err)
	}
	in := make([]any, 10000)
	for i := range in {
		in[i] = 2 * i
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		cur, err := c.Find(ctx, engine.M{"i": engine.M{"$in": in}})
		require.NoError(b, err)
		require.Equal(b, 10000, cur.RemainingBatchLength())
	}
}

func TestFindRefusesTooManySortKeys(t *testing.T) {
	c := newColl(t, "sortcap")
	_, err := c.InsertOne(context.Background(), engine.M{"a": 1})
	require.NoError(t, err)
	var opts []query.Option
	for i := range query.MaxSortKeys + 1 {
		opts = append(opts, query.Sort(fmt.Sprintf("k%d", i), 1))
	}
	_, err = c.Find(context.Background(), nil, opts...)
	require.ErrorIs(t, err, query.ErrBadOption)
	require.ErrorContains(t, err, "sort has 33 keys")
	_, err = c.Find(context.Background(), nil, opts[:query.MaxSortKeys]...)
	require.NoError(t, err)
}

// TestLongFindDoesNotBlockWriters holds a find in the middle of its filter
// and inserts into another collection of the same database meanwhile: the
// insert must complete while the filter is provably still running.
func TestLongFindDoesNotBlockWriters(t *testing.T) {
	e := enginetest.NewEngine(t)
	db, err := e.Create(context.Background(), "stall")
	require.NoError(t, err)
	a := db.Collection("a")
	fillColl(t, a, 300)
	started, release := make(chan struct{}), make(chan struct{})
	calls := 0
	engine.SetScanHook(a, func(context.Context) {
		if calls++; calls == 1 {
			close(started)
			<-release
		}
	})
	found := make(chan error, 1)
	go func() {
		cur, err := a.Find(context.Background(), engine.M{"i": engine.M{"$gte": 0}})
		if err == nil && cur.RemainingBatchLength() != 300 {
			err = fmt.Errorf("found %d documents", cur.RemainingBatchLength())
		}
		found <- err
	}()
	<-started
	// The filter is parked in the hook, so the writes below run during it.
	// Before the fix they waited for the view's lock the filter held; the
	// timeout only turns that deadlock into a failure.
	wrote := make(chan error, 1)
	go func() {
		ctx := context.Background()
		_, err := db.Collection("b").InsertOne(ctx, engine.M{"_id": "x"})
		if err == nil {
			_, err = a.UpdateOne(ctx, engine.M{"_id": "d000001"}, engine.M{"$set": engine.M{"i": -1}})
		}
		wrote <- err
	}()
	select {
	case err := <-wrote:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		close(release)
		t.Fatal("an insert into another collection waited for a running find")
	}
	close(release)
	require.NoError(t, <-found)
}

func TestFindStopsWhenContextEnds(t *testing.T) {
	c := newColl(t, "cancel")
	fillColl(t, c, 3000)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	engine.SetScanHook(c, func(context.Context) {
		if calls++; calls == 10 {
			cancel()
		}
	})
	_, err := c.Find(ctx, nil)
	require.ErrorIs(t, err, context.Canceled)
	require.Less(t, calls, 3000, "the scan went on after its context ended")
	_, err = c.CountDocuments(ctx, nil)
	require.ErrorIs(t, err, context.Canceled)
}

func TestFindMaxTime(t *testing.T) {
	c := newColl(t, "maxtime")
	fillColl(t, c, 1000)
	calls := 0
	engine.SetScanHook(c, func(ctx context.Context) {
		if calls++; calls == 1 {
			<-ctx.Done() // the filter outlives its time limit
		}
	})
	_, err := c.Find(context.Background(), nil, query.MaxTime(20*time.Millisecond))
	require.ErrorIs(t, err, engine.ErrMaxTime)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, calls, 1000)
	engine.SetScanHook(c, nil)
	cur, err := c.Find(context.Background(), nil, query.MaxTime(time.Minute), query.Sort("i", -1), query.Limit(2))
	require.NoError(t, err)
	var got []map[string]any
	require.NoError(t, cur.All(context.Background(), &got))
	require.Len(t, got, 2)
	require.EqualValues(t, 999, got[0]["i"])
}

// TestWriteSortFollowsFindSort checks that a write with a sort picks the
// document Find would return first: arrays sort by their smallest element
// ascending (MongoDB's rule), and ties go to the smallest _id.
func TestWriteSortFollowsFindSort(t *testing.T) {
	ctx := context.Background()
	c := newColl(t, "wsort")
	for _, d := range []engine.M{{"_id": "b", "n": 3}, {"_id": "a", "n": []any{5, 1}}, {"_id": "d", "n": 2, "t": 1}, {"_id": "c", "n": 2, "t": 1}} {
		_, err := c.InsertOne(ctx, d)
		require.NoError(t, err)
	}
	var got map[string]any
	require.NoError(t, c.FindOneAndUpdate(ctx, nil, engine.M{"$set": engine.M{"hit": true}}, engine.SortBy("n", 1)).Decode(&got))
	require.Equal(t, "a", got["_id"], "[5, 1] sorts as 1, before 2 and 3")
	require.NoError(t, c.FindOneAndDelete(ctx, engine.M{"t": 1}, engine.SortBy("n", -1)).Decode(&got))
	require.Equal(t, "c", got["_id"], "a tie goes to the smallest _id")
	var opts []engine.UpdateOption
	for i := range query.MaxSortKeys + 1 {
		opts = append(opts, engine.SortBy(fmt.Sprintf("k%d", i), 1))
	}
	_, err := c.UpdateOne(ctx, nil, engine.M{"$set": engine.M{"x": 1}}, opts...)
	require.ErrorIs(t, err, query.ErrBadOption)
}

// TestFindSortMemoryBound checks that Find refuses an unlimited sort past
// its memory bound and that a limit (a top-k sort) needs no bound.
func TestFindSortMemoryBound(t *testing.T) {
	ctx := context.Background()
	c := newColl(t, "sortmem")
	fillColl(t, c, 300)
	_, err := c.Find(ctx, nil, query.Sort("s", 1), query.MaxSortBytes(4096))
	require.ErrorIs(t, err, query.ErrSortTooLarge)
	require.ErrorContains(t, err, "add a limit")
	cur, err := c.Find(ctx, nil, query.Sort("i", -1), query.Limit(3), query.MaxSortBytes(4096))
	require.NoError(t, err)
	var got []map[string]any
	require.NoError(t, cur.All(ctx, &got))
	require.Len(t, got, 3)
	require.EqualValues(t, 299, got[0]["i"])
}
