package engine_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/enginetest"
	"github.com/latticedb/lattice/internal/poll"
)

// TestAutoCompact: a database compacts by itself once the blocks it
// merged since its last compaction reach the threshold, counted, not
// timed: never before, once at it, and again after as many more. An
// archive never compacts, by itself or by hand.
func TestAutoCompact(t *testing.T) {
	ctx := context.Background()
	// 10 live documents: factor 1 asks for 10 blocks, the minimum 40.
	a := enginetest.NewEngine(t, engine.WithAutoCompact(1, 40))
	db, err := a.Create(ctx, "auto")
	require.NoError(t, err)
	c := db.Collection("c")
	write := func(i int) {
		t.Helper()
		var err error
		if i < 10 {
			_, err = c.InsertOne(ctx, engine.M{"_id": fmt.Sprint(i)})
		} else {
			_, err = c.UpdateOne(ctx, engine.M{"_id": fmt.Sprint(i % 10)}, engine.M{"$set": engine.M{"n": i}})
		}
		require.NoError(t, err)
	}
	compactions := func(want uint64) {
		t.Helper()
		poll.Eventually(t, 30*time.Second, func() error {
			if got := db.Stats().History.Compactions; got != want {
				return fmt.Errorf("%d compactions, want %d", got, want)
			}
			return nil
		})
	}
	for i := 0; i < 39; i++ {
		write(i)
	}
	require.Zero(t, db.Stats().History.Compactions, "39 blocks: below the minimum")
	require.EqualValues(t, 39, db.Stats().History.Merged)
	write(39)
	compactions(1)
	st := db.Stats()
	require.NotNil(t, st.LastSnapshot)
	require.EqualValues(t, 40, st.LastSnapshot.Covered)
	// The 40th block's marker starts the compaction, and go-ds-crdt makes
	// the block a head just after: the snapshot may list its parent.
	require.Contains(t, []uint64{39, 40}, st.LastSnapshot.Height)
	for i := 40; i < 79; i++ {
		write(i)
	}
	require.EqualValues(t, 1, db.Stats().History.Compactions)
	write(79)
	compactions(2)
	n, err := c.CountDocuments(ctx, nil)
	require.NoError(t, err)
	require.EqualValues(t, 10, n)

	arch := enginetest.NewEngine(t, engine.WithArchive(), engine.WithAutoCompact(1, 1))
	adb, err := arch.Create(ctx, "archive")
	require.NoError(t, err)
	for i := 0; i < 20; i++ {
		_, err := adb.Collection("c").InsertOne(ctx, engine.M{"_id": fmt.Sprint(i)})
		require.NoError(t, err)
	}
	_, err = adb.Compact(ctx)
	require.ErrorIs(t, err, engine.ErrArchive)
	_, err = arch.Compact(ctx, adb.Address())
	require.ErrorIs(t, err, engine.ErrArchive)
	require.Zero(t, adb.Stats().History.Compactions)
}
