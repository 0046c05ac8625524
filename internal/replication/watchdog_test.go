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

	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/enginetest"
	"github.com/latticedb/lattice/internal/poll"
)

// TestPubsubWatchdogRevivesAPeerPubsubGaveUpOn: go-libp2p-pubsub forgets
// a peer whose outbound stream died four times while it stayed connected,
// and then nothing the node publishes reaches that peer. The watchdog
// notices, reconnects, and pubsub holds the peer again. No database is
// open: with one, the lost-subscription repair (relayswitch.go) may mend
// the same fault first, and only the watchdog covers a peer with no
// database in common.
func TestPubsubWatchdogRevivesAPeerPubsubGaveUpOn(t *testing.T) {
	a := enginetest.NewEngine(t, engine.WithPubsubWatchdog(250*time.Millisecond))
	b := enginetest.NewEngine(t)
	enginetest.ConnectAll(t, a, b)
	poll.Eventually(t, 10*time.Second, func() error {
		if !slices.Contains(a.PubSub().ListPeers(""), b.ID()) {
			return errors.New("pubsub does not hold the peer yet")
		}
		return nil
	})

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

	poll.Eventually(t, 30*time.Second, func() error {
		if a.PubsubRevivals() == 0 {
			return errors.New("the watchdog has not reconnected the peer")
		}
		if !slices.Contains(a.PubSub().ListPeers(""), b.ID()) {
			return errors.New("pubsub does not hold the peer again")
		}
		return nil
	})
	require.Equal(t, network.Connected, a.Host().Network().Connectedness(b.ID()))
}

func TestPubsubWatchdogOption(t *testing.T) {
	_, err := engine.New(context.Background(), engine.WithInMemory(), engine.WithPubsubWatchdog(-time.Second))
	require.ErrorIs(t, err, engine.ErrBadOption)
	e := enginetest.NewEngine(t, engine.WithPubsubWatchdog(0))
	require.Zero(t, e.PubsubRevivals(), fmt.Sprint("off: ", e.ID()))
}
