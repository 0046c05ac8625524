package relay

import (
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/x/rate"
	xrate "golang.org/x/time/rate"
)

// maxRatedPeers bounds the peers a peerLimiter keeps a bucket for. Past
// it, buckets that have refilled (the same as a fresh one) are dropped
// first, then the oldest: a peer whose partly spent bucket is dropped
// regains its burst, which the per-address rates still bound.
const maxRatedPeers = 4096

// peerLimiter is a token bucket per peer ID. A nil peerLimiter admits
// everything.
type peerLimiter struct {
	limit xrate.Limit
	burst int
	now   func() time.Time

	mu    sync.Mutex
	peers map[peer.ID]*xrate.Limiter
	order []peer.ID // by first use, for eviction
}

// newPeerLimiter is a limiter of l per peer, on clock now; nil for the
// zero Limit (unlimited).
func newPeerLimiter(l rate.Limit, now func() time.Time) *peerLimiter {
	if l == (rate.Limit{}) {
		return nil
	}
	return &peerLimiter{limit: xrate.Limit(l.RPS), burst: l.Burst, now: now, peers: make(map[peer.ID]*xrate.Limiter)}
}

// allow takes a token from p's bucket, reporting whether there was one.
func (l *peerLimiter) allow(p peer.ID) bool {
	if l == nil {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	lim := l.peers[p]
	if lim == nil {
		if len(l.peers) >= maxRatedPeers {
			l.evict(now)
		}
		lim = xrate.NewLimiter(l.limit, l.burst)
		l.peers[p] = lim
		l.order = append(l.order, p)
	}
	return lim.AllowN(now, 1)
}

// evict drops the buckets that have refilled, or else the oldest half.
func (l *peerLimiter) evict(now time.Time) {
	kept := l.order[:0]
	for _, p := range l.order {
		if l.peers[p].TokensAt(now) >= float64(l.burst) {
			delete(l.peers, p)
		} else {
			kept = append(kept, p)
		}
	}
	l.order = kept
	if len(l.peers) >= maxRatedPeers {
		half := len(l.order) / 2
		for _, p := range l.order[:half] {
			delete(l.peers, p)
		}
		l.order = append(l.order[:0], l.order[half:]...)
	}
}
