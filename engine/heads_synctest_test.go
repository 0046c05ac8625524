package engine_test

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/enginetest"
	"github.com/latticedb/lattice/internal/replication"
	"github.com/latticedb/lattice/internal/simtest"
)

// The heads exchange on a simulated network, under synctest (see
// heads_test.go for the same on loopback TCP). The rebroadcast is an hour:
// only the join can bring the heads.

// TestSynctestJoinExchangesHeads: a replica back with offline writes (b)
// meets one member (a) of a database another member (c) replicates; the
// heads go both ways over the exchange, a forwards b's to c once merged,
// and nobody floods the topic for the join.
func TestSynctestJoinExchangesHeads(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := simtest.New(t, 1)
		ctx := context.Background()
		a, b, c := n.Engine(noRebroadcast), n.Engine(noRebroadcast), n.Engine(noRebroadcast)
		dbA, err := a.Create(ctx, "join-heads", engine.WithAccess(accesscontrol.Open()))
		require.NoError(t, err)
		n.ConnectAll(a, b, c)
		dbB, dbC := enginetest.Open(t, b, dbA.Address()), enginetest.Open(t, c, dbA.Address())
		ca, cb, cc := dbA.Collection("c"), dbB.Collection("c"), dbC.Collection("c")
		n.Cut(b, a, c)

		_, err = ca.InsertOne(ctx, engine.M{"_id": "a1"})
		require.NoError(t, err)
		n.Converged(time.Minute, 1, ca, cc)
		for _, id := range []string{"b1", "b2"} { // offline: b has no peer
			_, err := cb.InsertOne(ctx, engine.M{"_id": id})
			require.NoError(t, err)
		}
		before := dbC.Stats().HeadsReceived
		n.Heal()
		n.ConnectAll(a, b)
		n.Converged(time.Minute, 3, ca, cb, cc)

		require.NotZero(t, dbA.Stats().HeadsServed, "a served its heads to b")
		require.NotZero(t, dbB.Stats().HeadsServed, "b served its heads to a")
		for i, db := range []*engine.Database{dbA, dbB, dbC} {
			require.Zero(t, db.Stats().HeadsSentOnJoin, "replica %d announced its heads on the topic for a join", i)
		}
		if got := dbC.Stats().HeadsReceived - before; got > 3 {
			t.Fatalf("c received %d heads for one join", got)
		}
	})
}

// TestSynctestJoinFallsBackToTopic: peers that do not speak the heads
// exchange learn each other's heads from announcements on the topic.
func TestSynctestJoinFallsBackToTopic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := simtest.New(t, 2)
		ctx := context.Background()
		a, old := n.Engine(noRebroadcast), n.Engine(noRebroadcast)
		a.Host().RemoveStreamHandler(replication.HeadsProtocol)
		old.Host().RemoveStreamHandler(replication.HeadsProtocol)
		dbA, err := a.Create(ctx, "join-old", engine.WithAccess(accesscontrol.Open()))
		require.NoError(t, err)
		n.ConnectAll(a, old)
		dbOld := enginetest.Open(t, old, dbA.Address())
		n.Cut(old, a)
		for i := range 3 {
			_, err := dbA.Collection("c").InsertOne(ctx, engine.M{"_id": fmt.Sprint("a", i)})
			require.NoError(t, err)
		}
		_, err = dbOld.Collection("c").InsertOne(ctx, engine.M{"_id": "old"})
		require.NoError(t, err)
		n.Heal()
		n.ConnectAll(a, old)
		n.Converged(time.Minute, 4, dbA.Collection("c"), dbOld.Collection("c"))
		for _, db := range []*engine.Database{dbA, dbOld} {
			require.NotZero(t, db.Stats().HeadsSentOnJoin, "announced on the topic for the join")
		}
	})
}

// TestSynctestJoinAfterWritesOnBothSides: two replicas that wrote while
// apart, with nothing else to tell them (no rebroadcast, no new write),
// converge from the join alone; repeated with several seeds so that the
// order in which the two sides see the join varies.
func TestSynctestJoinAfterWritesOnBothSides(t *testing.T) {
	for seed := uint64(10); seed < 15; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := simtest.New(t, seed)
				ctx := context.Background()
				a, b := n.Engine(noRebroadcast), n.Engine(noRebroadcast)
				dbA, err := a.Create(ctx, "both-sides", engine.WithAccess(accesscontrol.Open()))
				require.NoError(t, err)
				n.ConnectAll(a, b)
				dbB := enginetest.Open(t, b, dbA.Address())
				n.Cut(a, b)
				_, err = dbA.Collection("c").InsertOne(ctx, engine.M{"_id": "a"})
				require.NoError(t, err)
				_, err = dbB.Collection("c").InsertOne(ctx, engine.M{"_id": "b"})
				require.NoError(t, err)
				n.Heal()
				n.ConnectAll(a, b)
				n.Converged(time.Minute, 2, dbA.Collection("c"), dbB.Collection("c"))
			})
		})
	}
}
