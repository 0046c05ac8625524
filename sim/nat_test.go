package sim_test

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/internal/poll"
	"github.com/latticedb/lattice/sim"
)

// punch runs one DCUtR experiment: a behind a, b behind b, both with a
// reservation on a public relay; a dials b (through the relay unless b
// is public) and the outcome is how they end up connected.
func punch(t *testing.T, ta, tb sim.NATType) string {
	t.Helper()
	nw := sim.NewNetwork(sim.NetworkConfig{})
	rn := nw.AddNode(sim.NodeConfig{NAT: sim.Public, Latency: 10 * time.Millisecond})
	na := nw.AddNode(sim.NodeConfig{NAT: ta, Latency: 10 * time.Millisecond})
	nb := nw.AddNode(sim.NodeConfig{NAT: tb, Latency: 10 * time.Millisecond})
	nw.Start()
	defer nw.Close()
	r, err := rn.NewRelay()
	require.NoError(t, err)
	defer r.Close()
	log := &sim.PunchLog{}
	mk := func(nd *sim.Node) host.Host {
		key, _, err := crypto.GenerateEd25519Key(nil)
		require.NoError(t, err)
		h, err := nd.NewHost(sim.HostConfig{Identity: key, Relays: []peer.AddrInfo{r.AddrInfo()}, HolePunch: log})
		require.NoError(t, err)
		return h
	}
	ha, hb := mk(na), mk(nb)
	defer ha.Close()
	defer hb.Close()
	if tb != sim.Public {
		poll.Eventually(t, 30*time.Second, func() error {
			for _, a := range hb.Addrs() {
				if _, err := a.ValueForProtocol(ma.P_CIRCUIT); err == nil {
					return nil
				}
			}
			return fmt.Errorf("b has no circuit address: %v", hb.Addrs())
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, ha.Connect(ctx, peer.AddrInfo{ID: hb.ID(), Addrs: hb.Addrs()}))
	var outcome string
	poll.Eventually(t, 60*time.Second, func() error {
		direct := false
		for _, c := range ha.Network().ConnsToPeer(hb.ID()) {
			if _, err := c.RemoteMultiaddr().ValueForProtocol(ma.P_CIRCUIT); err != nil {
				direct = true
			}
		}
		p, ran := log.Pair(ha.ID(), hb.ID())
		switch {
		case direct && p.Succeeded:
			outcome = "holepunched"
		case direct && p.Attempts > p.Failures:
			return fmt.Errorf("direct, waiting for the punch to report: %+v", p)
		case direct:
			outcome = "direct"
		case ran && (p.Failures >= 3 || p.Errors > 0):
			outcome = "relayed"
		default:
			return fmt.Errorf("undecided: direct=%v punch=%+v", direct, p)
		}
		return nil
	})
	return outcome
}

// TestNATPairTable pins the outcome of real go-libp2p hole punching
// (DCUtR through a circuit relay, over QUIC on simnet, behind the NAT
// router) for every ordered pair of NAT types: the table below, which is
// also what PairOutcome predicts. It runs under synctest: the punches
// that fail wait out libp2p's timeouts in virtual time.
func TestNATPairTable(t *testing.T) {
	const (
		D = "direct"
		H = "holepunched"
		R = "relayed"
	)
	// Rows dial columns: public, full cone, address-restricted,
	// port-restricted, symmetric.
	table := [5][5]string{
		{D, D, D, D, D},
		{D, H, H, H, R},
		{D, H, H, H, R},
		{D, H, H, H, R},
		{D, H, H, R, R},
	}
	for _, a := range sim.NATTypes {
		for _, b := range sim.NATTypes {
			t.Run(a.String()+"/"+b.String(), func(t *testing.T) {
				want := table[a][b]
				require.Equal(t, want, sim.PairOutcome(a, b), "the model")
				synctest.Test(t, func(t *testing.T) {
					require.Equal(t, want, punch(t, a, b), "real hole punching")
				})
			})
		}
	}
}
