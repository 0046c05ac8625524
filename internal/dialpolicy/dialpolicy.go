package dialpolicy

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Bounds on addresses from outside.
const (
	// MaxAddrLen bounds one address, in bytes of its binary form.
	MaxAddrLen = 256
	// MaxAddrsPerPeer bounds the distinct addresses of one peer dialed
	// per Window.
	MaxAddrsPerPeer = 16
	// Window is the period over which MaxAddrsPerPeer counts.
	Window = 10 * time.Minute
	// maxPeers bounds the peers whose dialed addresses are remembered.
	maxPeers = 4096
)

// Sentinel errors.
var (
	// ErrRefused wraps every refusal of Check.
	ErrRefused = errors.New("dialpolicy: address refused")
)

// Config is the policy's input. The zero value refuses loopback,
// link-local and unspecified targets and trusts nobody.
type Config struct {
	// Listen are the node's listen addresses. An explicit loopback
	// (link-local) address among them permits loopback (link-local)
	// targets.
	Listen []ma.Multiaddr
	// AllowLocal permits loopback, link-local, multicast and unspecified
	// targets whatever the node listens on.
	AllowLocal bool
	// Trusted peers are dialed at any address, without bounds: peers the
	// user named (bootstrap peers, relays).
	Trusted []peer.ID
	// Now is the clock of the per-peer bound; nil is time.Now.
	Now func() time.Time
}

// Policy is the dial policy, a connmgr.ConnectionGater. Create it with New;
// it is safe for concurrent use.
type Policy struct {
	loopback, linkLocal, all bool
	trusted                  map[peer.ID]bool
	now                      func() time.Time

	mu     sync.Mutex
	dialed map[peer.ID]*dialedAddrs
}

type dialedAddrs struct {
	since time.Time
	addrs map[string]struct{}
}

var _ connmgr.ConnectionGater = (*Policy)(nil)

// New returns the policy for c.
func New(c Config) *Policy {
	p := &Policy{all: c.AllowLocal, trusted: make(map[peer.ID]bool, len(c.Trusted)), now: c.Now, dialed: make(map[peer.ID]*dialedAddrs)}
	if p.now == nil {
		p.now = time.Now
	}
	for _, id := range c.Trusted {
		p.trusted[id] = true
	}
	for _, a := range c.Listen {
		switch classify(a) {
		case classLoopback:
			p.loopback = true
		case classLinkLocal:
			p.linkLocal = true
		}
	}
	return p
}

// class is what an address's first hop is.
type class int

const (
	classOther class = iota // public or private: allowed
	classUnspecified
	classLoopback
	classLinkLocal // link-local unicast, and multicast
)

func (c class) String() string {
	switch c {
	case classUnspecified:
		return "unspecified"
	case classLoopback:
		return "loopback"
	case classLinkLocal:
		return "link-local or multicast"
	}
	return "routable"
}

// classify names the class of a's first hop: its first IP or DNS
// component (for a relay circuit, the relay's address). An address with
// neither (/p2p/<relay>/p2p-circuit) is classOther: the relay is dialed
// separately, and judged then.
func classify(a ma.Multiaddr) class {
	for _, c := range a {
		switch c.Code() {
		case ma.P_IP6ZONE:
			continue
		case ma.P_IP4, ma.P_IP6:
			return classifyIP(net.IP(c.RawValue()))
		case ma.P_DNS, ma.P_DNS4, ma.P_DNS6, ma.P_DNSADDR:
			host := strings.TrimSuffix(strings.ToLower(c.Value()), ".")
			if host == "localhost" || strings.HasSuffix(host, ".localhost") {
				return classLoopback
			}
			if ip := net.ParseIP(host); ip != nil {
				return classifyIP(ip)
			}
			return classOther
		}
		return classOther
	}
	return classOther
}

func classifyIP(ip net.IP) class {
	switch {
	case len(ip) != net.IPv4len && len(ip) != net.IPv6len:
		return classUnspecified // malformed: treat as the worst
	case ip.IsUnspecified():
		return classUnspecified
	case ip.IsLoopback():
		return classLoopback
	case ip.IsLinkLocalUnicast(), ip.IsMulticast():
		return classLinkLocal
	}
	return classOther
}

// Check reports whether a may be dialed, ignoring trust and the per-peer
// bound: nil, or an error wrapping ErrRefused that says why.
func (p *Policy) Check(a ma.Multiaddr) error {
	if a == nil {
		return fmt.Errorf("%w: empty address", ErrRefused)
	}
	if n := len(a.Bytes()); n > MaxAddrLen {
		return fmt.Errorf("%w: %d bytes long, the limit is %d", ErrRefused, n, MaxAddrLen)
	}
	if p.all {
		return nil
	}
	switch c := classify(a); c {
	case classUnspecified:
		return fmt.Errorf("%w: %s is an unspecified address", ErrRefused, a)
	case classLoopback:
		if !p.loopback {
			return fmt.Errorf("%w: %s is loopback and this node does not listen on loopback", ErrRefused, a)
		}
	case classLinkLocal:
		if !p.linkLocal {
			return fmt.Errorf("%w: %s is %s and this node does not listen on a link-local address", ErrRefused, a, c)
		}
	}
	return nil
}

// admit counts a dial of a to id against the per-peer bound.
func (p *Policy) admit(id peer.ID, a ma.Multiaddr) bool {
	now := p.now()
	key := string(a.Bytes())
	p.mu.Lock()
	defer p.mu.Unlock()
	d := p.dialed[id]
	if d == nil || now.Sub(d.since) > Window {
		if d == nil && len(p.dialed) >= maxPeers {
			p.evict(now)
		}
		d = &dialedAddrs{since: now, addrs: make(map[string]struct{})}
		p.dialed[id] = d
	}
	if _, ok := d.addrs[key]; ok {
		return true
	}
	if len(d.addrs) >= MaxAddrsPerPeer {
		return false
	}
	d.addrs[key] = struct{}{}
	return true
}

// evict drops expired entries, or one entry when none has expired.
func (p *Policy) evict(now time.Time) {
	for id, d := range p.dialed {
		if now.Sub(d.since) > Window {
			delete(p.dialed, id)
		}
	}
	for id := range p.dialed {
		if len(p.dialed) < maxPeers {
			return
		}
		delete(p.dialed, id)
	}
}

// InterceptPeerDial implements connmgr.ConnectionGater: every peer may be
// dialed; its addresses are judged one by one.
func (p *Policy) InterceptPeerDial(peer.ID) bool { return true }

// InterceptAddrDial implements connmgr.ConnectionGater.
func (p *Policy) InterceptAddrDial(id peer.ID, a ma.Multiaddr) bool {
	if p.trusted[id] {
		return true
	}
	return p.Check(a) == nil && p.admit(id, a)
}

// InterceptAccept implements connmgr.ConnectionGater: inbound connections
// are not the policy's business.
func (p *Policy) InterceptAccept(network.ConnMultiaddrs) bool { return true }

// InterceptSecured implements connmgr.ConnectionGater.
func (p *Policy) InterceptSecured(network.Direction, peer.ID, network.ConnMultiaddrs) bool {
	return true
}

// InterceptUpgraded implements connmgr.ConnectionGater.
func (p *Policy) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }
