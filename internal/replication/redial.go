package replication

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	ma "github.com/multiformats/go-multiaddr"
)

// Redialing. A database keeps an address book of the peers it replicated
// with; while it has no peer, a Redialer dials them again: soon after
// start, and whenever its last peer leaves, with a jittered exponential
// backoff between redialMin and redialMax. A peer that restarted on
// another port is found again when it redials us, or when its new address
// reaches the book through another peer.
const (
	redialMin         = time.Second
	redialMax         = time.Minute
	redialDialTimeout = 10 * time.Second
	redialParallel    = 4 // dials at once
	redialTried       = 8 // most recently seen peers dialled per round
)

// Redialer keeps one database connected to the peers of its address book.
// Its methods are safe for concurrent use; Run blocks until ctx ends.
type Redialer struct {
	host  host.Host
	book  *AddressBook
	peers func() int // the database's peers now
	log   hclog.Logger
	wake  chan struct{}

	// OnRedial, if set, is called after each successful redial.
	OnRedial func(peer.ID)
}

// NewRedialer returns a redialer for the database whose peer count peers
// reports; log may be nil.
func NewRedialer(h host.Host, book *AddressBook, peers func() int, log hclog.Logger) *Redialer {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Redialer{host: h, book: book, peers: peers, log: log, wake: make(chan struct{}, 1)}
}

// Lonely tells the redialer that a peer left.
func (r *Redialer) Lonely() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Record writes a peer that joined into the address book, with every
// address the host knows for it, and keeps those in the peerstore for
// longer than a connection's life.
func (r *Redialer) Record(ctx context.Context, p peer.ID) {
	var addrs []ma.Multiaddr
	for _, c := range r.host.Network().ConnsToPeer(p) {
		addrs = append(addrs, c.RemoteMultiaddr())
	}
	addrs = append(addrs, r.host.Peerstore().Addrs(p)...)
	if err := r.book.Record(ctx, peer.AddrInfo{ID: p, Addrs: addrs}); err != nil && ctx.Err() == nil {
		r.log.Warn("address book", "peer", p, "error", err)
	}
	r.host.Peerstore().AddAddrs(p, addrs, peerstore.RecentlyConnectedAddrTTL)
}

// Run redials while the database has no peer, until ctx ends.
func (r *Redialer) Run(ctx context.Context) {
	backoff := redialMin
	// Soon after start, not at once: a caller that connects explicitly
	// right after opening (an invite, a test) should not race a redial of
	// the same peer (TCP simultaneous open can fail both dials).
	timer := time.NewTimer(jitter(redialMin / 2))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
			backoff = redialMin
			timer.Reset(jitter(backoff))
			continue
		case <-timer.C:
		}
		if r.peers() > 0 {
			backoff = redialMin
			timer.Reset(redialMax) // a check now and then; leaving peers wake us
			continue
		}
		r.redial(ctx)
		timer.Reset(jitter(backoff))
		backoff = min(2*backoff, redialMax)
	}
}

// jitter spreads d by ±20%, so peers that lost each other at the same
// moment do not redial in lockstep.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration((rand.Float64()*0.4-0.2)*float64(d))
}

// redial dials the most recently seen peers of the address book.
func (r *Redialer) redial(ctx context.Context) {
	peers, err := r.book.List(ctx)
	if err != nil {
		r.log.Debug("address book", "error", err)
		return
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, redialParallel)
	for i, ai := range peers {
		if i == redialTried {
			break
		}
		if ai.ID == r.host.ID() || len(r.host.Network().ConnsToPeer(ai.ID)) > 0 {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(ai peer.AddrInfo) {
			defer wg.Done()
			defer func() { <-sem }()
			dctx, cancel := context.WithTimeout(ctx, redialDialTimeout)
			defer cancel()
			if err := r.host.Connect(dctx, ai); err != nil {
				r.log.Debug("redial", "peer", ai.ID, "error", err)
				return
			}
			if r.OnRedial != nil {
				r.OnRedial(ai.ID)
			}
		}(ai)
	}
	wg.Wait()
}
