package engine

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	ma "github.com/multiformats/go-multiaddr"
)

// Reconnecting. Each open database keeps an address book of the peers it
// replicated with (replication.AddressBook, in the database's namespace of
// the store) and, while the database has no peer, redials them: at open,
// and whenever its last peer leaves, with a jittered exponential backoff
// between reconnectMin and reconnectMax. A peer that restarted on another
// port is found again when it redials us, or when its new address reaches
// the book through another peer it meets.
const (
	reconnectMin         = time.Second
	reconnectMax         = time.Minute
	reconnectDialTimeout = 10 * time.Second
	reconnectParallel    = 4 // dials at once
	reconnectTried       = 8 // most recently seen peers dialled per round
)

// reconnectLoop redials the address book while the database has no peer.
func (db *Database) reconnectLoop() {
	defer db.wg.Done()
	backoff := reconnectMin
	// Soon after open, not at once: a caller that connects explicitly
	// right after opening (an invite, a test) should not race a redial of
	// the same peer (TCP simultaneous open can fail both dials).
	timer := time.NewTimer(jitter(reconnectMin / 2))
	defer timer.Stop()
	for {
		select {
		case <-db.ctx.Done():
			return
		case <-db.lonely:
			backoff = reconnectMin
			timer.Reset(jitter(backoff))
			continue
		case <-timer.C:
		}
		if db.bc.Peers() > 0 {
			backoff = reconnectMin
			timer.Reset(reconnectMax) // a check now and then; leaving peers wake us
			continue
		}
		db.redial(db.ctx)
		timer.Reset(jitter(backoff))
		backoff = min(2*backoff, reconnectMax)
	}
}

// jitter spreads d by ±20%, so peers that lost each other at the same
// moment do not redial in lockstep.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration((rand.Float64()*0.4-0.2)*float64(d))
}

// redial dials the most recently seen peers of the address book.
func (db *Database) redial(ctx context.Context) {
	peers, err := db.book.List(ctx)
	if err != nil {
		db.log.Debug("address book", "error", err)
		return
	}
	h := db.e.host
	var wg sync.WaitGroup
	sem := make(chan struct{}, reconnectParallel)
	for i, ai := range peers {
		if i == reconnectTried {
			break
		}
		if ai.ID == h.ID() || len(h.Network().ConnsToPeer(ai.ID)) > 0 {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(ai peer.AddrInfo) {
			defer wg.Done()
			defer func() { <-sem }()
			dctx, cancel := context.WithTimeout(ctx, reconnectDialTimeout)
			defer cancel()
			if err := h.Connect(dctx, ai); err != nil {
				db.log.Debug("redial", "peer", ai.ID, "error", err)
				return
			}
			db.stats.reconnects.Add(1)
		}(ai)
	}
	wg.Wait()
}

// recordPeer writes a peer that joined the database's topic into the
// address book, with the addresses this host knows for it.
func (db *Database) recordPeer(p peer.ID) {
	h := db.e.host
	var addrs []ma.Multiaddr
	for _, c := range h.Network().ConnsToPeer(p) {
		addrs = append(addrs, c.RemoteMultiaddr())
	}
	addrs = append(addrs, h.Peerstore().Addrs(p)...)
	if err := db.book.Record(db.ctx, peer.AddrInfo{ID: p, Addrs: addrs}); err != nil && db.ctx.Err() == nil {
		db.log.Warn("address book", "peer", p, "error", err)
	}
	// Keep them dialable for longer than a connection's life.
	h.Peerstore().AddAddrs(p, addrs, peerstore.RecentlyConnectedAddrTTL)
}
