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

// TestSealedSnapshot: a sealed database compacts like a clear one, and
// its snapshot is what its store holds, sealed. A non-member that knows
// the address joins from it and holds none of the marker strings (in
// collection names, ids, field names and values) on disk, nor can read;
// a member that never opened the database joins from the same compacted
// replica and reads every document, then merges what comes next.
func TestSealedSnapshot(t *testing.T) {
	ctx := context.Background()
	snoopDir := t.TempDir()
	a, b := enginetest.NewEngine(t), enginetest.NewEngine(t)
	snoop := enginetest.NewEngineAt(t, snoopDir)
	enginetest.ConnectAll(t, a, b, snoop)

	db, err := a.Create(ctx, "sealed", engine.WithSealed(), engine.WithAccess(accesscontrol.Dynamic(a.ID())))
	require.NoError(t, err)
	require.NoError(t, db.Grant(ctx, b.ID(), accesscontrol.RoleWriter))
	rec, err := b.MemberRecord(ctx)
	require.NoError(t, err)
	require.NoError(t, db.Share(ctx, rec))
	todos := db.Collection("MARKERcoll")
	for i := 0; i < 60; i++ {
		_, err := todos.InsertOne(ctx, engine.M{"_id": fmt.Sprintf("MARKERid%02d", i), "MARKERfield": fmt.Sprintf("MARKERvalue%02d", i), "n": i})
		require.NoError(t, err)
	}
	for i := 0; i < 60; i += 3 {
		_, err := todos.UpdateOne(ctx, engine.M{"_id": fmt.Sprintf("MARKERid%02d", i)}, engine.M{"$inc": engine.M{"n": 1}})
		require.NoError(t, err)
	}
	for i := 0; i < 60; i += 4 {
		_, err := todos.DeleteOne(ctx, engine.M{"_id": fmt.Sprintf("MARKERid%02d", i)})
		require.NoError(t, err)
	}
	want := enginetest.Dump(t, todos)
	c, err := db.Compact(ctx)
	require.NoError(t, err)
	require.Less(t, c.After.Blocks, c.Before.Blocks, "%+v", c)
	require.Equal(t, want, enginetest.Dump(t, todos), "the compacted member reads the same")

	dbS, err := snoop.JoinFromSnapshot(ctx, db.Address(), a.ID())
	require.NoError(t, err)
	_, err = dbS.Collections(ctx)
	require.ErrorIs(t, err, engine.ErrNotReader)
	_, err = dbS.Collection("MARKERcoll").Find(ctx, engine.M{})
	require.ErrorIs(t, err, engine.ErrNotReader)

	dbB, err := b.JoinFromSnapshot(ctx, db.Address(), a.ID())
	require.NoError(t, err)
	require.Equal(t, want, enginetest.Dump(t, dbB.Collection("MARKERcoll")), "the member reads the whole snapshot at once")
	_, err = todos.InsertOne(ctx, engine.M{"_id": "tail"})
	require.NoError(t, err)
	enginetest.Converged(t, 30*time.Second, 46, todos, dbB.Collection("MARKERcoll"))
	require.Less(t, dbB.Stats().Catchup.Blocks, uint64(50), "the history came with the snapshot, not by catch-up")

	// Closed, the snoop's store has written out all it received.
	require.NoError(t, snoop.Close())
	require.Empty(t, markersIn(t, snoopDir, "MARKER"))
}
