package transports_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/holepunch"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/poll"
	"github.com/latticedb/lattice/transports"
	"github.com/latticedb/lattice/transports/relay"
)

// TestRelayedToDirectSwitch: two engines meet through a relay and
// replicate over the circuit; then a direct connection appears (what a
// hole punch makes): the Traversal reports it hole-punched, new streams
// take it, the side with the lower peer ID closes the relay circuit, and
// replication goes on over the direct connection, both ways, gossipsub's
// announcements and large blocks (bitswap) included. Run it with
// -count=20: the close races gossipsub's stream handling (see the engine's
// relayswitch.go), which the engine repairs.
func TestRelayedToDirectSwitch(t *testing.T) {
	ctx := t.Context()
	r, err := relay.Start(relay.Config{Listen: []string{"/ip4/127.0.0.1/tcp/0"}})
	require.NoError(t, err)
	defer r.Close()

	nat := transports.NATConfig{HolePunching: transports.Off}
	mk := func() host.Host {
		h, err := transports.New(transports.Config{Identity: newKey(t), ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"},
			Relays: []peer.AddrInfo{r.AddrInfo()}, NAT: nat})
		require.NoError(t, err)
		return h
	}
	ha, hb := mk(), mk()
	defer ha.Close()
	defer hb.Close()
	ta, tb := transports.TraversalOf(ha), transports.TraversalOf(hb)

	var circuit ma.Multiaddr
	poll.Eventually(t, 30*time.Second, func() error {
		for _, a := range hb.Addrs() {
			if transports.IsRelayed(a) {
				circuit = a
				return nil
			}
		}
		return errNoCircuit
	})
	var direct []ma.Multiaddr
	for _, a := range hb.Addrs() {
		if !transports.IsRelayed(a) {
			direct = append(direct, a)
		}
	}

	a, err := engine.New(ctx, engine.WithInMemory(), engine.WithHost(ha), engine.WithReconnect(false), engine.WithRebroadcastInterval(time.Second))
	require.NoError(t, err)
	defer a.Close()
	b, err := engine.New(ctx, engine.WithInMemory(), engine.WithHost(hb), engine.WithReconnect(false), engine.WithRebroadcastInterval(time.Second))
	require.NoError(t, err)
	defer b.Close()
	require.NoError(t, ha.Connect(ctx, peer.AddrInfo{ID: hb.ID(), Addrs: []ma.Multiaddr{circuit}}))
	require.Equal(t, transports.KindRelayed, ta.Kind(hb.ID()))
	require.Equal(t, transports.KindRelayed, transports.KindOf(ha, hb.ID()))

	dba, err := a.Create(ctx, "switch", engine.WithAccess(accesscontrol.Open()))
	require.NoError(t, err)
	dbb, err := b.Open(ctx, dba.Address())
	require.NoError(t, err)
	ca, cb := dba.Collection("c"), dbb.Collection("c")
	insert := func(c *engine.Collection, prefix string, n int) {
		for i := 0; i < n; i++ {
			_, err := c.InsertOne(ctx, engine.M{"_id": fmt.Sprintf("%s%d", prefix, i)})
			require.NoError(t, err)
		}
	}
	insert(ca, "relayed-a", 10)
	insert(cb, "relayed-b", 10)
	count(t, 20, ca, cb)
	require.Equal(t, transports.KindRelayed, ta.Kind(hb.ID()), "still only the circuit")

	// The direct connection, and the event DCUtR would have traced.
	// A connected peer is not dialed again unless the dial is forced, as
	// DCUtR forces it.
	require.NoError(t, ha.Connect(network.WithForceDirectDial(ctx, "test"), peer.AddrInfo{ID: hb.ID(), Addrs: direct}))
	tb.Trace(&holepunch.Event{Remote: ha.ID(), Type: holepunch.EndHolePunchEvtT, Evt: &holepunch.EndHolePunchEvt{Success: true}})
	ta.Trace(&holepunch.Event{Remote: hb.ID(), Type: holepunch.EndHolePunchEvtT, Evt: &holepunch.EndHolePunchEvt{Success: true}})
	require.Equal(t, transports.KindHolePunched, ta.Kind(hb.ID()))
	require.Equal(t, transports.KindHolePunched, tb.Kind(ha.ID()))
	require.Equal(t, transports.KindDirect, transports.KindOf(ha, hb.ID()))
	require.Equal(t, map[transports.ConnKind]int{transports.KindDirect: 1, transports.KindHolePunched: 1, transports.KindRelayed: 0}, ta.Connections(), "the relay is the direct one")

	// The circuit closes (on the side with the lower ID), on both sides.
	poll.Eventually(t, 30*time.Second, func() error {
		for _, h := range []host.Host{ha, hb} {
			for _, c := range h.Network().Conns() {
				if transports.IsRelayed(c.RemoteMultiaddr()) {
					return fmt.Errorf("%s still has the circuit %s", h.ID(), c.RemoteMultiaddr())
				}
			}
		}
		return nil
	})
	closedA, closedB := ta.CircuitsClosed(), tb.CircuitsClosed()
	require.Positive(t, closedA+closedB, "the Traversal closed it")
	require.True(t, closedA == 0 || closedB == 0, "only one side closes circuits: a %d, b %d", closedA, closedB)
	require.Equal(t, transports.KindHolePunched, ta.Kind(hb.ID()))
	require.Equal(t, transports.KindHolePunched, tb.Kind(ha.ID()))

	gotA, gotB := dba.Stats().HeadsReceived, dbb.Stats().HeadsReceived
	insert(ca, "direct-a", 10)
	insert(cb, "direct-b", 10)
	big := make([]byte, 300<<10) // past the inline limit: bitswap fetches it on a new stream
	for i := range big {
		big[i] = 'x'
	}
	_, err = ca.InsertOne(ctx, engine.M{"_id": "big", "body": string(big)})
	require.NoError(t, err)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("a: %+v\nb: %+v", dba.Stats(), dbb.Stats())
		}
	})
	count(t, 41, ca, cb)
	// Announcements came over gossipsub both ways after the switch (the
	// rebroadcast of the heads included), not only blocks over bitswap.
	poll.Eventually(t, 30*time.Second, func() error {
		if dba.Stats().HeadsReceived == gotA || dbb.Stats().HeadsReceived == gotB {
			return fmt.Errorf("no announcement since the switch: a %+v b %+v", dba.Stats(), dbb.Stats())
		}
		return nil
	})
	t.Logf("relay switch repairs: a %d, b %d", a.RelaySwitchRepairs(), b.RelaySwitchRepairs())
	s, err := ha.NewStream(ctx, hb.ID(), "/ipfs/id/1.0.0")
	require.NoError(t, err)
	require.False(t, transports.IsRelayed(s.Conn().RemoteMultiaddr()), "a new stream takes the direct connection")
	_ = s.Reset()
}

func count(t *testing.T, want int64, cs ...*engine.Collection) {
	t.Helper()
	poll.Eventually(t, 60*time.Second, func() error {
		for i, c := range cs {
			n, err := c.CountDocuments(t.Context(), engine.M{})
			if err != nil {
				return err
			}
			if n != want {
				return fmt.Errorf("replica %d has %d of %d", i, n, want)
			}
		}
		return nil
	})
}
