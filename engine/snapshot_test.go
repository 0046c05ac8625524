package engine_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/enginetest"
)

// TestJoinFromSnapshot: a fresh engine joins a database with a history
// of inserts, updates and deletes from a snapshot: it shows the writer's
// documents without catching up on the history, then merges what the
// writer writes next.
func TestJoinFromSnapshot(t *testing.T) {
	ctx := context.Background()
	a := enginetest.NewEngine(t)
	j := enginetest.NewEngine(t)
	dba, err := a.Create(ctx, "snap", engine.WithAccess(accesscontrol.Static(a.ID())))
	require.NoError(t, err)
	todos := dba.Collection("todos")
	for i := 0; i < 200; i++ {
		_, err := todos.InsertOne(ctx, engine.M{"_id": fmt.Sprintf("t%03d", i), "n": i})
		require.NoError(t, err)
	}
	for i := 0; i < 200; i += 2 {
		_, err := todos.UpdateOne(ctx, engine.M{"_id": fmt.Sprintf("t%03d", i)}, engine.M{"$set": engine.M{"done": true}, "$inc": engine.M{"n": 1}})
		require.NoError(t, err)
	}
	for i := 0; i < 200; i += 4 {
		_, err := todos.DeleteOne(ctx, engine.M{"_id": fmt.Sprintf("t%03d", i)})
		require.NoError(t, err)
	}
	enginetest.ConnectAll(t, a, j)
	dbj, err := j.JoinFromSnapshot(ctx, dba.Address(), a.ID())
	require.NoError(t, err)
	require.Equal(t, enginetest.Dump(t, todos), enginetest.Dump(t, dbj.Collection("todos")), "the joiner shows the writer's documents at once")
	_, err = todos.InsertOne(ctx, engine.M{"_id": "tail"})
	require.NoError(t, err)
	enginetest.Converged(t, 30*time.Second, 151, todos, dbj.Collection("todos"))
	require.Less(t, dbj.Stats().Catchup.Blocks, uint64(50), "the history came with the snapshot, not by catch-up")
}
