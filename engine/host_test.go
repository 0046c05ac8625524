package engine_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/enginetest"
	"github.com/latticedb/lattice/transports"
)

// testHost builds a loopback host the way an embedder or the simulator
// would, outside the engine; the test closes it.
func testHost(t *testing.T) host.Host {
	t.Helper()
	key, _, err := crypto.GenerateEd25519Key(nil)
	require.NoError(t, err)
	h, err := transports.New(transports.Config{Identity: key, ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, h.Close()) })
	return h
}

// TestEnginesOnGivenHosts runs two engines on hosts the test built: they
// take their identity from the host, converge, and leave the host open
// (and free of their protocol handlers) when they close.
func TestEnginesOnGivenHosts(t *testing.T) {
	ctx := context.Background()
	ha, hb := testHost(t), testHost(t)
	before := len(ha.Mux().Protocols())

	a, err := engine.New(ctx, engine.WithInMemory(), engine.WithHost(ha), engine.WithRebroadcastInterval(2*time.Second))
	require.NoError(t, err)
	b, err := engine.New(ctx, engine.WithInMemory(), engine.WithHost(hb), engine.WithRebroadcastInterval(2*time.Second))
	require.NoError(t, err)
	require.Equal(t, ha.ID(), a.ID(), "the engine is the host's peer")
	require.Greater(t, len(ha.Mux().Protocols()), before, "the engine serves its protocols on the given host")

	require.NoError(t, a.Connect(ctx, peer.AddrInfo{ID: hb.ID(), Addrs: hb.Addrs()}))
	dba, err := a.Create(ctx, "given-hosts", engine.WithAccess(accesscontrol.Open()))
	require.NoError(t, err)
	dbb, err := b.Open(ctx, dba.Address())
	require.NoError(t, err)
	ca, cb := dba.Collection("c"), dbb.Collection("c")
	for i := 0; i < 10; i++ {
		_, err := ca.InsertOne(ctx, engine.M{"_id": fmt.Sprintf("a%d", i)})
		require.NoError(t, err)
		_, err = cb.InsertOne(ctx, engine.M{"_id": fmt.Sprintf("b%d", i)})
		require.NoError(t, err)
	}
	enginetest.Converged(t, 30*time.Second, 20, ca, cb)

	require.NoError(t, a.Close())
	require.NoError(t, b.Close())
	require.Len(t, ha.Mux().Protocols(), before, "Close removes the handlers the engine added")
	// The hosts still run: they can dial each other after the engines are gone.
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	require.NoError(t, ha.Connect(cctx, peer.AddrInfo{ID: hb.ID(), Addrs: hb.Addrs()}))
}

// TestWithHostRefusesHostOptions: options that configure a host make no
// sense with a host given, and say so instead of being ignored.
func TestWithHostRefusesHostOptions(t *testing.T) {
	h := testHost(t)
	_, err := engine.New(context.Background(), engine.WithInMemory(), engine.WithHost(h), engine.WithListenAddrs("/ip4/127.0.0.1/tcp/0"))
	require.ErrorIs(t, err, engine.ErrBadOption)
	require.ErrorContains(t, err, "WithHost")
	_, err = engine.New(context.Background(), engine.WithInMemory(), engine.WithHost(nil))
	require.ErrorIs(t, err, engine.ErrBadOption)
}

// TestWithTransports: the engine's host speaks the chosen transports only,
// listening on their default addresses, and a host given with WithHost
// refuses them.
func TestWithTransports(t *testing.T) {
	e, err := engine.New(context.Background(), engine.WithInMemory(), engine.WithTransports(transports.QUIC()),
		engine.WithListenAddrs("/ip4/127.0.0.1/udp/0/quic-v1"), engine.WithNAT(transports.NATConfig{HolePunching: transports.Off}))
	require.NoError(t, err)
	defer e.Close()
	for _, a := range e.Addrs() {
		require.Contains(t, a.String(), "/quic-v1/", "only QUIC")
	}
	require.NotNil(t, transports.TraversalOf(e.Host()), "the engine's own host reports NAT traversal")

	_, err = engine.New(context.Background(), engine.WithInMemory(), engine.WithTransports())
	require.ErrorIs(t, err, engine.ErrBadOption)
	_, err = engine.New(context.Background(), engine.WithInMemory(), engine.WithHost(testHost(t)), engine.WithTransports(transports.TCP()))
	require.ErrorContains(t, err, "WithTransports")
}
