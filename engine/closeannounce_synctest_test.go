package engine_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	blocks "github.com/ipfs/go-block-format"
	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/enginetest"
	"github.com/latticedb/lattice/internal/poll"
	"github.com/latticedb/lattice/internal/simtest"
)

// TestSynctestCloseRightAfterWritesAnnouncesThem is
// TestCloseRightAfterWritesAnnouncesThem under synctest: the writes a
// database makes just before Close wait for the send loop's throttle, and
// Close announces them; with no rebroadcast to rescue a lost one, the peer
// gets every write.
func TestSynctestCloseRightAfterWritesAnnouncesThem(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := simtest.New(t, 5)
		ctx := context.Background()
		a, b := n.Engine(noRebroadcast), n.Engine(noRebroadcast)
		n.ConnectAll(a, b)
		for round := 0; round < 5; round++ {
			dbA, err := a.Create(ctx, fmt.Sprintf("close-%d", round), engine.WithAccess(accesscontrol.Open()))
			require.NoError(t, err)
			dbB := enginetest.Open(t, b, dbA.Address())
			cb := dbB.Collection("c")
			_, err = dbA.Collection("c").InsertOne(ctx, engine.M{"_id": "warm"})
			require.NoError(t, err)
			n.Converged(time.Minute, 1, dbA.Collection("c"), cb)
			const writes = 20
			for i := 0; i < writes; i++ {
				_, err := dbA.Collection("c").InsertOne(ctx, engine.M{"_id": fmt.Sprint(i)})
				require.NoError(t, err)
			}
			require.NoError(t, dbA.Close())
			poll.Eventually(t, time.Minute, func() error {
				got, err := cb.CountDocuments(ctx, nil)
				if err != nil || got != writes+1 {
					return fmt.Errorf("round %d: b holds %d of %d (%v)", round, got, writes+1, err)
				}
				return nil
			})
		}
	})
}

// TestSynctestEvictedQueuedHeadIsFetchedAgain is
// TestEvictedQueuedHeadIsFetchedAgain under synctest: a queued head whose
// block is gone by the time go-ds-crdt asks goes back to the bounded
// background fetch, which fails after the fetch timeout of virtual time.
func TestSynctestEvictedQueuedHeadIsFetchedAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := simtest.New(t, 6)
		e := n.Engine(engine.WithFetchTimeout(time.Second))
		db, err := e.Create(context.Background(), "notes")
		require.NoError(t, err)
		blk := blocks.NewBlock([]byte("a head nobody serves"))
		start := time.Now()
		engine.EnqueueHead(db, blk.Cid())
		poll.Eventually(t, time.Minute, func() error {
			if db.Stats().FetchFailures == 0 {
				return errors.New("the evicted head was not fetched again")
			}
			return nil
		})
		// The fetch timeout, not go-ds-crdt's DAG sync timeout (minutes).
		require.Less(t, time.Since(start), 5*time.Second)
	})
}
