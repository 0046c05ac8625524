package engine_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/enginetest"
	"github.com/latticedb/lattice/internal/poll"
	"github.com/latticedb/lattice/internal/replication"
	"github.com/latticedb/lattice/internal/simtest"
)

// TestSynctestLostSubscriptionIsRepaired: when a's outbound pubsub
// stream to b dies while the two stay connected, go-libp2p-pubsub v0.19
// forgets b's subscriptions on a (handleDeadPeers clears them) and opens
// a new stream to b; b's stream to a lives on, so b never says again what
// it is subscribed to. a keeps b as a pubsub peer (the watchdog sees
// nothing wrong) but no longer lists it on the database's topic: nothing
// a publishes reaches b, the rebroadcast included ("nobody to tell"). The
// engine must notice (b left the topic without closing the database) and
// make pubsub start afresh, so a's next write reaches b.
func TestSynctestLostSubscriptionIsRepaired(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := simtest.New(t, 3)
		ctx := context.Background()
		a, b := n.Engine(), n.Engine()
		n.ConnectAll(a, b)
		dbA, err := a.Create(ctx, "lost-sub", engine.WithAccess(accesscontrol.Open()))
		require.NoError(t, err)
		dbB := enginetest.Open(t, b, dbA.Address())
		ca, cb := dbA.Collection("c"), dbB.Collection("c")
		_, err = ca.InsertOne(ctx, engine.M{"_id": "before"})
		require.NoError(t, err)
		n.Converged(time.Minute, 1, ca, cb)

		addr, err := engine.ParseAddress(dbA.Address())
		require.NoError(t, err)
		topic := replication.TopicName(addr.Manifest)
		require.Contains(t, a.PubSub().ListPeers(topic), b.ID())
		s := enginetest.OutboundPubsubStream(a, b)
		require.NotNil(t, s)
		require.NoError(t, s.Reset())
		// pubsub on a drops b from the topic and opens a new stream.
		poll.Eventually(t, time.Minute, func() error {
			if slices.Contains(a.PubSub().ListPeers(topic), b.ID()) {
				return errors.New("a still lists b on the topic")
			}
			if !slices.Contains(a.PubSub().ListPeers(""), b.ID()) {
				return errors.New("a dropped b as a pubsub peer")
			}
			return nil
		})
		// b saw a leave and join again (a's new stream reset b's inbound
		// one) and pulled a's heads: let that finish (a few round trips
		// of virtual time), so the write below can reach b only by
		// announcement, that is only once a lists b again.
		poll.Eventually(t, time.Minute, func() error {
			if !slices.Contains(b.PubSub().ListPeers(topic), a.ID()) {
				return errors.New("b does not list a on the topic")
			}
			return nil
		})
		time.Sleep(200 * time.Millisecond)
		_, err = ca.InsertOne(ctx, engine.M{"_id": "after"})
		require.NoError(t, err)
		start := time.Now()
		n.Converged(2*simtest.Rebroadcast, 2, ca, cb)
		t.Logf("repaired and converged after %s of virtual time", time.Since(start))
		require.NotZero(t, dbA.Stats().LostSubscriptions, "a found that pubsub lost b")
		poll.Eventually(t, time.Minute, func() error {
			if !slices.Contains(a.PubSub().ListPeers(topic), b.ID()) {
				return fmt.Errorf("a does not list b on the topic again")
			}
			return nil
		})
	})
}

// TestSynctestClosedDatabaseIsNotALostSubscription: a peer that closes
// the database leaves the topic while it stays connected, like a peer
// whose subscription gossipsub forgot; but its heads exchange refuses,
// so it is not reconnected.
func TestSynctestClosedDatabaseIsNotALostSubscription(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := simtest.New(t, 11)
		ctx := context.Background()
		a, b := n.Engine(), n.Engine()
		n.ConnectAll(a, b)
		dbA, err := a.Create(ctx, "closed", engine.WithAccess(accesscontrol.Open()))
		require.NoError(t, err)
		dbB := enginetest.Open(t, b, dbA.Address())
		_, err = dbA.Collection("c").InsertOne(ctx, engine.M{"_id": "x"})
		require.NoError(t, err)
		n.Converged(time.Minute, 1, dbA.Collection("c"), dbB.Collection("c"))
		conns := len(a.Host().Network().ConnsToPeer(b.ID()))
		require.NoError(t, dbB.Close())
		time.Sleep(time.Minute) // many times the check's wait
		require.Zero(t, dbA.Stats().LostSubscriptions)
		require.Zero(t, a.RelaySwitchRepairs())
		require.Len(t, a.Host().Network().ConnsToPeer(b.ID()), conns, "the connection was not touched")
	})
}
