package sim

import (
	"strings"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// Path is how an announcement first reached a replica.
type Path string

// The paths of a delivery.
const (
	// PathFlood: straight from its author, who publishes to every topic
	// peer (flood publishing).
	PathFlood Path = "flood"
	// PathMesh: forwarded by a mesh neighbour.
	PathMesh Path = "mesh"
	// PathGossip: asked for with IWANT after an IHAVE.
	PathGossip Path = "gossip"
	// PathOther: forwarded by a peer outside the replica's mesh when it
	// arrived (its fanout, or a graft the replica had not made yet).
	PathOther Path = "other"
)

// delivery is one message gossipsub delivered to a replica, first copy
// only.
type delivery struct {
	at       time.Time
	author   peer.ID
	from     peer.ID
	path     Path
	meshSize int // the replica's mesh for the topic when it arrived
	// relayed is true when the gossipsub streams with from were all on
	// relay circuits when it arrived.
	relayed bool
}

// meshEvent is a change of a replica's mesh for a topic.
type meshEvent struct {
	at    time.Time
	peer  peer.ID
	graft bool
	// remote is true for a GRAFT or PRUNE the peer sent, false for one
	// this replica's router made.
	remote bool
}

// tracer is a pubsub.RawTracer that records, for one replica, every first
// delivery with the path it came by and the replica's mesh changes. Its
// methods run on pubsub's event loop: they only take a short lock.
type tracer struct {
	h          host.Host // the replica's host
	mu         sync.Mutex
	mesh       map[string]map[peer.ID]bool // topic -> peers in this replica's mesh
	asked      map[string]bool             // message ids this replica sent IWANT for
	deliveries []delivery
	meshLog    map[string][]meshEvent // topic -> changes
}

// Bounds of a tracer's records (a run longer than they cover reports the
// later writes' announcements as none).
const (
	maxDeliveries = 1 << 16
	maxMeshEvents = 1 << 14
)

func newTracer(h host.Host) *tracer {
	return &tracer{
		h:       h,
		mesh:    make(map[string]map[peer.ID]bool),
		asked:   make(map[string]bool),
		meshLog: make(map[string][]meshEvent),
	}
}

var _ pubsub.RawTracer = (*tracer)(nil)

func (t *tracer) OnNewOutboundStream(peer.ID, protocol.ID) {}

func (t *tracer) OnClosedOutboundStream(peer.ID) {}
func (t *tracer) Join(string)                    {}
func (t *tracer) Leave(string)                   {}

func (t *tracer) Graft(p peer.ID, topic string) { t.meshChange(p, topic, true, false) }
func (t *tracer) Prune(p peer.ID, topic string) { t.meshChange(p, topic, false, false) }

func (t *tracer) meshChange(p peer.ID, topic string, graft, remote bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !remote {
		m := t.mesh[topic]
		if m == nil {
			m = make(map[peer.ID]bool)
			t.mesh[topic] = m
		}
		if graft {
			m[p] = true
		} else {
			delete(m, p)
		}
	}
	if len(t.meshLog[topic]) < maxMeshEvents {
		t.meshLog[topic] = append(t.meshLog[topic], meshEvent{at: time.Now(), peer: p, graft: graft, remote: remote})
	}
}

func (t *tracer) ValidateMessage(*pubsub.Message) {}

func (t *tracer) DeliverMessage(msg *pubsub.Message) {
	id := string(msg.GetFrom()) + string(msg.GetSeqno()) // pubsub's default message id
	relayed := t.relayedPubsub(msg.ReceivedFrom)
	t.mu.Lock()
	defer t.mu.Unlock()
	d := delivery{at: time.Now(), author: msg.GetFrom(), from: msg.ReceivedFrom, meshSize: len(t.mesh[msg.GetTopic()]), relayed: relayed}
	switch {
	case msg.ReceivedFrom == msg.GetFrom():
		d.path = PathFlood
	case t.asked[id]:
		d.path = PathGossip
	case t.mesh[msg.GetTopic()][msg.ReceivedFrom]:
		d.path = PathMesh
	default:
		d.path = PathOther
	}
	delete(t.asked, id)
	if len(t.deliveries) < maxDeliveries {
		t.deliveries = append(t.deliveries, d)
	}
}

func (t *tracer) RejectMessage(*pubsub.Message, string) {}
func (t *tracer) DuplicateMessage(*pubsub.Message)      {}
func (t *tracer) ThrottlePeer(peer.ID)                  {}
func (t *tracer) UndeliverableMessage(*pubsub.Message)  {}
func (t *tracer) DropRPC(*pubsub.RPC, peer.ID)          {}

func (t *tracer) SendRPCCompleted(*pubsub.RPC, peer.ID, time.Duration) {}

func (t *tracer) RecvRPC(rpc *pubsub.RPC) {
	ctl := rpc.GetControl()
	if ctl == nil {
		return
	}
	for _, g := range ctl.GetGraft() {
		t.meshChange(rpc.From(), g.GetTopicID(), true, true)
	}
	for _, p := range ctl.GetPrune() {
		t.meshChange(rpc.From(), p.GetTopicID(), false, true)
	}
}

func (t *tracer) SendRPC(rpc *pubsub.RPC, _ peer.ID) {
	ctl := rpc.GetControl()
	if ctl == nil || len(ctl.GetIwant()) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, w := range ctl.GetIwant() {
		for _, id := range w.GetMessageIDs() {
			if len(t.asked) < maxDeliveries {
				t.asked[id] = true
			}
		}
	}
}

// relayedPubsub tells whether every gossipsub stream with p is on a relay
// circuit.
func (t *tracer) relayedPubsub(p peer.ID) bool {
	relayed, direct := pubsubStreams(t.h, p)
	return relayed && !direct
}

// pubsubStreams tells whether h has gossipsub streams with p on relay
// circuits, and on direct connections.
func pubsubStreams(h host.Host, p peer.ID) (relayed, direct bool) {
	for _, c := range h.Network().ConnsToPeer(p) {
		for _, st := range c.GetStreams() {
			if !strings.HasPrefix(string(st.Protocol()), "/meshsub/") {
				continue
			}
			if isCircuit(c.RemoteMultiaddr().String()) {
				relayed = true
			} else {
				direct = true
			}
		}
	}
	return relayed, direct
}

// pubsubOverRelay tells whether h has a gossipsub stream with p on a
// relay circuit while a direct connection to p is open.
func pubsubOverRelay(h host.Host, p peer.ID) bool {
	if relayed, _ := pubsubStreams(h, p); !relayed {
		return false
	}
	for _, c := range h.Network().ConnsToPeer(p) {
		if !isCircuit(c.RemoteMultiaddr().String()) {
			return true
		}
	}
	return false
}
