package sim

import (
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"

	"github.com/libp2p/go-libp2p"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"

	"github.com/latticedb/lattice/transports"
)

// Transport is the network as a transports.Transport for hosts built
// outside a scenario: each host that asks for its listen addresses
// (ListenAddrs, which the conformance suite calls once per host) gets a
// public node of its own, with default link settings, and its QUIC
// transport speaks through that node's gateway. The node, and its links'
// goroutines, live as long as the network. It is how
// the simulated network proves, with transportstest.Run, that Lattice
// replicates over it as over a real wire. Start the network first.
func (n *Network) Transport() transports.Transport { return netTransport{n} }

type netTransport struct{ n *Network }

var _ transports.Transport = netTransport{}

// Name is "sim-quic", as for a node's own transport.
func (t netTransport) Name() string { return "sim-quic" }

// ListenAddrs adds a public node for the host that asks and returns its
// address.
func (t netTransport) ListenAddrs() []string {
	return []string{t.n.AddNode(NodeConfig{NAT: Public}).ListenMultiaddr()}
}

// Options installs QUIC on the gateway of whichever node the host listens
// on; its dials leave from that node's address.
func (t netTransport) Options() []libp2p.Option {
	sel := &listenSource{}
	return []libp2p.Option{
		libp2p.Transport(quic.NewTransport),
		quicOnGateways(sel, func(addr *net.UDPAddr) (net.PacketConn, error) {
			ap := addr.AddrPort()
			ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
			nd := t.n.nodeListeningOn(ap)
			if nd == nil {
				return nil, fmt.Errorf("sim: no node listens on %s (listen on an address ListenAddrs returned)", ap)
			}
			sel.ip.Store(new(net.IP(ap.Addr().AsSlice())))
			return nd.gw.attach(addr)
		}),
	}
}

// nodeListeningOn is the node whose host listens on ap, or nil.
func (n *Network) nodeListeningOn(ap netip.AddrPort) *Node {
	n.mu.RLock()
	defer n.mu.RUnlock()
	for _, nd := range n.nodes {
		if nd.Listen == ap {
			return nd
		}
	}
	return nil
}

// listenSource picks, as the source of every dial, the address the host
// listens on (set when it starts listening).
type listenSource struct{ ip atomic.Pointer[net.IP] }

// PreferredSourceIPForDestination implements quicreuse.SourceIPSelector.
func (s *listenSource) PreferredSourceIPForDestination(*net.UDPAddr) (net.IP, error) {
	if ip := s.ip.Load(); ip != nil {
		return *ip, nil
	}
	return nil, fmt.Errorf("sim: the host dials before it listens")
}
