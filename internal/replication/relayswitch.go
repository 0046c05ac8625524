package replication

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// The relay switch repair. When a relay circuit to a peer closes while a
// direct connection to it stays (transports closes the circuit once a hole
// punch or a direct dial succeeded), gossipsub's streams on the circuit
// die and it opens new ones on the direct connection. gossipsub v0.19
// clears a peer's subscriptions whenever one of its two streams with the
// peer dies (handleDeadPeers and onClosedIncomingStream both call
// clearPeerFromTopicsState), and learns them again only from the hello at
// the start of the peer's next stream. When the death of the old stream
// is processed after that hello (the two reach pubsub's event loop by
// different channels, in either order), the subscriptions stay cleared:
// both peers list each other as pubsub peers, but one no longer publishes
// the database's announcements to the other. The pubsub watchdog does not
// see it (the peer is a pubsub peer), so after every such switch the
// node checks each open database's topic: a peer that left a topic
// around the switch and has not joined it again within relayRepairWait is
// disconnected and dialled again, so that pubsub starts afresh on both
// sides (as the watchdog does).
//
// Package transports closes the circuit; this repair sits next to
// gossipsub because it mends gossipsub's state, and it reads only the
// connections, so it works on any host.

const (
	// relayRepairWait is how long after a switch a peer may be missing
	// from a topic it left then: gossipsub reopens a dead stream after
	// 100 ms, and its hello restores the subscriptions in a round trip
	// (on loopback the topic got the peer back within a millisecond or
	// never; a repair that was not needed costs one reconnect).
	relayRepairWait = 1500 * time.Millisecond
	// relayRepairEvery bounds repairs: at most one per peer this often.
	relayRepairEvery = time.Minute
	// relayRepairTries bounds the repairs one switch leads to.
	relayRepairTries = 3
	// relaySwitchSlack: a topic left this long before the circuit's
	// close was noticed counts as left by the switch (pubsub may process
	// the dead stream before the swarm tells the notifiee).
	relaySwitchSlack = 2 * time.Second
)

// relaySwitch watches the host's connections for relay circuits that close
// while a direct connection stays, and repairs pubsub after them. It owns
// the check goroutines, ended and waited for by close.
type relaySwitch struct {
	host     host.Host
	log      hclog.Logger
	now      func() time.Time
	lost     func(p peer.ID, since time.Time) int // topics p left since and has not joined again
	notifiee *network.NotifyBundle
	repaired atomic.Uint64

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	checking map[peer.ID]bool      // peers being checked now
	last     map[peer.ID]time.Time // last repair, per peer (pruned after relayRepairEvery)
}

// startRelaySwitch starts watching h. lost counts the topics p left at or
// after since and has not joined again; now is the clock the topics date
// leaving with.
func startRelaySwitch(h host.Host, lost func(peer.ID, time.Time) int, now func() time.Time, log hclog.Logger) *relaySwitch {
	rs := &relaySwitch{host: h, log: log, now: now, lost: lost, checking: map[peer.ID]bool{}, last: map[peer.ID]time.Time{}}
	rs.ctx, rs.cancel = context.WithCancel(context.Background())
	rs.notifiee = &network.NotifyBundle{DisconnectedF: rs.disconnected}
	h.Network().Notify(rs.notifiee)
	return rs
}

// close unregisters the notifiee, ends the checks and waits for them.
func (rs *relaySwitch) close() {
	rs.host.Network().StopNotify(rs.notifiee)
	rs.mu.Lock()
	rs.cancel() // under mu: no check starts after this
	rs.mu.Unlock()
	rs.wg.Wait()
}

// isRelayed tells whether a is a relay circuit address.
func isRelayed(a ma.Multiaddr) bool {
	_, err := a.ValueForProtocol(ma.P_CIRCUIT)
	return err == nil
}

// directlyConnected tells whether h has a direct (not relayed)
// connection to p.
func directlyConnected(h host.Host, p peer.ID) bool {
	for _, c := range h.Network().ConnsToPeer(p) {
		if !isRelayed(c.RemoteMultiaddr()) {
			return true
		}
	}
	return false
}

// disconnected is the notifiee: it does not block.
func (rs *relaySwitch) disconnected(n network.Network, c network.Conn) {
	if !isRelayed(c.RemoteMultiaddr()) {
		return
	}
	p := c.RemotePeer()
	if !directlyConnected(rs.host, p) {
		return // gone, or still relayed: pubsub handles a full disconnect
	}
	since := rs.now().Add(-relaySwitchSlack)
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.checking[p] || rs.ctx.Err() != nil {
		return
	}
	rs.checking[p] = true // bounded by the connected peers
	rs.wg.Add(1)
	go rs.check(rs.ctx, p, since)
}

// check waits relayRepairWait, then repairs p if a database's topic lost
// it since the switch, up to relayRepairTries times.
func (rs *relaySwitch) check(ctx context.Context, p peer.ID, since time.Time) {
	defer rs.wg.Done()
	defer func() {
		rs.mu.Lock()
		delete(rs.checking, p)
		rs.mu.Unlock()
	}()
	for try := 0; try < relayRepairTries; try++ {
		t := time.NewTimer(relayRepairWait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		lost := rs.lost(p, since)
		if lost == 0 || rs.host.Network().Connectedness(p) != network.Connected {
			return
		}
		if !rs.mayRepair(p) {
			rs.log.Debug("pubsub lost a peer's subscriptions after a relay switch; repaired recently", "peer", p)
			return
		}
		rs.log.Warn("pubsub lost a peer's subscriptions after the relay circuit closed: reconnecting", "peer", p, "topics", lost)
		since = rs.now()
		if rs.reconnect(ctx, p) {
			rs.repaired.Add(1)
		}
	}
}

// mayRepair reports whether p may be repaired now, and if so records it.
func (rs *relaySwitch) mayRepair(p peer.ID) bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	now := rs.now()
	for q, at := range rs.last {
		if now.Sub(at) > relayRepairEvery {
			delete(rs.last, q)
		}
	}
	if _, ok := rs.last[p]; ok {
		return false
	}
	rs.last[p] = now
	return true
}

// lostSubscription repairs p, whose subscription to a database's topic
// gossipsub dropped while p stayed connected with the database open (see
// replication.Config.LostSubscription): the same fault as after a relay
// switch, from any stream that died. It does not block.
func (rs *relaySwitch) lostSubscription(p peer.ID) {
	if !rs.mayRepair(p) {
		return
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.ctx.Err() != nil {
		return
	}
	rs.wg.Add(1)
	go func() {
		defer rs.wg.Done()
		if rs.reconnect(rs.ctx, p) {
			rs.repaired.Add(1)
		}
	}()
}

// reconnect closes the connections to p and dials it again: at its
// direct addresses (the one just used among them; a NAT keeps a punched
// mapping for a while), then, if none answers, at every address the
// peerstore has, relay circuits included (a new relayed connection is
// punched again).
func (rs *relaySwitch) reconnect(ctx context.Context, p peer.ID) bool {
	h := rs.host
	all := h.Peerstore().Addrs(p)
	var direct []ma.Multiaddr
	for _, c := range h.Network().ConnsToPeer(p) {
		if !isRelayed(c.RemoteMultiaddr()) {
			direct = append(direct, c.RemoteMultiaddr())
		}
	}
	for _, a := range all {
		if !isRelayed(a) {
			direct = append(direct, a)
		}
	}
	_ = h.Network().ClosePeer(p)
	for i, addrs := range [][]ma.Multiaddr{direct, all} {
		if len(addrs) == 0 {
			continue
		}
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if i == 0 {
			// Only the direct addresses: Connect dials every address the
			// peerstore has, and a circuit's dial can win the race under
			// load, bringing the relay back (CI saw it).
			dctx = network.WithForceDirectDial(dctx, "relay switch repair")
		}
		err := h.Connect(dctx, peer.AddrInfo{ID: p, Addrs: addrs})
		cancel()
		if err == nil {
			return true
		}
		rs.log.Debug("relay switch repair: redial failed", "peer", p, "addrs", addrs, "err", err)
	}
	return false
}
