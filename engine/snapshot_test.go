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

// TestCompact: a closed database compacts, opens
// again with the same documents and takes writes, and a fresh engine
// joins it from a snapshot.
func TestCompact(t *testing.T) {
	ctx := context.Background()
	a := enginetest.NewEngine(t)
	db, err := a.Create(ctx, "compact", engine.WithAccess(accesscontrol.Static(a.ID())))
	require.NoError(t, err)
	todos := db.Collection("todos")
	for i := 0; i < 100; i++ {
		_, err := todos.InsertOne(ctx, engine.M{"_id": fmt.Sprintf("t%03d", i), "n": i})
		require.NoError(t, err)
	}
	for i := 0; i < 100; i += 2 {
		_, err := todos.DeleteOne(ctx, engine.M{"_id": fmt.Sprintf("t%03d", i)})
		require.NoError(t, err)
	}
	want := enginetest.Dump(t, todos)
	addr := db.Address()
	require.NoError(t, db.Close())
	c, err := a.Compact(ctx, addr)
	require.NoError(t, err)
	require.Equal(t, 150, c.Before.Blocks, "100 inserts, 50 deletes")
	// The deleted documents' inserts go; each delete stays, since the
	// grave it leaves is a live key (collecting graves is a next step).
	require.Equal(t, 100, c.After.Blocks, "%+v", c)
	require.Less(t, c.After.Bytes, c.Before.Bytes*8/10)

	db, err = a.Open(ctx, addr)
	require.NoError(t, err)
	require.Equal(t, want, enginetest.Dump(t, db.Collection("todos")))
	_, err = db.Collection("todos").InsertOne(ctx, engine.M{"_id": "after"})
	require.NoError(t, err)

	j := enginetest.NewEngine(t)
	enginetest.ConnectAll(t, a, j)
	dbj, err := j.JoinFromSnapshot(ctx, addr, a.ID())
	require.NoError(t, err)
	enginetest.Converged(t, 30*time.Second, 51, db.Collection("todos"), dbj.Collection("todos"))
}
