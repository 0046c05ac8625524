package sim

import (
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"time"
)

// hostConn is the UDP socket a simulated peer's QUIC transport uses: a
// net.PacketConn whose packets go through the peer's gateway.
type hostConn struct {
	g    *gateway
	addr *net.UDPAddr

	in     chan packet
	closed chan struct{}
	once   sync.Once

	mu            sync.Mutex
	readDeadline  time.Time
	deadlineMoved chan struct{}
}

type packet struct {
	b    []byte
	from netip.AddrPort
}

// hostQueue is how many packets wait for the QUIC transport to read them;
// the gateway blocks when it is full, as simnet's own sockets do.
const hostQueue = 128

func newHostConn(g *gateway, addr *net.UDPAddr) *hostConn {
	return &hostConn{
		g:             g,
		addr:          addr,
		in:            make(chan packet, hostQueue),
		closed:        make(chan struct{}),
		deadlineMoved: make(chan struct{}, 1),
	}
}

var _ net.PacketConn = (*hostConn)(nil)

func (c *hostConn) addrPort() netip.AddrPort {
	ap := c.addr.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

func (c *hostConn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

func (c *hostConn) deliver(b []byte, from netip.AddrPort) {
	p := packet{b: slices.Clone(b), from: from}
	select {
	case c.in <- p:
	case <-c.closed:
	}
}

// ReadFrom implements net.PacketConn.
func (c *hostConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		c.mu.Lock()
		dl := c.readDeadline
		c.mu.Unlock()
		var timeout <-chan time.Time
		var t *time.Timer
		if !dl.IsZero() {
			d := time.Until(dl)
			if d <= 0 {
				return 0, nil, os.ErrDeadlineExceeded
			}
			t = time.NewTimer(d)
			timeout = t.C
		}
		select {
		case p := <-c.in:
			stop(t)
			n := copy(b, p.b)
			return n, net.UDPAddrFromAddrPort(p.from), nil
		case <-c.closed:
			stop(t)
			return 0, nil, net.ErrClosed
		case <-timeout:
			return 0, nil, os.ErrDeadlineExceeded
		case <-c.deadlineMoved:
			stop(t) // read the new deadline
		}
	}
}

func stop(t *time.Timer) {
	if t != nil {
		t.Stop()
	}
}

// WriteTo implements net.PacketConn.
func (c *hostConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if c.isClosed() {
		return 0, net.ErrClosed
	}
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return 0, &net.OpError{Op: "write", Net: "udp", Addr: addr, Err: net.UnknownNetworkError(addr.Network())}
	}
	if err := c.g.send(c.addrPort(), b, ua.AddrPort()); err != nil {
		return 0, err
	}
	return len(b), nil
}

// Close implements net.PacketConn; it also closes the gateway's mappings.
func (c *hostConn) Close() error {
	c.once.Do(func() {
		close(c.closed)
		c.g.detach(c)
	})
	return nil
}

// LocalAddr implements net.PacketConn.
func (c *hostConn) LocalAddr() net.Addr { return c.addr }

// SetDeadline implements net.PacketConn; writes never block.
func (c *hostConn) SetDeadline(t time.Time) error { return c.SetReadDeadline(t) }

// SetReadDeadline implements net.PacketConn.
func (c *hostConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.readDeadline = t
	c.mu.Unlock()
	select {
	case c.deadlineMoved <- struct{}{}:
	default:
	}
	return nil
}

// SetWriteDeadline implements net.PacketConn; writes never block.
func (c *hostConn) SetWriteDeadline(time.Time) error { return nil }

// SetReadBuffer exists because quic-go asks for it.
func (c *hostConn) SetReadBuffer(int) error { return nil }

// SetWriteBuffer exists because quic-go asks for it.
func (c *hostConn) SetWriteBuffer(int) error { return nil }
