package replication

import (
	"context"
	"time"

	"github.com/ipfs/go-cid"
	crdtpb "github.com/ipfs/go-ds-crdt/pb"
	"google.golang.org/protobuf/proto"
)

// Announcing: the heads this peer's commits make are coalesced and
// published on the topic (with small blocks inline), the heads others
// announced recently are left out of rebroadcasts, a peer that joins gets
// the current heads when it cannot ask for them, and Close flushes what
// is still waiting.

// Broadcast implements dscrdt.Broadcaster. It only records the heads and
// wakes the sender: announcements are coalesced, so a burst of local
// commits costs one signed pubsub message, not one each. Local commits are
// durable before Broadcast is called; an announcement lost to a crash is
// made again by the rebroadcast and on peer join.
func (b *Broadcaster) Broadcast(ctx context.Context, data []byte) error {
	var bc crdtpb.CRDTBroadcast
	if err := proto.Unmarshal(data, &bc); err != nil {
		return err
	}
	heads := make([]cid.Cid, 0, len(bc.Heads))
	for _, h := range bc.Heads {
		c, err := cid.Cast(h.Cid)
		if err != nil {
			return err
		}
		if b.heardRecently(c) {
			// go-ds-crdt's rebroadcast: someone announced it meanwhile.
			b.stats.HeadsSuppressed.Add(1)
			continue
		}
		heads = append(heads, c)
	}
	b.send(heads)
	return nil
}

// send queues heads for the send loop.
func (b *Broadcaster) send(heads []cid.Cid) {
	if len(heads) == 0 {
		return
	}
	b.announceMu.Lock()
	b.toSend = append(b.toSend, heads...)
	b.announceMu.Unlock()
	select {
	case b.sendWake <- struct{}{}:
	default:
	}
}

// maxHeard bounds the heads a broadcaster remembers hearing (see
// Config.Rebroadcast); beyond it, older ones are forgotten first and new
// ones are not recorded, which only means announcing them again.
const maxHeard = 1024

// hear records that heads were announced on the topic by another peer.
func (b *Broadcaster) hear(heads []cid.Cid) {
	if b.cfg.Rebroadcast <= 0 {
		return
	}
	now := time.Now().UnixNano()
	b.announceMu.Lock()
	defer b.announceMu.Unlock()
	for _, h := range heads {
		if _, ok := b.heard[h]; !ok && len(b.heard) >= maxHeard {
			old := now - int64(b.cfg.Rebroadcast)
			for k, at := range b.heard {
				if at < old {
					delete(b.heard, k)
				}
			}
			if len(b.heard) >= maxHeard {
				return
			}
		}
		b.heard[h] = now
	}
}

// heardRecently tells whether another peer announced h on the topic within
// the rebroadcast interval.
func (b *Broadcaster) heardRecently(h cid.Cid) bool {
	if b.cfg.Rebroadcast <= 0 {
		return false
	}
	b.announceMu.Lock()
	defer b.announceMu.Unlock()
	at, ok := b.heard[h]
	return ok && time.Now().UnixNano()-at < int64(b.cfg.Rebroadcast)
}

// minAnnounceInterval spaces announcements: a signed pubsub message costs
// about as much CPU as a local commit, so under load many heads share one.
// It adds at most this much to replication latency.
const minAnnounceInterval = 2 * time.Millisecond

// sendLoop publishes coalesced announcements.
func (b *Broadcaster) sendLoop() {
	defer b.wg.Done()
	throttle := time.NewTimer(0)
	defer throttle.Stop()
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-b.sendWake:
		}
		select {
		case <-b.ctx.Done():
			return
		case <-throttle.C:
		}
		throttle.Reset(minAnnounceInterval)
		b.announceMu.Lock()
		fresh := b.toSend
		b.toSend = nil
		b.announceMu.Unlock()
		if len(fresh) == 0 || !b.mayAnnounce() {
			continue
		}
		if _, err := b.announce(b.ctx, newestFirst(fresh)); err != nil {
			if b.ctx.Err() != nil {
				// Close cut this announcement short: its flush makes it.
				b.announceMu.Lock()
				b.toSend = append(fresh, b.toSend...)
				b.announceMu.Unlock()
				return
			}
			b.log.Warn("announce", "error", err)
		}
	}
}

// announce publishes heads (at most maxMessageHeads of them, the first)
// and returns how many it published.
func (b *Broadcaster) announce(ctx context.Context, heads []cid.Cid) (int, error) {
	if len(heads) == 0 || len(b.topic.ListPeers()) == 0 {
		// Nobody to tell: a peer that subscribes later gets the heads in
		// the heads exchange its join triggers.
		return 0, nil
	}
	m := b.message(ctx, heads)
	data, err := EncodeMessage(m)
	if err != nil {
		return 0, err
	}
	data = b.seal.seal(data)
	if err := b.topic.Publish(ctx, data); err != nil {
		return 0, err
	}
	b.stats.BytesOut.Add(uint64(len(data)))
	b.stats.HeadsSent.Add(uint64(len(m.Heads)))
	return len(m.Heads), nil
}

// message is the broadcast of heads (the first maxMessageHeads), with as
// many of their blocks inline as the inline budget holds.
func (b *Broadcaster) message(ctx context.Context, heads []cid.Cid) *Message {
	if len(heads) > maxMessageHeads {
		heads = heads[:maxMessageHeads]
	}
	m := &Message{Heads: heads}
	budget := b.inline
	for _, h := range heads {
		if len(m.Blocks) == maxMessageBlocks {
			break
		}
		blk, err := b.bstore.Get(ctx, h)
		if err != nil || len(blk.RawData()) > budget {
			continue
		}
		budget -= len(blk.RawData())
		m.Blocks = append(m.Blocks, blk)
	}
	return m
}

// announceGaps are the pauses between the announcements a join triggers:
// the heads go out at once, then 1, 3 and 7 seconds after the join.
var announceGaps = []time.Duration{0, time.Second, 2 * time.Second, 4 * time.Second}

// minAnnounceGap is the least time between two join announcements.
const minAnnounceGap = time.Second

// announceLoop publishes the database's current heads on the topic when
// a peer joins that cannot get them from a heads exchange (see
// announceJoin), so it need not wait for a new write or the periodic
// rebroadcast to learn where the DAG is.
//
// Each join gets several announcements (see announceGaps). Pubsub reports a
// join when the peer's subscription arrives, which can be before it has set
// up its queue to that peer, and drops what is published to it meanwhile;
// on a loaded machine that window can last a while, and a joiner that
// misses every announcement waits for the rebroadcast. A join during the
// schedule starts it over, no sooner than a second after the last
// announcement, so a busy mesh gets at most one announcement a second.
func (b *Broadcaster) announceLoop() {
	defer b.wg.Done()
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	var last time.Time
	round := -1 // index into announceGaps of the pending announcement; -1: none
	for {
		var fire <-chan time.Time
		if round >= 0 {
			fire = timer.C
		}
		select {
		case <-b.ctx.Done():
			return
		case <-b.announceWake:
			round = 0
			timer.Reset(max(0, minAnnounceGap-time.Since(last)))
		case <-fire:
			b.announceHeads()
			last = time.Now()
			if round++; round < len(announceGaps) {
				timer.Reset(announceGaps[round])
			} else {
				round = -1
			}
		}
	}
}

// announceJoin starts announceLoop's schedule of join announcements on
// the topic: for a peer that does not speak the heads exchange, or when
// there is no host to speak it on.
func (b *Broadcaster) announceJoin() {
	select {
	case b.announceWake <- struct{}{}:
	default:
	}
}

// announceHeads publishes the current heads, if this peer may announce.
func (b *Broadcaster) announceHeads() {
	if !b.mayAnnounce() {
		return
	}
	heads := b.cfg.Delegate.Heads(b.ctx)
	n, err := b.announce(b.ctx, heads)
	if err != nil && b.ctx.Err() == nil {
		b.log.Debug("announce heads", "error", err)
	}
	b.stats.HeadsSentOnJoin.Add(uint64(n))
}

// mayAnnounce tells whether this peer should announce heads.
func (b *Broadcaster) mayAnnounce() bool {
	return b.cfg.Delegate.CanAnnounce(b.ctx, b.self) == nil
}

// newestFirst returns the heads queued in fresh (oldest first), newest
// first and each once: receivers process the tip and find the older ones
// already merged.
func newestFirst(fresh []cid.Cid) []cid.Cid {
	heads := make([]cid.Cid, 0, len(fresh))
	seen := make(map[cid.Cid]bool, len(fresh))
	for i := len(fresh) - 1; i >= 0; i-- {
		if !seen[fresh[i]] {
			seen[fresh[i]] = true
			heads = append(heads, fresh[i])
		}
	}
	return heads
}

// flushTimeout bounds the last announcement Close makes.
const flushTimeout = 2 * time.Second

// flush announces the heads still waiting for the send loop's throttle
// when Close stopped it: a database closed right after a write must still
// tell its peers, since a closed database never rebroadcasts.
func (b *Broadcaster) flush() {
	b.announceMu.Lock()
	fresh := b.toSend
	b.toSend = nil
	b.announceMu.Unlock()
	if len(fresh) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	if b.cfg.Delegate.CanAnnounce(ctx, b.self) != nil {
		return
	}
	if _, err := b.announce(ctx, newestFirst(fresh)); err != nil {
		b.log.Warn("announce on close", "error", err)
	}
}
