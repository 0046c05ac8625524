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
	"github.com/latticedb/lattice/internal/replication"
)

// TestJoinExchangesHeadsWithoutFlooding: a replica back with offline
// writes (b) meets one member (a) of a database another member (c) also
// replicates. a and b exchange heads directly; a announces b's heads, new
// to it, once merged, so c gets b's writes too; c hears of the join
// through that one announcement, not a topic-wide flood of both sides'
// heads.
func TestJoinExchangesHeadsWithoutFlooding(t *testing.T) {
	ctx := context.Background()
	a := enginetest.NewEngine(t, noRebroadcast)
	b := enginetest.NewEngine(t, noRebroadcast)
	c := enginetest.NewEngine(t, noRebroadcast)
	dbA, err := a.Create(ctx, "join-heads", engine.WithAccess(accesscontrol.Open()))
	require.NoError(t, err)
	enginetest.ConnectAll(t, a, b, c)
	dbB, dbC := enginetest.Open(t, b, dbA.Address()), enginetest.Open(t, c, dbA.Address())
	ca, cb, cc := dbA.Collection("c"), dbB.Collection("c"), dbC.Collection("c")
	enginetest.Partition(t, b, a, c)

	_, err = ca.InsertOne(ctx, engine.M{"_id": "a1"})
	require.NoError(t, err)
	enginetest.Converged(t, 20*time.Second, 1, ca, cc)

	for _, id := range []string{"b1", "b2"} { // offline: b has no peer
		_, err := cb.InsertOne(ctx, engine.M{"_id": id})
		require.NoError(t, err)
	}
	before := dbC.Stats().HeadsReceived
	enginetest.ConnectAll(t, a, b)
	enginetest.Converged(t, 20*time.Second, 3, ca, cb, cc)

	require.NotZero(t, dbA.Stats().HeadsServed, "a served its heads to b")
	require.NotZero(t, dbB.Stats().HeadsServed, "b served its heads to a")
	for i, db := range []*engine.Database{dbA, dbB, dbC} {
		require.Zero(t, db.Stats().HeadsSentOnJoin, "replica %d announced its heads on the topic for a join", i)
	}
	// What c heard: what each side of the join learnt that was new to it,
	// forwarded once (b's head by a, a's by b), and what an exchange with
	// b brings if c meets it meanwhile. Announcing the join on the topic
	// sent c each side's heads four times.
	if got := dbC.Stats().HeadsReceived - before; got > 3 {
		t.Fatalf("c received %d heads for one join", got)
	}
}

// TestJoinFallsBackToTopicForPeersWithoutHeadsExchange: a peer that does
// not speak the heads exchange (an older Lattice) still learns a member's
// heads when it joins: they are announced on the topic instead. Neither
// side serves the exchange here, so each learns the other's writes only
// from that fallback.
func TestJoinFallsBackToTopicForPeersWithoutHeadsExchange(t *testing.T) {
	ctx := context.Background()
	a := enginetest.NewEngine(t, noRebroadcast)
	old := enginetest.NewEngine(t, noRebroadcast)
	a.Host().RemoveStreamHandler(replication.HeadsProtocol)
	old.Host().RemoveStreamHandler(replication.HeadsProtocol)
	dbA, err := a.Create(ctx, "join-old", engine.WithAccess(accesscontrol.Open()))
	require.NoError(t, err)
	enginetest.ConnectAll(t, a, old)
	dbOld := enginetest.Open(t, old, dbA.Address())
	enginetest.Partition(t, old, a)
	for i := range 3 {
		_, err := dbA.Collection("c").InsertOne(ctx, engine.M{"_id": fmt.Sprint("a", i)})
		require.NoError(t, err)
	}
	_, err = dbOld.Collection("c").InsertOne(ctx, engine.M{"_id": "old"})
	require.NoError(t, err)
	enginetest.ConnectAll(t, a, old)
	enginetest.Converged(t, 20*time.Second, 4, dbA.Collection("c"), dbOld.Collection("c"))
	for _, db := range []*engine.Database{dbA, dbOld} {
		require.NotZero(t, db.Stats().HeadsSentOnJoin, "announced on the topic for the join")
	}
}
