package replication

import (
	"slices"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Membership: peers joining and leaving the topic, reported to the
// delegate, answered with a heads exchange or an announcement, and
// remembered for a while after they leave (LeftSince).

func (b *Broadcaster) peerLoop() {
	defer b.wg.Done()
	for {
		ev, err := b.events.NextPeerEvent(b.ctx)
		if err != nil {
			return
		}
		b.leavers.note(ev.Peer, ev.Type == pubsub.PeerJoin, b.cfg.Clock())
		switch ev.Type {
		case pubsub.PeerJoin:
			b.stats.PeerJoins.Add(1)
			b.cfg.Delegate.PeerJoined(ev.Peer)
			if b.cfg.Host != nil {
				b.queuePull(ev.Peer)
				break
			}
			b.announceJoin()
		case pubsub.PeerLeave:
			b.cfg.Delegate.PeerLeft(ev.Peer)
			b.checkLeft(ev.Peer)
		}
	}
}

// leftMemory is how long a broadcaster remembers that a peer left its
// topic (LeftSince).
const leftMemory = time.Minute

// leavers remembers the peers that left a topic and did not join it
// again, for leftMemory. It is safe for concurrent use.
type leavers struct {
	mu   sync.Mutex
	left map[peer.ID]time.Time // when each left (the last leftMemory's)
}

// note records p joining or leaving the topic at now; entries older than
// leftMemory go, so the map is bounded by the peers that left in the last
// leftMemory.
func (l *leavers) note(p peer.ID, joined bool, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if joined {
		delete(l.left, p)
		return
	}
	if l.left == nil {
		l.left = make(map[peer.ID]time.Time)
	}
	for q, at := range l.left {
		if now.Sub(at) > leftMemory {
			delete(l.left, q)
		}
	}
	l.left[p] = now
}

// since tells whether p left at or after t and has not joined again.
func (l *leavers) since(p peer.ID, t time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	at, ok := l.left[p]
	return ok && !at.Before(t)
}

// len is the number of peers remembered.
func (l *leavers) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.left)
}

// LeftSince reports whether p left the topic at or after t (within the
// last minute) and is not subscribed to it now: what gossipsub does to a
// peer whose stream it lost, and what the engine looks for after a relay
// circuit to p closes.
func (b *Broadcaster) LeftSince(p peer.ID, t time.Time) bool {
	if slices.Contains(b.topic.ListPeers(), p) {
		return false
	}
	return b.leavers.since(p, t)
}

// Peers is the number of peers subscribed to the topic now.
func (b *Broadcaster) Peers() int { return len(b.topic.ListPeers()) }
