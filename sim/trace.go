package sim

import (
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
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
	// PathOther: forwarded by a peer that was in neither mesh when it
	// arrived (a fanout, or a mesh change not yet seen).
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
	mu         sync.Mutex
	mesh       map[string]map[peer.ID]bool // topic -> peers in this replica's mesh
	asked      map[string]bool             // message ids this replica sent IWANT for
	deliveries []delivery
	meshLog    map[string][]meshEvent // topic -> changes
	streams    map[peer.ID]int        // outbound streams opened, per peer
}

func newTracer() *tracer {
	return &tracer{
		mesh:    make(map[string]map[peer.ID]bool),
		asked:   make(map[string]bool),
		meshLog: make(map[string][]meshEvent),
		streams: make(map[peer.ID]int),
	}
}

var _ pubsub.RawTracer = (*tracer)(nil)

func (t *tracer) OnNewOutboundStream(p peer.ID, _ protocol.ID) {
	t.mu.Lock()
	t.streams[p]++
	t.mu.Unlock()
}

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
	t.meshLog[topic] = append(t.meshLog[topic], meshEvent{at: time.Now(), peer: p, graft: graft, remote: remote})
}

func (t *tracer) ValidateMessage(*pubsub.Message) {}

func (t *tracer) DeliverMessage(msg *pubsub.Message) {
	id := string(msg.GetFrom()) + string(msg.GetSeqno())
	t.mu.Lock()
	defer t.mu.Unlock()
	d := delivery{at: time.Now(), author: msg.GetFrom(), from: msg.ReceivedFrom, meshSize: len(t.mesh[msg.GetTopic()])}
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
	t.deliveries = append(t.deliveries, d)
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
			if len(t.asked) < 1<<16 {
				t.asked[id] = true
			}
		}
	}
}
