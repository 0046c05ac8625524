package replication_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/enginetest"
	"github.com/latticedb/lattice/internal/poll"
)

// TestPubsubWatchdogRevivesAPeerPubsubGaveUpOn: go-libp2p-pubsub forgets
// a peer whose outbound stream died four times while it stayed connected,
// and then nothing the node publishes reaches that peer. The watchdog
// notices, reconnects, and replication flows again. It runs between
// engines (the node's owner) so that replication is seen end to end.
func TestPubsubWatchdogRevivesAPeerPubsubGaveUpOn(t *testing.T) {
	ctx := context.Background()
	a := enginetest.NewEngine(t, engine.WithPubsubWatchdog(250*time.Millisecond))
	b := enginetest.NewEngine(t)
	enginetest.ConnectAll(t, a, b)
	dbA, err := a.Create(ctx, "watchdog", engine.WithAccess(accesscontrol.Open()))
	require.NoError(t, err)
	octx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	dbB, err := b.Open(octx, dbA.Address())
	require.NoError(t, err)
	ca, cb := dbA.Collection("c"), dbB.Collection("c")
	_, err = ca.InsertOne(ctx, engine.M{"_id": "before"})
	require.NoError(t, err)
	enginetest.Converged(t, 30*time.Second, 1, ca, cb)

	// Kill a's outbound pubsub stream to b each time pubsub opens a new
	// one, until pubsub gives up on b while still connected to it.
	gaveUp := false
	for round := 0; round < 20 && !gaveUp; round++ {
		poll.Eventually(t, 10*time.Second, func() error {
			if !slices.Contains(a.PubSub().ListPeers(""), b.ID()) {
				gaveUp = true
				return nil
			}
			if s := enginetest.OutboundPubsubStream(a, b); s != nil {
				return s.Reset()
			}
			return errors.New("no outbound pubsub stream yet")
		})
	}
	require.True(t, gaveUp, "pubsub never gave up on the peer")

	// A write on a must reach b: only after a repair reconnected b. The
	// first stream death already dropped b from a's topic (gossipsub
	// forgets the peer's subscriptions with its stream), so the replica's
	// lost-subscription check (Config.LostSubscription) may reconnect b
	// before pubsub gives up and the watchdog looks: on a loaded machine
	// (-race) it did, once in 20 runs. Either repair will do here.
	_, err = ca.InsertOne(ctx, engine.M{"_id": "after"})
	require.NoError(t, err)
	enginetest.Converged(t, 30*time.Second, 2, ca, cb)
	require.NotZero(t, a.PubsubRevivals()+a.RelaySwitchRepairs(), "replication resumed without a repair")
	require.Equal(t, network.Connected, a.Host().Network().Connectedness(b.ID()))
}

func TestPubsubWatchdogOption(t *testing.T) {
	_, err := engine.New(context.Background(), engine.WithInMemory(), engine.WithPubsubWatchdog(-time.Second))
	require.ErrorIs(t, err, engine.ErrBadOption)
	e := enginetest.NewEngine(t, engine.WithPubsubWatchdog(0))
	require.Zero(t, e.PubsubRevivals(), fmt.Sprint("off: ", e.ID()))
}
