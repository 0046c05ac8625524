package relay

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	relayv2 "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
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
