package sim

import (
	"sync"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/holepunch"
)

// PunchLog collects DCUtR's events from every host of a run: which pairs
// of peers tried to punch a hole and which succeeded. It is a
// holepunch.EventTracer, safe for concurrent use.
type PunchLog struct {
	mu    sync.Mutex
	pairs map[[2]peer.ID]*PunchPair
}

// PunchPair is what happened between two peers (in either direction).
type PunchPair struct {
	Attempts  int  // hole-punch attempts, counted on both sides
	Failures  int  // attempts that ended without a connection
	Succeeded bool // some attempt ended with a direct connection
	Errors    int  // protocol errors (a stream reset, no addresses)
}

var _ holepunch.EventTracer = (*PunchLog)(nil)

func pairKey(a, b peer.ID) [2]peer.ID {
	if b < a {
		a, b = b, a
	}
	return [2]peer.ID{a, b}
}

// Trace implements holepunch.EventTracer.
func (l *PunchLog) Trace(evt *holepunch.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pairs == nil {
		l.pairs = make(map[[2]peer.ID]*PunchPair)
	}
	k := pairKey(evt.Peer, evt.Remote)
	p := l.pairs[k]
	if p == nil {
		p = &PunchPair{}
		l.pairs[k] = p
	}
	switch e := evt.Evt.(type) {
	case *holepunch.HolePunchAttemptEvt:
		p.Attempts++
	case *holepunch.EndHolePunchEvt:
		if e.Success {
			p.Succeeded = true
		} else {
			p.Failures++
		}
	case *holepunch.ProtocolErrorEvt:
		p.Errors++

	}
}

// Pair is what happened between a and b; ok is false if DCUtR never ran
// between them.
func (l *PunchLog) Pair(a, b peer.ID) (PunchPair, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p, ok := l.pairs[pairKey(a, b)]
	if !ok {
		return PunchPair{}, false
	}
	return *p, true
}

// Pairs are every pair DCUtR ran between.
func (l *PunchLog) Pairs() map[[2]peer.ID]PunchPair {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[[2]peer.ID]PunchPair, len(l.pairs))
	for k, v := range l.pairs {
		out[k] = *v
	}
	return out
}
