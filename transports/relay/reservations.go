package relay

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
	ma "github.com/multiformats/go-multiaddr"
)

// Timings of the reservation loop.
var (
	reserveTimeout = 30 * time.Second // one connect and reserve attempt
	retryMin       = time.Second      // first wait after a failure, doubling
	retryMax       = time.Minute
	checkEvery     = 5 * time.Second // how often a reservation's connection is checked
	renewBefore    = 2 * time.Minute // renew this long before the reservation expires
)

// Reservations keeps a reservation on each of a host's relays, renewing it
// before it expires and making a new one when the connection to the relay
// drops, and reports the circuit addresses they give the host
// (<relay addr>/p2p/<relay ID>/p2p-circuit).
//
// Make it before the host, pass AddrsFactory to libp2p.AddrsFactory so the
// host advertises the circuit addresses (in identify, and so in Lattice's
// invite links), then Start it with the host; Close ends its goroutines.
type Reservations struct {
	relays []peer.AddrInfo
	log    hclog.Logger

	mu    sync.Mutex
	addrs map[peer.ID][]ma.Multiaddr // circuit addresses by relay, while reserved

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewReservations prepares reservations on relays. A nil logger is silent.
func NewReservations(relays []peer.AddrInfo, log hclog.Logger) *Reservations {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Reservations{relays: slices.Clone(relays), log: log, addrs: make(map[peer.ID][]ma.Multiaddr)}
}

// Addrs are the circuit addresses of the reservations held now.
func (r *Reservations) Addrs() []ma.Multiaddr {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []ma.Multiaddr
	for _, ai := range r.relays { // in the configured order
		out = append(out, r.addrs[ai.ID]...)
	}
	return out
}

// AddrsFactory is a libp2p.AddrsFactory that adds the circuit addresses to
// the host's own.
func (r *Reservations) AddrsFactory(addrs []ma.Multiaddr) []ma.Multiaddr {
	return append(slices.Clone(addrs), r.Addrs()...)
}

// Start begins reserving, one goroutine per relay, until Close.
func (r *Reservations) Start(h host.Host) {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	for _, ai := range r.relays {
		r.wg.Add(1)
		go r.keep(ctx, h, ai)
	}
}

// Close stops reserving and waits for the goroutines. The reservations
// themselves lapse at the relays.
func (r *Reservations) Close() {
	if r.cancel != nil {
		r.cancel()
	}
	r.wg.Wait()
}

func (r *Reservations) set(relay peer.ID, addrs []ma.Multiaddr) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if addrs == nil {
		delete(r.addrs, relay)
	} else {
		r.addrs[relay] = addrs
	}
}

// keep holds a reservation on one relay for as long as ctx lasts.
func (r *Reservations) keep(ctx context.Context, h host.Host, ai peer.AddrInfo) {
	defer r.wg.Done()
	defer r.set(ai.ID, nil)
	h.ConnManager().Protect(ai.ID, "lattice-relay")
	defer h.ConnManager().Unprotect(ai.ID, "lattice-relay")
	wait := retryMin
	for {
		rsvp, err := r.reserve(ctx, h, ai)
		if err != nil {
			r.set(ai.ID, nil)
			if ctx.Err() != nil {
				return
			}
			r.log.Warn("relay reservation failed", "relay", ai.ID, "retry_in", wait, "error", err)
			if !sleep(ctx, wait) {
				return
			}
			wait = min(2*wait, retryMax)
			continue
		}
		wait = retryMin
		circuits := make([]ma.Multiaddr, 0, len(ai.Addrs))
		for _, a := range ai.Addrs {
			c, err := ma.NewMultiaddr("/p2p/" + ai.ID.String() + "/p2p-circuit")
			if err != nil {
				continue
			}
			circuits = append(circuits, a.Encapsulate(c))
		}
		r.set(ai.ID, circuits)
		r.log.Info("relay reservation", "relay", ai.ID, "expires", rsvp.Expiration)
		// Hold it until it is due for renewal or the relay drops. The
		// expiry is by the relay's clock and its TTL is the relay's choice
		// (see renewAfter).
		renew := time.Now().Add(renewAfter(time.Until(rsvp.Expiration)))
		for time.Now().Before(renew) {
			if h.Network().Connectedness(ai.ID) != network.Connected {
				r.set(ai.ID, nil) // stop advertising a circuit that is gone
				break
			}
			if !sleep(ctx, min(checkEvery, time.Until(renew))) {
				return
			}
		}
	}
}

// renewAfter is how long to hold a reservation that expires in ttl before
// renewing it: renewBefore ahead of expiry, or halfway through if that is
// later (a short TTL), and never sooner than retryMin (a relay with a tiny
// TTL, or a clock far off, must not make the loop spin).
func renewAfter(ttl time.Duration) time.Duration {
	return max(retryMin, ttl-renewBefore, ttl/2)
}

func (r *Reservations) reserve(ctx context.Context, h host.Host, ai peer.AddrInfo) (*client.Reservation, error) {
	ctx, cancel := context.WithTimeout(ctx, reserveTimeout)
	defer cancel()
	if err := h.Connect(ctx, ai); err != nil {
		return nil, err
	}
	return client.Reserve(ctx, h, ai)
}

// sleep waits d or until ctx ends, reporting whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
