package sim

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/p2p/transport/quicreuse"
	"github.com/marcopolo/simnet"
	"github.com/quic-go/quic-go"
	"go.uber.org/fx"
)

// Network is a simulated packet network (simnet underneath: per-packet
// latency, a token bucket and FQ-CoDel queue per link) with a gateway in
// front of every peer: a NAT of the peer's type, or none for a public
// peer, and the partitions the scenario makes. Peers speak QUIC on it,
// since simnet carries UDP only.
//
// Make one with NewNetwork, add nodes with AddNode, Start it, build hosts
// with Node.HostOptions, and Close it after the hosts.
type Network struct {
	sn             *simnet.Simnet
	mappingTimeout time.Duration
	// epMu serialises simnet's NewEndpoint, Start and Close, which are
	// not safe for concurrent use (NewEndpoint appends to its links).
	epMu sync.Mutex

	mu      sync.RWMutex
	nodes   []*Node
	byIP    map[netip.Addr]*Node
	side    map[int]int // node -> partition side, while partitioned
	started bool
}

// NetworkConfig configures a Network.
type NetworkConfig struct {
	// MappingTimeout is how long a NAT keeps an idle mapping; zero means
	// DefaultMappingTimeout.
	MappingTimeout time.Duration
}

// NewNetwork makes an empty network.
func NewNetwork(cfg NetworkConfig) *Network {
	if cfg.MappingTimeout <= 0 {
		cfg.MappingTimeout = DefaultMappingTimeout
	}
	n := &Network{mappingTimeout: cfg.MappingTimeout, byIP: make(map[netip.Addr]*Node)}
	n.sn = &simnet.Simnet{
		LatencyFunc: n.latency,
		// simnet logs every dropped packet at error level; a packet to a
		// private or vanished address is normal here.
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	return n
}

// NodeConfig describes one simulated peer's access to the network.
type NodeConfig struct {
	NAT NATType
	// Latency is the one-way delay of the peer's access link: a packet
	// between two peers takes the sum of theirs.
	Latency time.Duration
	// BitsPerSecond bounds the peer's uplink and downlink; zero means
	// 100 Mbit/s.
	BitsPerSecond int
	// Loss is the probability that a packet the peer sends is lost.
	Loss float64
}

// Node is a place on the network for one peer.
type Node struct {
	Index    int
	NAT      NATType
	Latency  time.Duration
	PublicIP netip.Addr // the NAT's address, or the peer's own if public
	// Listen is the address the peer's host listens on: its private
	// address behind a NAT.
	Listen netip.AddrPort
	gw     *gateway
}

// Sent is how many UDP payload bytes and packets the peer on this node
// has sent (QUIC packets with their headers; no IP/UDP headers).
func (nd *Node) Sent() (bytes, packets uint64) {
	return nd.gw.bytesOut.Load(), nd.gw.packetsOut.Load()
}

// ListenMultiaddr is Listen as a QUIC multiaddr.
func (nd *Node) ListenMultiaddr() string {
	return fmt.Sprintf("/ip4/%s/udp/%d/quic-v1", nd.Listen.Addr(), nd.Listen.Port())
}

// listenPort is the UDP port every simulated peer listens on.
const listenPort = 4001

// AddNode adds a peer's place to the network. Nodes are numbered in the
// order they are added, and their addresses follow from the number, so a
// scenario lays out the same network every time.
func (n *Network) AddNode(cfg NodeConfig) *Node {
	n.mu.Lock()
	defer n.mu.Unlock()
	i := len(n.nodes)
	bps := cfg.BitsPerSecond
	if bps <= 0 {
		bps = 100 * simnet.Mibps
	}
	pub := netip.AddrFrom4([4]byte{1, byte(i >> 16), byte(i >> 8), byte(i)})
	listen := netip.AddrPortFrom(pub, listenPort)
	if cfg.NAT != Public {
		listen = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), listenPort)
	}
	nd := &Node{Index: i, NAT: cfg.NAT, Latency: cfg.Latency, PublicIP: pub, Listen: listen}
	nd.gw = &gateway{
		net:      n,
		node:     i,
		nat:      cfg.NAT,
		publicIP: pub,
		timeout:  n.mappingTimeout,
		loss:     cfg.Loss,
		nextPort: firstNATPort,
		link: simnet.NodeBiDiLinkSettings{
			Downlink: simnet.LinkSettings{BitsPerSecond: bps},
			Uplink:   simnet.LinkSettings{BitsPerSecond: bps},
		},
	}
	n.nodes = append(n.nodes, nd)
	n.byIP[pub] = nd
	return nd
}

// Nodes are the network's nodes in the order they were added.
func (n *Network) Nodes() []*Node {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return append([]*Node(nil), n.nodes...)
}

// Start starts delivering packets.
func (n *Network) Start() {
	n.mu.Lock()
	n.started = true
	n.mu.Unlock()
	n.epMu.Lock()
	defer n.epMu.Unlock()
	n.sn.Start()
}

// Close stops the network. Close the hosts first.
func (n *Network) Close() {
	n.epMu.Lock()
	defer n.epMu.Unlock()
	n.sn.Close()
}

// Partition splits the network: packets cross only between nodes on the
// same side. Each argument is a side (node indexes); every node not
// listed, relays included, is on one more side together.
func (n *Network) Partition(sides ...[]int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.side = make(map[int]int)
	for s, nodes := range sides {
		for _, i := range nodes {
			n.side[i] = s + 1
		}
	}
}

// Heal ends the partition.
func (n *Network) Heal() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.side = nil
}

// reachable says whether a packet from node i can reach a public address:
// one that belongs to another node on the same side of any partition. A
// private address, the node's own public address (no hairpinning) and
// unknown addresses are not.
func (n *Network) reachable(i int, ip netip.Addr) bool {
	n.mu.RLock()
	defer n.mu.RUnlock()
	dst, ok := n.byIP[ip]
	if !ok || dst.Index == i {
		return false
	}
	return n.side == nil || n.side[i] == n.side[dst.Index]
}

// latency is simnet's per-packet delay: the sum of the two access links.
func (n *Network) latency(p *simnet.Packet) time.Duration {
	n.mu.RLock()
	defer n.mu.RUnlock()
	var d time.Duration
	for _, a := range []net.Addr{p.From, p.To} {
		if ua, ok := a.(*net.UDPAddr); ok {
			ip, _ := netip.AddrFromSlice(ua.IP)
			if nd, ok := n.byIP[ip.Unmap()]; ok {
				d += nd.Latency
			}
		}
	}
	return d
}

// endpoint makes a public endpoint on simnet. Each keeps a simnet link
// (two goroutines) until the network closes, even after its mapping is
// gone: a run holds one per mapping it ever made.
func (n *Network) endpoint(at netip.AddrPort, link simnet.NodeBiDiLinkSettings) net.PacketConn {
	n.epMu.Lock()
	defer n.epMu.Unlock()
	return n.sn.NewEndpoint(net.UDPAddrFromAddrPort(at), link)
}

// sourceIP tells quicreuse which local address a dial leaves from: the
// one address the simulated peer listens on.
type sourceIP struct{ ip net.IP }

// PreferredSourceIPForDestination implements quicreuse.SourceIPSelector.
func (s sourceIP) PreferredSourceIPForDestination(*net.UDPAddr) (net.IP, error) { return s.ip, nil }

// QUICOption is the libp2p option that puts a host's QUIC transport on
// this node's gateway instead of a UDP socket (what go-libp2p's
// x/simlibp2p does with a bare simnet endpoint). The host must listen on
// ListenMultiaddr and on nothing else.
func (nd *Node) QUICOption() libp2p.Option {
	sel := sourceIP{ip: net.IP(nd.Listen.Addr().AsSlice())}
	return quicOnGateways(sel, func(addr *net.UDPAddr) (net.PacketConn, error) {
		ap := addr.AddrPort()
		if netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()) != nd.Listen {
			return nil, fmt.Errorf("sim: node %d listens on %s, not %s", nd.Index, nd.Listen, addr)
		}
		return nd.gw.attach(addr)
	})
}

// quicOnGateways is the libp2p option that gives a host's QUIC transport
// the packet conns listen returns, and the source address sel picks,
// instead of UDP sockets.
func quicOnGateways(sel quicreuse.SourceIPSelector, listen func(addr *net.UDPAddr) (net.PacketConn, error)) libp2p.Option {
	return libp2p.QUICReuse(
		func(l fx.Lifecycle, reset quic.StatelessResetKey, token quic.TokenGeneratorKey, opts ...quicreuse.Option) (*quicreuse.ConnManager, error) {
			cm, err := quicreuse.NewConnManager(reset, token, opts...)
			if err != nil {
				return nil, err
			}
			// libp2p closes the conn manager it makes, not one made here.
			l.Append(fx.StopHook(func(context.Context) error { return cm.Close() }))
			return cm, nil
		},
		quicreuse.OverrideSourceIPSelector(func() (quicreuse.SourceIPSelector, error) { return sel, nil }),
		quicreuse.OverrideListenUDP(func(_ string, addr *net.UDPAddr) (net.PacketConn, error) { return listen(addr) }),
	)
}
