package replication

import (
	"context"
	"errors"

	"github.com/ipfs/go-cid"
	dscrdt "github.com/ipfs/go-ds-crdt"
	crdtpb "github.com/ipfs/go-ds-crdt/pb"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"
)

// Receiving: the topic validator judges each announcement before pubsub
// delivers it, the receive loop drains the subscription without ever
// blocking on go-ds-crdt, and Next hands go-ds-crdt the heads whose
// blocks are local, one at a time, journaled.

// maxQueuedHeads bounds the heads waiting for go-ds-crdt. Heads beyond it
// are dropped (and counted); the sender's periodic rebroadcast and the
// heads exchange on peer join bring them back.
const maxQueuedHeads = 1 << 16

// Next implements dscrdt.Broadcaster: the next head whose block is local.
func (b *Broadcaster) Next(ctx context.Context) ([]byte, error) {
	// go-ds-crdt asks for the next head once it is done with the last.
	if b.merging.Defined() {
		b.forwardMerged(b.merging)
		b.merging = cid.Undef
	}
	if b.cfg.Journal != nil && b.handed.Defined() {
		if err := b.cfg.Journal.End(b.ctx, b.handed); err != nil && b.ctx.Err() == nil {
			b.log.Warn("journal", "error", err)
		}
		b.handed = cid.Undef
	}
	for {
		b.mu.Lock()
		if len(b.queue) > 0 {
			q := b.queue[0]
			b.queue[0] = queuedHead{}
			b.queue = b.queue[1:]
			delete(b.pending, q.h)
			b.mu.Unlock()
			// A remote block waits in the quarantine, which may have
			// evicted it since it was queued: go-ds-crdt would then fetch
			// it itself, holding up every head behind it. Fetch it in the
			// background again instead.
			if has, err := b.bstore.Has(b.ctx, q.h); err == nil && !has {
				b.offer(q.h, q.from)
				continue
			}
			if b.cfg.Journal != nil {
				if err := b.cfg.Journal.Begin(b.ctx, q.h); err != nil {
					// Not merged unjournaled: the head is announced again.
					b.log.Warn("journal", "error", err)
					continue
				}
				b.handed = q.h
			}
			b.merging = q.h
			if q.from != "" {
				b.handedFrom.Store(q.from)
			}
			b.maybeCatchUp(q.h, q.from)
			return proto.Marshal(&crdtpb.CRDTBroadcast{Heads: []*crdtpb.Head{{Cid: q.h.Bytes()}}})
		}
		b.mu.Unlock()
		select {
		case <-b.ready:
		case <-ctx.Done():
			return nil, dscrdt.ErrNoMoreBroadcast
		case <-b.ctx.Done():
			return nil, dscrdt.ErrNoMoreBroadcast
		}
	}
}

// Validate is the topic validator: malformed messages are rejected (and
// their sender penalised by gossipsub, see score.go); messages whose
// author may not write are ignored, before any of their heads is queued,
// without penalising the peer that relayed them (replicas may disagree
// about the controller's state for a while).
func (b *Broadcaster) Validate(ctx context.Context, from peer.ID, msg *pubsub.Message) pubsub.ValidationResult {
	if msg.GetFrom() == b.self && from == b.self {
		// Our own announcement, validated by pubsub before it leaves: the
		// receive loop skips it, so there is nothing to decode.
		return pubsub.ValidationAccept
	}
	data, err := b.seal.open(msg.Data)
	var m *Message
	if err == nil {
		m, err = DecodeMessage(data)
	}
	if err != nil {
		b.stats.Rejected.Add(1)
		if errors.Is(err, ErrUnsupportedMessage) {
			// Perhaps a newer Lattice: drop it without penalty.
			return pubsub.ValidationIgnore
		}
		return pubsub.ValidationReject
	}
	if author := msg.GetFrom(); author != b.self {
		if err := b.cfg.Delegate.CanAnnounce(ctx, author); err != nil {
			b.stats.Rejected.Add(1)
			return pubsub.ValidationIgnore
		}
	}
	msg.ValidatorData = m
	return pubsub.ValidationAccept
}

func (b *Broadcaster) receiveLoop() {
	defer b.wg.Done()
	for {
		msg, err := b.sub.Next(b.ctx)
		if err != nil {
			return
		}
		if msg.GetFrom() == b.self {
			continue
		}
		m, ok := msg.ValidatorData.(*Message)
		if !ok {
			// Not seen by our validator (it is registered before we
			// subscribe, so this should not happen): judge it here.
			if b.Validate(b.ctx, msg.ReceivedFrom, msg) != pubsub.ValidationAccept {
				continue
			}
			m = msg.ValidatorData.(*Message)
		}
		// pubsub keeps the message for gossip for a few heartbeats: drop
		// the decoded copy (its blocks go to the quarantine below), or
		// every message would be held twice.
		msg.ValidatorData = nil
		b.stats.BytesIn.Add(uint64(len(msg.Data)))
		b.hear(m.Heads)
		b.accept(m, msg.GetFrom())
	}
}

// accept takes a validated announcement by from: its inline blocks go to
// the quarantine, its heads to go-ds-crdt or to be fetched.
func (b *Broadcaster) accept(m *Message, from peer.ID) {
	b.stats.HeadsReceived.Add(uint64(len(m.Heads)))
	if len(m.Blocks) > 0 {
		if err := b.bstore.PutMany(b.ctx, m.Blocks); err != nil {
			b.log.Warn("store inline blocks", "error", err)
		}
	}
	for _, h := range m.Heads {
		b.offer(h, from)
	}
}

// offer queues a head for go-ds-crdt, or, when its block is missing, for
// a fetch. It never blocks: the receive loop must keep draining the
// subscription whatever announcers do.
func (b *Broadcaster) offer(h cid.Cid, from peer.ID) {
	b.mu.Lock()
	if _, dup := b.pending[h]; dup {
		b.mu.Unlock()
		return
	}
	if len(b.pending) >= maxQueuedHeads {
		b.mu.Unlock()
		b.stats.HeadsDropped.Add(1)
		return
	}
	b.pending[h] = struct{}{}
	b.mu.Unlock()

	if has, _ := b.bstore.Has(b.ctx, h); has {
		b.Enqueue(h, from)
		return
	}
	b.mu.Lock()
	q := b.fetchQ[from]
	if len(q)+b.fetching[from] >= maxFetchesPerPeer {
		// This announcer already has its share of fetches waiting: drop the
		// head. If it is real, the next announcement brings it back.
		delete(b.pending, h)
		b.mu.Unlock()
		b.stats.HeadsDropped.Add(1)
		return
	}
	if len(q) == 0 {
		b.fetchOrder = append(b.fetchOrder, from)
	}
	b.fetchQ[from] = append(q, h)
	b.mu.Unlock()
	select {
	case b.fetchWake <- struct{}{}:
	default:
	}
}

// queuedHead is a head ready for go-ds-crdt, with the peer that announced
// it (to fetch it from again if its block goes missing).
type queuedHead struct {
	h    cid.Cid
	from peer.ID
}

// Enqueue hands go-ds-crdt a head whose block is local, with the peer
// to fetch it from again should the quarantine evict it first.
func (b *Broadcaster) Enqueue(h cid.Cid, from peer.ID) {
	b.mu.Lock()
	b.queue = append(b.queue, queuedHead{h, from})
	b.mu.Unlock()
	select {
	case b.ready <- struct{}{}:
	default:
	}
}

// Queued is the number of heads waiting for go-ds-crdt or for their
// block.
func (b *Broadcaster) Queued() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.pending)
}
