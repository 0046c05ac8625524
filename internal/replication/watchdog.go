package replication

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// The pubsub watchdog. go-libp2p-pubsub keeps one outbound stream per
// peer. When that stream dies while the peer is still connected (a
// duplicate connection closed, a stream reset by a flaky link) it opens a
// new one, with a backoff; after MaxBackoffAttempts (4) such deaths within
// ten minutes it gives up and forgets the peer, and only a new connection
// (after a full disconnect) brings it back. Until then nothing this node
// publishes reaches that peer directly, though both still list each other
// as connected. The watchdog closes the connections to such a peer and
// dials it again, so pubsub starts afresh.

// DefaultPubsubWatch is how often the watchdog looks unless told
// otherwise.
const DefaultPubsubWatch = 10 * time.Second

var gossipProtocols = []protocol.ID{pubsub.GossipSubID_v13, pubsub.GossipSubID_v12, pubsub.GossipSubID_v11, pubsub.GossipSubID_v10, pubsub.FloodSubID}

// watchdog reconnects connected peers pubsub gave up on. It owns one
// goroutine, ended by close.
type watchdog struct {
	host     host.Host
	ps       *pubsub.PubSub
	log      hclog.Logger
	interval time.Duration
	strikes  map[peer.ID]int // used by the loop goroutine only
	revived  atomic.Uint64

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// startWatchdog starts looking every interval (> 0).
func startWatchdog(h host.Host, ps *pubsub.PubSub, interval time.Duration, log hclog.Logger) *watchdog {
	w := &watchdog{host: h, ps: ps, log: log, interval: interval, strikes: map[peer.ID]int{}}
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		t := time.NewTicker(w.interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				w.check(ctx)
			}
		}
	}()
	return w
}

// close ends the watchdog and waits for it.
func (w *watchdog) close() {
	w.cancel()
	w.wg.Wait()
}

// check looks once. A peer must be missing from pubsub at two looks in a
// row (a connection pubsub has not handled yet is missing at one), over a
// full connection (pubsub ignores limited, relayed ones), and speak a
// pubsub protocol.
func (w *watchdog) check(ctx context.Context) {
	h := w.host
	held := make(map[peer.ID]bool)
	for _, p := range w.ps.ListPeers("") {
		held[p] = true
	}
	for p := range w.strikes {
		if h.Network().Connectedness(p) != network.Connected || held[p] {
			delete(w.strikes, p)
		}
	}
	for _, p := range h.Network().Peers() {
		if held[p] || h.Network().Connectedness(p) != network.Connected {
			continue
		}
		if ok, err := h.Peerstore().SupportsProtocols(p, gossipProtocols...); err != nil || len(ok) == 0 {
			continue
		}
		if w.strikes[p]++; w.strikes[p] < 2 {
			continue
		}
		delete(w.strikes, p)
		w.revive(ctx, p)
	}
}

// revive closes the connections to p and dials it again.
func (w *watchdog) revive(ctx context.Context, p peer.ID) {
	h := w.host
	ai := peer.AddrInfo{ID: p, Addrs: h.Peerstore().Addrs(p)}
	w.log.Warn("pubsub gave up on a connected peer: reconnecting", "peer", p)
	_ = h.Network().ClosePeer(p)
	if len(ai.Addrs) == 0 {
		return // the peer dials back, or the address book's redialer does
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := h.Connect(dctx, ai); err != nil {
		w.log.Debug("pubsub watchdog: redial failed", "peer", p, "err", err)
		return
	}
	w.revived.Add(1)
}
