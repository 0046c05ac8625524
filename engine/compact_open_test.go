package engine_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/enginetest"
	"github.com/latticedb/lattice/internal/poll"
)

// writeModel is what one writer goroutine acknowledged: the documents of
// its own ids as it left them.
type writeModel struct {
	mu   sync.Mutex
	docs map[string]int64 // _id -> n; absent: deleted or never written
}

// churn writes to ids prefix-0..prefix-(span-1) on c until stop is closed
// and at least min writes were acknowledged: an insert, then updates, a
// delete and a reinsert in turn. Every acknowledged write is in m.
func churn(ctx context.Context, t *testing.T, c *engine.Collection, prefix string, span, min int, stop <-chan struct{}, m *writeModel, n *atomic.Int64) {
	for i := 0; ; i++ {
		if i >= min {
			select {
			case <-stop:
				return
			default:
			}
		}
		id := fmt.Sprintf("%s-%03d", prefix, i%span)
		m.mu.Lock()
		cur, ok := m.docs[id]
		m.mu.Unlock()
		var err error
		switch {
		case !ok:
			_, err = c.InsertOne(ctx, engine.M{"_id": id, "n": int64(i)})
			cur = int64(i)
		case i%7 == 3:
			_, err = c.DeleteOne(ctx, engine.M{"_id": id})
		default:
			_, err = c.UpdateOne(ctx, engine.M{"_id": id}, engine.M{"$set": engine.M{"n": int64(i)}})
			cur = int64(i)
		}
		if err != nil {
			t.Errorf("write %d of %s: %v", i, prefix, err)
			return
		}
		m.mu.Lock()
		if ok && i%7 == 3 {
			delete(m.docs, id)
		} else {
			m.docs[id] = cur
		}
		m.mu.Unlock()
		n.Add(1)
	}
}

// checkModel fails unless c holds exactly the documents of the models.
func checkModel(t *testing.T, c *engine.Collection, models ...*writeModel) {
	t.Helper()
	ctx := context.Background()
	want := 0
	for _, m := range models {
		for id, n := range m.docs {
			var doc struct {
				N int64 `bson:"n" json:"n"`
			}
			require.NoError(t, c.FindByID(ctx, id).Decode(&doc), "acknowledged document %s", id)
			require.Equal(t, n, doc.N, "document %s", id)
			want++
		}
	}
	got, err := c.CountDocuments(ctx, nil)
	require.NoError(t, err)
	require.EqualValues(t, want, got)
}

// TestCompactOpenWhileWriting: a database compacts while it stays open
// and three writers keep writing to it (real pebble, real hosts). No
// acknowledged write is lost, the compacted replica equals an uncompacted
// one that replicated all along, the history shrinks, and afterwards the
// database keeps replicating: a fresh peer joins the compacted replica by
// a snapshot, and a writer whose branch forked before the compaction
// merges everywhere.
func TestCompactOpenWhileWriting(t *testing.T) {
	ctx := context.Background()
	a := enginetest.NewEngine(t)
	b := enginetest.NewEngine(t) // uncompacted: the model replica
	w := enginetest.NewEngine(t) // forks before the compaction
	dba, err := a.Create(ctx, "open-compact", engine.WithAccess(accesscontrol.Static(a.ID(), w.ID())))
	require.NoError(t, err)
	todos := dba.Collection("todos")
	enginetest.ConnectAll(t, a, b, w)
	dbb := enginetest.Open(t, b, dba.Address())
	dbw := enginetest.Open(t, w, dba.Address())

	// A history to compact: inserts, overwrites, deletes.
	var writes atomic.Int64
	models := []*writeModel{{docs: map[string]int64{}}, {docs: map[string]int64{}}, {docs: map[string]int64{}}, {docs: map[string]int64{}}}
	closed := make(chan struct{})
	close(closed)
	churn(ctx, t, todos, "pre", 40, 300, closed, models[0], &writes)
	enginetest.Converged(t, 60*time.Second, 1, todos, dbb.Collection("todos"), dbw.Collection("todos"))

	// W goes offline and writes on its own branch: a delete of a document
	// the compaction keeps, an update, a new document.
	enginetest.Partition(t, w, a, b)
	wt := dbw.Collection("todos")
	_, err = wt.DeleteOne(ctx, engine.M{"_id": "pre-001"})
	require.NoError(t, err)
	_, err = wt.UpdateOne(ctx, engine.M{"_id": "pre-002"}, engine.M{"$set": engine.M{"w": true}})
	require.NoError(t, err)
	_, err = wt.InsertOne(ctx, engine.M{"_id": "w-new"})
	require.NoError(t, err)

	// Three writers, and a compaction in the middle of them.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i, prefix := range []string{"x", "y", "z"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			churn(ctx, t, todos, prefix, 25, 150, stop, models[i+1], &writes)
		}()
	}
	poll.Eventually(t, 60*time.Second, func() error {
		if writes.Load() < 400 {
			return fmt.Errorf("%d writes", writes.Load())
		}
		return nil
	})
	c, err := dba.Compact(ctx)
	require.NoError(t, err)
	during := writes.Load()
	close(stop)
	wg.Wait()
	t.Logf("compaction %+v; %d writes in all, the compaction finished after %d", c, writes.Load(), during)
	// Deleted documents' versions go; overwritten ones stay until the
	// writer tombstones what it overwrites (docs/snapshots.md).
	require.Less(t, c.After.Blocks, c.Before.Blocks*4/5, "%+v", c)
	require.Less(t, c.After.Bytes, c.Before.Bytes*4/5, "%+v", c)

	// Nothing acknowledged is lost, and the uncompacted replica agrees.
	enginetest.Converged(t, 60*time.Second, 1, todos, dbb.Collection("todos"))
	checkModel(t, todos, models...)
	st := dba.Stats()
	require.Equal(t, uint64(1), st.History.Compactions)
	require.NotNil(t, st.LastSnapshot)
	require.Equal(t, a.ID().String(), st.LastSnapshot.Producer)

	// A second compaction of a compacted, still open replica.
	_, err = dba.Compact(ctx)
	require.NoError(t, err)
	checkModel(t, todos, models...)

	// A fresh peer joins the compacted replica by a snapshot.
	j := enginetest.NewEngine(t)
	enginetest.ConnectAll(t, a, j)
	dbj, err := j.JoinFromSnapshot(ctx, dba.Address(), a.ID())
	require.NoError(t, err)
	_, err = todos.InsertOne(ctx, engine.M{"_id": "after"})
	require.NoError(t, err)
	enginetest.Converged(t, 60*time.Second, 1, todos, dbb.Collection("todos"), dbj.Collection("todos"))

	// W comes back: its branch, forked before the compaction, merges on
	// the compacted replica, the joiner and the uncompacted one alike.
	enginetest.ConnectAll(t, a, b, j, w)
	final := enginetest.Converged(t, 120*time.Second, 1, todos, dbb.Collection("todos"), dbj.Collection("todos"), wt)
	require.Contains(t, final, `"w-new"`)
	require.NotContains(t, final, `"pre-001"`)
}
