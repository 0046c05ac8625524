package discovery_test

import (
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/discovery"
	"github.com/latticedb/lattice/discovery/discoverytest"
)

// dhtNet starts n bare hosts on loopback that serve a private DHT and
// nothing else, closed when the test ends.
func dhtNet(t *testing.T, n int) []peer.AddrInfo {
	t.Helper()
	var boot []peer.AddrInfo
	for range n {
		h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
		require.NoError(t, err)
		src := discovery.DHT(discovery.DHTConfig{Mode: discovery.DHTServer, BootstrapPeers: boot})
		require.NoError(t, src.Start(h, func(peer.AddrInfo) {}))
		t.Cleanup(func() {
			require.NoError(t, src.Close())
			require.NoError(t, h.Close())
		})
		boot = append(boot, peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()})
	}
	return boot
}

func TestDHTRendezvousConformance(t *testing.T) {
	boot := dhtNet(t, 4)
	discoverytest.Run(t, discoverytest.Config{
		// The DHT's own hosts keep connecting to each other after the
		// engines close; TestMain's leak check covers all of it.
		SkipLeakCheck: true,
		NewSource: func(testing.TB, []peer.AddrInfo) discovery.Source {
			return discovery.DHT(discovery.DHTConfig{
				// Clients: they enter no routing table, so the only way
				// for them to meet is the provider records of the
				// database's namespace.
				Mode:           discovery.DHTClient,
				BootstrapPeers: boot,
				Rendezvous:     discovery.RendezvousConfig{MinInterval: 500 * time.Millisecond, MaxInterval: 2 * time.Second},
			})
		},
	})
}

func TestDHTIsPrivateByDefault(t *testing.T) {
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	require.NoError(t, err)
	defer h.Close()
	src := discovery.DHT(discovery.DHTConfig{Mode: discovery.DHTServer})
	require.NoError(t, src.Start(h, func(peer.AddrInfo) {}))
	defer src.Close()
	require.Contains(t, protocols(h), protocol.ID("/lattice/kad/1.0.0"))
	require.NotContains(t, protocols(h), protocol.ID("/ipfs/kad/1.0.0"))
	require.ErrorIs(t, src.Start(h, func(peer.AddrInfo) {}), discovery.ErrStarted)
}

func protocols(h host.Host) []protocol.ID { return h.Mux().Protocols() }

func TestBootstrapConformance(t *testing.T) {
	discoverytest.Run(t, discoverytest.Config{
		NewSource: func(_ testing.TB, started []peer.AddrInfo) discovery.Source {
			return discovery.Bootstrap(started...)
		},
	})
}

func TestNamespaceHidesTheAddress(t *testing.T) {
	const addr = "/lattice/bafyreigdmqpykrgxyaxtlafqpqhzrb7qy2rh75nldvfd4tucqmqqme5yje/TodoList"
	ns := discovery.Namespace(addr)
	require.Equal(t, ns, discovery.Namespace(addr), "not deterministic")
	require.NotEqual(t, ns, discovery.Namespace(addr+"2"))
	require.NotContains(t, ns, "TodoList")
	require.NotContains(t, ns, "bafy")
}

// linkSource is what an invite link gives a joiner: the inviter's peer ID
// and addresses, handed to a Manual source once it runs.
type linkSource struct {
	*discovery.ManualSource
	inviter []peer.AddrInfo
}

func (l linkSource) Start(h host.Host, found discovery.Found) error {
	if err := l.ManualSource.Start(h, found); err != nil {
		return err
	}
	for _, ai := range l.inviter {
		l.Add(ai)
	}
	return nil
}

func TestManualConformance(t *testing.T) {
	discoverytest.Run(t, discoverytest.Config{
		NewSource: func(_ testing.TB, started []peer.AddrInfo) discovery.Source {
			return linkSource{discovery.Manual(), started}
		},
	})
}
