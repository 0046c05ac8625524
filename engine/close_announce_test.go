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
	"github.com/latticedb/lattice/internal/poll"
)

// TestCloseRightAfterWritesAnnouncesThem: announcements are throttled, so
// the last writes before a database closes may still wait for the send
// loop. A closed database never rebroadcasts, so Close must announce them:
// the peer gets every write.
func TestCloseRightAfterWritesAnnouncesThem(t *testing.T) {
	ctx := context.Background()
	a, b := enginetest.NewEngine(t), enginetest.NewEngine(t)
	enginetest.ConnectAll(t, a, b)
	for round := 0; round < 5; round++ {
		dbA, err := a.Create(ctx, fmt.Sprintf("close-%d", round), engine.WithAccess(accesscontrol.Open()))
		require.NoError(t, err)
		dbB := enginetest.Open(t, b, dbA.Address())
		cb := dbB.Collection("c")
		_, err = dbA.Collection("c").InsertOne(ctx, engine.M{"_id": "warm"})
		require.NoError(t, err)
		enginetest.Converged(t, 20*time.Second, 1, dbA.Collection("c"), cb)
		const n = 20
		for i := 0; i < n; i++ {
			_, err := dbA.Collection("c").InsertOne(ctx, engine.M{"_id": fmt.Sprint(i)})
			require.NoError(t, err)
		}
		require.NoError(t, dbA.Close())
		poll.Eventually(t, 15*time.Second, func() error {
			got, err := cb.CountDocuments(ctx, nil)
			if err != nil || got != n+1 {
				return fmt.Errorf("round %d: b holds %d of %d (%v)", round, got, n+1, err)
			}
			return nil
		})
	}
}
