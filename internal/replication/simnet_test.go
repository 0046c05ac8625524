package replication

import (
	"context"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/x/simlibp2p"
	"github.com/marcopolo/simnet"
	"github.com/stretchr/testify/require"
)

// simPair is pair on a simulated network (go-libp2p's simnet, QUIC over
// in-process packets, latency one way), for tests inside a
// synctest.Test bubble: the hosts and the network close, in that order,
// when t ends. (This package cannot use internal/simtest, which builds
// engines on it.) Identify's address discovery is off, as x/simlibp2p
// does: it stalled synctest there.
func simPair(t *testing.T, latency time.Duration) (host.Host, host.Host) {
	t.Helper()
	nw := &simnet.Simnet{LatencyFunc: simnet.StaticLatency(latency)}
	link := simnet.NodeBiDiLinkSettings{
		Downlink: simnet.LinkSettings{BitsPerSecond: 100 * simnet.Mibps},
		Uplink:   simnet.LinkSettings{BitsPerSecond: 100 * simnet.Mibps},
	}
	var hs []host.Host
	for i := range 2 {
		h, err := libp2p.New(
			libp2p.ListenAddrStrings("/ip4/"+simnet.IntToPublicIPv4(i).String()+"/udp/8000/quic-v1"),
			simlibp2p.QUICSimnet(nw, link),
			libp2p.DisableIdentifyAddressDiscovery(),
			libp2p.ResourceManager(&network.NullResourceManager{}),
		)
		require.NoError(t, err)
		hs = append(hs, h)
	}
	nw.Start()
	t.Cleanup(func() {
		for _, h := range hs {
			_ = h.Close()
		}
		nw.Close()
	})
	require.NoError(t, hs[1].Connect(context.Background(), peer.AddrInfo{ID: hs[0].ID(), Addrs: hs[0].Addrs()}))
	return hs[0], hs[1]
}
