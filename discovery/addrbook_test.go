package discovery_test

import (
	"context"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/discovery"
	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/enginetest"
	"github.com/latticedb/lattice/internal/poll"
)

// A peer found through the DHT enters the database's address book: after a
// restart without any discovery, the replica redials it from the book and
// catches up on what it missed.
func TestDHTFoundPeersAreRemembered(t *testing.T) {
	ctx := context.Background()
	boot := dhtNet(t, 4)
	dht := func() engine.Option {
		return engine.WithDiscovery(discovery.DHT(discovery.DHTConfig{Mode: discovery.DHTClient, BootstrapPeers: boot,
			Rendezvous: discovery.RendezvousConfig{MinInterval: 500 * time.Millisecond, MaxInterval: 2 * time.Second}}))
	}
	on := engine.WithReconnect(true)
	a := enginetest.NewEngine(t, on, dht())
	bdir := t.TempDir()
	b, err := engine.New(ctx, append(enginetest.Options(bdir), on, dht())...)
	require.NoError(t, err)

	dba, err := a.Create(ctx, "remembered", engine.WithAccess(accesscontrol.Open()))
	require.NoError(t, err)
	var dbb *engine.Database
	poll.Eventually(t, 60*time.Second, func() error {
		octx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		dbb, err = b.Open(octx, dba.Address())
		return err
	})
	_, err = dba.Collection("c").InsertOne(ctx, engine.M{"_id": "before"})
	require.NoError(t, err)
	enginetest.Converged(t, 60*time.Second, 1, dba.Collection("c"), dbb.Collection("c"))
	require.NoError(t, b.Close())

	_, err = dba.Collection("c").InsertOne(ctx, engine.M{"_id": "missed"})
	require.NoError(t, err)
	b = enginetest.NewEngineAt(t, bdir, on) // no discovery at all this time
	dbb, err = b.Open(ctx, dba.Address())   // the manifest is local
	require.NoError(t, err)
	enginetest.Converged(t, 60*time.Second, 2, dba.Collection("c"), dbb.Collection("c"))
	require.Equal(t, network.Connected, b.Host().Network().Connectedness(a.ID()))
	require.NotZero(t, dbb.Stats().Reconnects, "the restarted replica redialled the peer the DHT had found")
}
