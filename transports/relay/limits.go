package relay

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	relayv2 "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	"github.com/libp2p/go-libp2p/x/rate"
	ma "github.com/multiformats/go-multiaddr"
)

// CircuitLimit bounds each circuit the relay carries: how long it lasts
// and how many bytes it carries in each direction. The relay enforces it
// itself and does not announce it: a limit announced in the circuit relay
// protocol makes the peers mark the connection "limited", on which
// gossipsub and bitswap open no streams. A circuit past its limit is
// reset; Lattice peers redial (a new circuit starts with a new budget),
// and most have moved to a direct, hole-punched connection long before.
type CircuitLimit struct {
	Duration time.Duration
	Data     int64 // bytes, each direction
}

// DefaultCircuitLimit is 30 minutes and 32 MiB each way: more than a
// session of edits or the catch-up of a to-do list needs, far less than
// an open proxy gives. Larger histories resume their catch-up on the next
// circuit.
func DefaultCircuitLimit() CircuitLimit {
	return CircuitLimit{Duration: 30 * time.Minute, Data: 32 << 20}
}

// ErrCircuitLimit is the error a circuit's streams end with when its
// limit is reached.
var ErrCircuitLimit = errors.New("relay: circuit limit reached")

// limitHost is the relay's view of its host: the streams the relay
// service accepts (hop: reservations and the source side of circuits) and
// opens (stop: the destination side) come wrapped in circuit limits.
type limitHost struct {
	host.Host
	lim CircuitLimit
}

// SetStreamHandler wraps the relay service's incoming streams.
func (h limitHost) SetStreamHandler(pid protocol.ID, handler network.StreamHandler) {
	h.Host.SetStreamHandler(pid, func(s network.Stream) { handler(newLimitStream(s, h.lim)) })
}

// NewStream wraps the streams the relay service opens.
func (h limitHost) NewStream(ctx context.Context, p peer.ID, pids ...protocol.ID) (network.Stream, error) {
	s, err := h.Host.NewStream(ctx, p, pids...)
	if err != nil {
		return nil, err
	}
	return newLimitStream(s, h.lim), nil
}

// limitStream is one side of a circuit: the relay copies what it reads
// from it to the other side, so counting reads bounds one direction. A
// timer resets it at the end of its duration.
type limitStream struct {
	network.Stream
	left  atomic.Int64
	timer *time.Timer
	once  sync.Once
}

func newLimitStream(s network.Stream, lim CircuitLimit) *limitStream {
	ls := &limitStream{Stream: s}
	ls.left.Store(lim.Data)
	ls.timer = time.AfterFunc(lim.Duration, func() { _ = s.Reset() })
	return ls
}

// Read reads within the data limit; past it the stream is reset.
func (s *limitStream) Read(p []byte) (int, error) {
	n, err := s.Stream.Read(p)
	if s.left.Add(-int64(n)) < 0 {
		_ = s.Reset()
		return 0, ErrCircuitLimit
	}
	return n, err
}

func (s *limitStream) stop() { s.once.Do(func() { s.timer.Stop() }) }

// Close closes the stream and stops its timer.
func (s *limitStream) Close() error { s.stop(); return s.Stream.Close() }

// Reset resets the stream and stops its timer.
func (s *limitStream) Reset() error { s.stop(); return s.Stream.Reset() }

// ResetWithError resets the stream with an error code and stops its
// timer.
func (s *limitStream) ResetWithError(code network.StreamErrorCode) error {
	s.stop()
	return s.Stream.ResetWithError(code)
}

// allowlist is the relay's ACL when Config.Allow is set: only listed
// peers reserve, and circuits go only to them (from anyone: the point of
// a reservation is that others can reach the peer).
type allowlist map[peer.ID]bool

var _ relayv2.ACLFilter = allowlist(nil)

// AllowReserve admits listed peers.
func (a allowlist) AllowReserve(p peer.ID, _ ma.Multiaddr) bool { return a[p] }

// AllowConnect admits circuits to listed peers.
func (a allowlist) AllowConnect(_ peer.ID, _ ma.Multiaddr, dest peer.ID) bool { return a[dest] }

// Rates bound how often one source may ask the relay for reservations
// and for circuits: token buckets per IPv4 address and per IPv6 /56
// (peer IDs cost nothing to make, addresses do), and per peer ID (a peer
// with many addresses, an IPv6 host rotating through /56s, is still one
// peer). Loopback sources are exempt from both (a relay's own machine).
// A zero rate.Limit leaves that kind unlimited. Reservations are also
// bounded in number (one per peer, Resources.MaxReservationsPerIP per
// address) and circuits in count per peer (Resources.MaxCircuits) and in
// size (CircuitLimit).
type Rates struct {
	Reservations rate.Limit // per source address
	Circuits     rate.Limit // per source address
	// PeerReservations and PeerCircuits are per peer ID.
	PeerReservations rate.Limit
	PeerCircuits     rate.Limit
}

// DefaultRates admit a burst of 8 reservations per address and then one
// every 10 s, 4 per peer and then one a minute (a peer renews its
// reservation hourly); and a burst of 32 circuits per address and then
// one a second, 16 per peer and then one every 2 s: far above what a
// house of Lattice devices needs, far below what turning the relay into
// a proxy for strangers would.
func DefaultRates() Rates {
	return Rates{
		Reservations:     rate.Limit{RPS: 0.1, Burst: 8},
		Circuits:         rate.Limit{RPS: 1, Burst: 32},
		PeerReservations: rate.Limit{RPS: 1.0 / 60, Burst: 4},
		PeerCircuits:     rate.Limit{RPS: 0.5, Burst: 16},
	}
}

// rateACL admits reservations and circuits within Rates per source
// address and per peer, after next (the allowlist, or nil for everyone)
// admits them.
type rateACL struct {
	next                     relayv2.ACLFilter
	reserve, connect         *rate.Limiter
	peerReserve, peerConnect *peerLimiter
}

var _ relayv2.ACLFilter = (*rateACL)(nil)

func newRateACL(next relayv2.ACLFilter, r Rates) *rateACL {
	limiter := func(l rate.Limit) *rate.Limiter {
		if l == (rate.Limit{}) {
			return nil // unlimited
		}
		return &rate.Limiter{
			NetworkPrefixLimits: []rate.PrefixLimit{
				{Prefix: netip.MustParsePrefix("127.0.0.0/8")},
				{Prefix: netip.MustParsePrefix("::1/128")},
			},
			SubnetRateLimiter: rate.SubnetLimiter{
				IPv4SubnetLimits: []rate.SubnetLimit{{PrefixLength: 32, Limit: l}},
				IPv6SubnetLimits: []rate.SubnetLimit{{PrefixLength: 56, Limit: l}},
				GracePeriod:      time.Minute,
			},
		}
	}
	return &rateACL{
		next: next, reserve: limiter(r.Reservations), connect: limiter(r.Circuits),
		peerReserve: newPeerLimiter(r.PeerReservations, time.Now), peerConnect: newPeerLimiter(r.PeerCircuits, time.Now),
	}
}

// sourceIP is the IP address a multiaddr starts with; ok is false for
// one that names none (the rates then do not apply).
func sourceIP(a ma.Multiaddr) (netip.Addr, bool) {
	if a == nil {
		return netip.Addr{}, false
	}
	for _, code := range []int{ma.P_IP4, ma.P_IP6} {
		if v, err := a.ValueForProtocol(code); err == nil {
			ip, err := netip.ParseAddr(v)
			return ip.Unmap(), err == nil
		}
	}
	return netip.Addr{}, false
}

// AllowReserve admits a reservation within the source address's and
// the peer's rates.
func (r *rateACL) AllowReserve(p peer.ID, a ma.Multiaddr) bool {
	if r.next != nil && !r.next.AllowReserve(p, a) {
		return false
	}
	ip, ok := sourceIP(a)
	if ok && ip.IsLoopback() {
		return true
	}
	return (!ok || r.reserve == nil || r.reserve.Allow(ip)) && r.peerReserve.allow(p)
}

// AllowConnect admits a circuit within the source address's and the
// source peer's rates.
func (r *rateACL) AllowConnect(src peer.ID, srcAddr ma.Multiaddr, dest peer.ID) bool {
	if r.next != nil && !r.next.AllowConnect(src, srcAddr, dest) {
		return false
	}
	ip, ok := sourceIP(srcAddr)
	if ok && ip.IsLoopback() {
		return true
	}
	return (!ok || r.connect == nil || r.connect.Allow(ip)) && r.peerConnect.allow(src)
}
