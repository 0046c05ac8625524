package transports

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/p2p/host/eventbus"
	"github.com/libp2p/go-libp2p/p2p/protocol/holepunch"
	ma "github.com/multiformats/go-multiaddr"
)

// ConnKind is how a host is connected to a peer.
type ConnKind string

const (
	// KindNone: not connected.
	KindNone ConnKind = ""
	// KindDirect: a direct connection, dialed or accepted without help.
	KindDirect ConnKind = "direct"
	// KindHolePunched: a direct connection that hole punching (DCUtR)
	// established, through NATs that block unsolicited dials.
	KindHolePunched ConnKind = "holepunched"
	// KindRelayed: only relay circuits (/p2p-circuit) reach the peer.
	KindRelayed ConnKind = "relayed"
)

// Kinds are the connection kinds of a connected peer, for metrics.
var Kinds = []ConnKind{KindDirect, KindHolePunched, KindRelayed}

// IsRelayed reports whether a is a relay circuit address.
func IsRelayed(a ma.Multiaddr) bool {
	_, err := a.ValueForProtocol(ma.P_CIRCUIT)
	return err == nil
}

// KindOf is how h is connected to p, from the connections alone: direct
// or relayed (it cannot tell a hole-punched connection from another
// direct one; Traversal.Kind can). It works on any host.
func KindOf(h host.Host, p peer.ID) ConnKind {
	kind := KindNone
	for _, c := range h.Network().ConnsToPeer(p) {
		if !IsRelayed(c.RemoteMultiaddr()) {
			return KindDirect
		}
		kind = KindRelayed
	}
	return kind
}

// HolePunchStats counts hole punches since the host started.
type HolePunchStats struct {
	// Attempts are punch attempts (simultaneous dials), both as the side
	// that initiated DCUtR and as the side that answered.
	Attempts int64
	// Successes are attempts that ended with a direct connection.
	Successes int64
}

// Traversal watches a host's NAT traversal: its reachability as AutoNAT
// reports it, how it is connected to each peer, and hole punching. Hosts
// built by New have one (TraversalOf); its methods are safe for concurrent
// use.
//
// Once a direct connection to a peer exists, libp2p opens every new stream
// on it (bitswap's block transfers, catch-up streams). NATConfig's
// RelayCloseDelay later, the side with the lower peer ID closes the relay
// circuits to the peer, which moves the streams that were on them
// (gossipsub's) to the direct connection too: see the package doc for
// what that does to gossipsub and how the engine repairs it.
type Traversal struct {
	log        hclog.Logger
	closeDelay time.Duration // negative: keep relay circuits

	attempts, successes, circuitsClosed, repunches atomic.Int64

	mu        sync.Mutex
	h         host.Host
	reach     network.Reachability
	reachable []ma.Multiaddr
	holes     map[peer.ID]bool      // peers whose direct connection DCUtR made
	closing   map[peer.ID]bool      // peers whose circuits are to be closed
	repunched map[peer.ID]time.Time // peers redialled for a punch, when (the last RepunchEvery's)
	ctx       context.Context

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// newTraversal returns a Traversal not yet watching a host: it is the
// hole punch tracer, which libp2p needs before the host exists.
// closeDelay is NATConfig.relayCloseDelay.
func newTraversal(log hclog.Logger, closeDelay time.Duration) *Traversal {
	return &Traversal{log: log, closeDelay: closeDelay, holes: map[peer.ID]bool{}, closing: map[peer.ID]bool{}, repunched: map[peer.ID]time.Time{}}
}

// notifiee is the Traversal's network.Notifiee, kept off its API.
type notifiee Traversal

var _ network.Notifiee = (*notifiee)(nil)

// Connected implements network.Notifiee: a direct connection to a peer
// that is also reached through a relay schedules the circuits' close. It
// does not block.
func (nt *notifiee) Connected(n network.Network, c network.Conn) {
	t := (*Traversal)(nt)
	if t.closeDelay < 0 || IsRelayed(c.RemoteMultiaddr()) {
		return
	}
	p := c.RemotePeer()
	if n.LocalPeer() > p {
		return // the peer closes them
	}
	relayed := false
	for _, o := range n.ConnsToPeer(p) {
		relayed = relayed || IsRelayed(o.RemoteMultiaddr())
	}
	if !relayed {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ctx == nil || t.ctx.Err() != nil || t.closing[p] {
		return
	}
	t.closing[p] = true // bounded by the connected peers
	t.wg.Add(1)
	go t.closeCircuits(t.ctx, n, p)
}

// closeCircuits closes the relayed connections to p after closeDelay, if
// a direct one is still open then.
func (t *Traversal) closeCircuits(ctx context.Context, n network.Network, p peer.ID) {
	defer t.wg.Done()
	defer func() {
		t.mu.Lock()
		delete(t.closing, p)
		t.mu.Unlock()
	}()
	timer := time.NewTimer(t.closeDelay)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return
	case <-timer.C:
	}
	var circuits []network.Conn
	direct := false
	for _, c := range n.ConnsToPeer(p) {
		if IsRelayed(c.RemoteMultiaddr()) {
			circuits = append(circuits, c)
		} else if !c.IsClosed() {
			direct = true
		}
	}
	if !direct {
		return
	}
	for _, c := range circuits {
		t.circuitsClosed.Add(1)
		// An error is the circuit's stream refusing a clean close: the
		// connection is closed all the same.
		err := c.Close()
		t.log.Info("relay circuit closed: the peer is connected directly", "peer", p, "error", err)
	}
}

// RepunchEvery bounds the redials of repunch: at most one per peer this
// often.
const RepunchEvery = 5 * time.Minute

// repunchDialTimeout bounds one redial of a relay circuit.
const repunchDialTimeout = 30 * time.Second

// repunch runs when the host becomes ready to hole-punch. libp2p tries a
// punch only when a relayed connection opens, and only if both sides are
// ready then, so a connection made earlier (a restart and an immediate
// redial) would stay relayed. For each peer reached only through a relay,
// at a circuit address known to work (the one this host dialled, or one
// the peer advertises), repunch closes the circuit and dials it again
// (once per peer per RepunchEvery): the peer's libp2p then punches the new
// relayed connection. A peer that becomes ready later does the same from
// its side.
func (t *Traversal) repunch(ctx context.Context) {
	t.mu.Lock()
	h := t.h
	t.mu.Unlock()
	if h == nil {
		return
	}
	now := time.Now()
	for _, p := range h.Network().Peers() {
		if KindOf(h, p) != KindRelayed {
			continue
		}
		addrs := circuitAddrs(h, p)
		if len(addrs) == 0 {
			continue
		}
		t.mu.Lock()
		for q, at := range t.repunched {
			if now.Sub(at) > RepunchEvery {
				delete(t.repunched, q)
			}
		}
		_, recent := t.repunched[p]
		if !recent {
			t.repunched[p] = now // bounded by the relayed peers of RepunchEvery
			t.wg.Add(1)
		}
		t.mu.Unlock()
		if recent {
			continue
		}
		go t.redial(ctx, h, p, addrs)
	}
}

// circuitAddrs are the relay circuit addresses of p that h can dial: those
// of its outbound relayed connections, then those of the peerstore.
func circuitAddrs(h host.Host, p peer.ID) []ma.Multiaddr {
	var out []ma.Multiaddr
	add := func(a ma.Multiaddr) {
		if IsRelayed(a) && !slices.ContainsFunc(out, a.Equal) {
			out = append(out, a)
		}
	}
	suffix, err := ma.NewComponent("p2p", p.String())
	if err != nil {
		return nil
	}
	for _, c := range h.Network().ConnsToPeer(p) {
		a := c.RemoteMultiaddr()
		if c.Stat().Direction != network.DirOutbound || !IsRelayed(a) {
			continue
		}
		if len(a) > 0 && a[len(a)-1].Code() == ma.P_CIRCUIT {
			a = a.AppendComponent(suffix)
		}
		add(a)
	}
	for _, a := range h.Peerstore().Addrs(p) {
		add(a)
	}
	return out
}

// redial closes the relayed connections to p and dials addrs, which it
// puts back in the peerstore first (closing the last connection to p
// shortens the TTL of the addresses libp2p learnt from it).
func (t *Traversal) redial(ctx context.Context, h host.Host, p peer.ID, addrs []ma.Multiaddr) {
	defer t.wg.Done()
	t.repunches.Add(1)
	for _, c := range h.Network().ConnsToPeer(p) {
		if IsRelayed(c.RemoteMultiaddr()) {
			_ = c.Close()
		}
	}
	h.Peerstore().AddAddrs(p, addrs, peerstore.RecentlyConnectedAddrTTL)
	dctx, cancel := context.WithTimeout(ctx, repunchDialTimeout)
	defer cancel()
	if err := h.Connect(dctx, peer.AddrInfo{ID: p, Addrs: addrs}); err != nil {
		t.log.Warn("redialling a relayed peer for a hole punch failed", "peer", p, "addrs", addrs, "error", err)
		return
	}
	t.log.Info("relayed peer redialled for a hole punch", "peer", p, "kind", KindOf(h, p))
}

// Repunches counts the relayed peers the host redialled when it became
// ready to hole-punch (see HolePunchReady).
func (t *Traversal) Repunches() int64 { return t.repunches.Load() }

// Disconnected implements network.Notifiee.
func (*notifiee) Disconnected(network.Network, network.Conn) {}

// Listen implements network.Notifiee.
func (*notifiee) Listen(network.Network, ma.Multiaddr) {}

// ListenClose implements network.Notifiee.
func (*notifiee) ListenClose(network.Network, ma.Multiaddr) {}

// CircuitsClosed counts the relay circuits the host closed because the
// peer at the other end was connected directly too.
func (t *Traversal) CircuitsClosed() int64 { return t.circuitsClosed.Load() }

var _ holepunch.EventTracer = (*Traversal)(nil)

// Trace receives libp2p's hole punch events (holepunch.WithTracer). It
// does not block.
func (t *Traversal) Trace(evt *holepunch.Event) {
	switch e := evt.Evt.(type) {
	case *holepunch.StartHolePunchEvt:
		t.attempts.Add(1)
	case *holepunch.EndHolePunchEvt:
		if !e.Success {
			t.log.Debug("hole punch failed", "peer", evt.Remote, "error", e.Error, "after", e.EllapsedTime)
			return
		}
		t.successes.Add(1)
		t.log.Info("hole punched", "peer", evt.Remote, "after", e.EllapsedTime)
		t.mu.Lock()
		t.holes[evt.Remote] = true
		t.mu.Unlock()
	}
}

// start watches h until Close.
func (t *Traversal) start(h host.Host) error {
	sub, err := h.EventBus().Subscribe([]any{
		new(event.EvtLocalReachabilityChanged),
		new(event.EvtHostReachableAddrsChanged),
		new(event.EvtPeerConnectednessChanged),
		new(event.EvtLocalProtocolsUpdated),
	}, eventbus.Name("lattice-transports"))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.mu.Lock()
	t.h, t.ctx, t.cancel = h, ctx, cancel
	t.wg.Add(1) // under mu: Connected adds to wg only while ctx lives
	t.mu.Unlock()
	go t.run(ctx, sub)
	h.Network().Notify((*notifiee)(t))
	return nil
}

// run applies host events until ctx ends.
func (t *Traversal) run(ctx context.Context, sub event.Subscription) {
	defer t.wg.Done()
	defer sub.Close()
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-sub.Out():
			switch e := e.(type) {
			case event.EvtLocalReachabilityChanged:
				t.mu.Lock()
				t.reach = e.Reachability
				t.mu.Unlock()
				t.log.Info("reachability", "reachability", e.Reachability.String())
			case event.EvtHostReachableAddrsChanged:
				t.mu.Lock()
				t.reachable = e.Reachable
				t.mu.Unlock()
			case event.EvtLocalProtocolsUpdated:
				if slices.Contains(e.Added, holepunch.Protocol) {
					t.log.Info("ready to hole-punch: redialling the peers reached only through a relay")
					t.repunch(ctx)
				}
			case event.EvtPeerConnectednessChanged:
				if e.Connectedness != network.Connected && e.Connectedness != network.Limited {
					t.mu.Lock()
					delete(t.holes, e.Peer) // bounded by the connected peers
					t.mu.Unlock()
				}
			}
		}
	}
}

// Reachability is the host's reachability as AutoNAT last reported it
// (unknown until it knows). Callers that want to be told subscribe to
// event.EvtLocalReachabilityChanged on the host's event bus.
func (t *Traversal) Reachability() network.Reachability {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.reach
}

// ReachableAddrs are the host addresses AutoNAT v2 confirmed reachable.
func (t *Traversal) ReachableAddrs() []ma.Multiaddr {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]ma.Multiaddr(nil), t.reachable...)
}

// Kind is how the host is connected to p: hole-punched when the direct
// connection came from DCUtR.
func (t *Traversal) Kind(p peer.ID) ConnKind {
	t.mu.Lock()
	h, hole := t.h, t.holes[p]
	t.mu.Unlock()
	if h == nil {
		return KindNone
	}
	k := KindOf(h, p)
	if k == KindDirect && hole {
		return KindHolePunched
	}
	return k
}

// Connections counts connected peers by kind.
func (t *Traversal) Connections() map[ConnKind]int {
	out := make(map[ConnKind]int, len(Kinds))
	for _, k := range Kinds {
		out[k] = 0
	}
	t.mu.Lock()
	h := t.h
	t.mu.Unlock()
	if h == nil {
		return out
	}
	for _, p := range h.Network().Peers() {
		if k := t.Kind(p); k != KindNone {
			out[k]++
		}
	}
	return out
}

// HolePunchReady reports whether the host hole-punches yet: libp2p's DCUtR
// service starts only once the host knows a public address of its own
// (observed by a peer, the relay typically: within seconds of the first
// reservation). libp2p punches a relayed connection once, when it opens,
// and only if both sides are ready then; when the host becomes ready, the
// Traversal redials the peers it reaches only through a relay, so that
// libp2p punches the new relayed connection (Repunches counts them).
func (t *Traversal) HolePunchReady() bool {
	t.mu.Lock()
	h := t.h
	t.mu.Unlock()
	return h != nil && slices.Contains(h.Mux().Protocols(), holepunch.Protocol)
}

// HolePunches counts hole punch attempts and successes.
func (t *Traversal) HolePunches() HolePunchStats {
	return HolePunchStats{Attempts: t.attempts.Load(), Successes: t.successes.Load()}
}

// close stops watching; idempotent.
func (t *Traversal) close() {
	t.mu.Lock()
	h, cancel := t.h, t.cancel
	if cancel != nil {
		cancel() // under mu, so no closeCircuits starts after
	}
	t.mu.Unlock()
	if h != nil {
		h.Network().StopNotify((*notifiee)(t))
	}
	t.wg.Wait()
}

// TraversalOf returns the Traversal of a host New built, or nil for
// another host (use KindOf for those).
func TraversalOf(h host.Host) *Traversal {
	if th, ok := h.(interface{ Traversal() *Traversal }); ok {
		return th.Traversal()
	}
	return nil
}
