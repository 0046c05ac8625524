package sim

import (
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/marcopolo/simnet"
)

// gateway is a peer's access to the simulated network: the NAT in front
// of it (none for a public peer) and the partition filter. The host's QUIC
// transport gets a hostConn from the gateway in place of a UDP socket;
// every packet it writes leaves through one of the gateway's public
// endpoints (simnet SimConns), chosen by the NAT's mapping, and every
// packet arriving at an endpoint passes its filtering before the host
// sees it.
type gateway struct {
	net      *Network
	node     int
	nat      NATType
	publicIP netip.Addr // the NAT's (or the peer's own) public address
	link     simnet.NodeBiDiLinkSettings
	timeout  time.Duration
	loss     float64 // probability an outbound packet is lost

	mu       sync.Mutex
	maps     map[mapKey]*mapping
	nextPort uint16
	host     *hostConn // the socket behind the gateway; nil when none
	wg       sync.WaitGroup

	bytesOut   atomic.Uint64 // UDP payload bytes the peer sent
	packetsOut atomic.Uint64
}

type mapKey struct {
	internal netip.AddrPort
	dst      netip.AddrPort // zero for endpoint-independent mapping
}

// attach gives the gateway a host socket at addr (its private address
// behind a NAT, its public one otherwise).
func (g *gateway) attach(addr *net.UDPAddr) (*hostConn, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.host != nil && !g.host.isClosed() {
		return nil, errors.New("sim: the peer already has a socket")
	}
	hc := newHostConn(g, addr)
	g.host = hc
	if g.nat == Public {
		// A public peer's endpoint exists before it sends anything.
		ap := hc.addrPort()
		if _, err := g.mappingLocked(ap, netip.AddrPort{}); err != nil {
			return nil, err
		}
	}
	return hc, nil
}

// mappingLocked finds or makes the mapping an outbound packet from
// internal to dst uses.
func (g *gateway) mappingLocked(internal, dst netip.AddrPort) (*mapping, error) {
	key := mapKey{internal: internal}
	if m, _ := g.nat.Behaviour(); g.nat != Public && m == EndpointDependentMapping {
		key.dst = dst
	}
	now := time.Now()
	if m, ok := g.maps[key]; ok {
		if g.nat == Public || now.Sub(m.lastOut) < g.timeout {
			return m, nil
		}
		// Expired: the NAT forgot it; a new packet makes a new one.
		_ = m.conn.Close()
		delete(g.maps, key)
	}
	if len(g.maps) >= maxMappings {
		var oldest mapKey
		var at time.Time
		for k, m := range g.maps {
			if at.IsZero() || m.lastOut.Before(at) {
				oldest, at = k, m.lastOut
			}
		}
		_ = g.maps[oldest].conn.Close()
		delete(g.maps, oldest)
	}
	public := netip.AddrPortFrom(g.publicIP, internal.Port())
	if g.nat != Public {
		public = netip.AddrPortFrom(g.publicIP, g.nextPort)
		g.nextPort++
		if g.nextPort < firstNATPort {
			g.nextPort = firstNATPort
		}
	}
	conn := g.net.endpoint(public, g.link)
	m := &mapping{
		public:   public,
		conn:     conn,
		sentTo:   make(map[netip.AddrPort]struct{}),
		sentToIP: make(map[netip.Addr]struct{}),
		lastOut:  now,
	}
	if g.maps == nil {
		g.maps = make(map[mapKey]*mapping)
	}
	g.maps[key] = m
	g.wg.Add(1)
	go g.receive(m)
	return m, nil
}

// firstNATPort is the first public port a NAT hands out.
const firstNATPort = 40000

// send carries a packet from the host socket out to dst.
func (g *gateway) send(from netip.AddrPort, b []byte, dst netip.AddrPort) error {
	dst = netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port())
	if !g.net.reachable(g.node, dst.Addr()) {
		return nil // partitioned, private, hairpinned or nobody: the packet is lost
	}
	if g.loss > 0 && rand.Float64() < g.loss {
		return nil
	}
	g.mu.Lock()
	m, err := g.mappingLocked(from, dst)
	if err != nil {
		g.mu.Unlock()
		return err
	}
	m.noteSent(dst, time.Now())
	conn := m.conn
	g.mu.Unlock()
	g.bytesOut.Add(uint64(len(b)))
	g.packetsOut.Add(1)
	_, err = conn.WriteTo(b, net.UDPAddrFromAddrPort(dst))
	if errors.Is(err, net.ErrClosed) {
		return nil // the mapping expired under us: the packet is lost
	}
	return err
}

// receive reads one public endpoint until it closes, filtering what
// arrives and passing the rest to the host socket.
func (g *gateway) receive(m *mapping) {
	defer g.wg.Done()
	buf := make([]byte, 64<<10)
	for {
		n, from, err := m.conn.ReadFrom(buf)
		if err != nil {
			return // closed: the mapping expired or the peer went away
		}
		ua, ok := from.(*net.UDPAddr)
		if !ok {
			continue
		}
		src := ua.AddrPort()
		src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
		if !g.net.reachable(g.node, src.Addr()) {
			continue
		}
		_, filt := g.nat.Behaviour()
		g.mu.Lock()
		expired := g.nat != Public && time.Since(m.lastOut) >= g.timeout
		admit := g.nat == Public || (!expired && m.admits(filt, src))
		hc := g.host
		g.mu.Unlock()
		if !admit || hc == nil {
			continue
		}
		hc.deliver(buf[:n], src)
	}
}

// detach forgets the host socket and closes every mapping: the peer's
// process ended (its NAT would keep the mappings until they time out, but
// nobody listens behind them, which loses packets the same way).
func (g *gateway) detach(hc *hostConn) {
	g.mu.Lock()
	if g.host == hc {
		g.host = nil
	}
	for k, m := range g.maps {
		_ = m.conn.Close()
		delete(g.maps, k)
	}
	g.mu.Unlock()
	g.wg.Wait()
}
