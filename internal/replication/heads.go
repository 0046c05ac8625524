package replication

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	msmux "github.com/multiformats/go-multistream"
)

// Heads exchange. When a peer joins a database's topic, each side needs the
// other's heads: the joiner to learn where the DAG is without waiting for a
// write or the rebroadcast, the members to learn what the joiner wrote
// while away. Publishing them on the topic, as go-ds-crdt's own broadcaster
// would, floods every join's heads to every replica: with N peers of degree
// d that is N·d topic-wide messages of up to all heads each, which at a few
// hundred peers was most of the broadcast traffic. Instead each side asks
// the other for its heads on one stream:
//
//	request:  'H' 0x02, claim (the database's TopicKey, 32 bytes, and a
//	          32-byte proof that the requester holds its address: Claim)
//	response: status byte (0 ok, then a broadcast Message, length-prefixed;
//	          1 refused, then a reason)
//
// The request never carries the address: the peer asked may be anyone
// who subscribed to the topic, whose name everyone connected sees. A
// request whose proof fails is refused as one for a database not open
// here, so a peer without the address gets no heads (and learns nothing).
//
// The response is a broadcast message (EncodeMessage: heads, and the
// newest blocks inline), judged as one from the responder: the gate must
// let the responder announce, every inline block is verified against its
// CID and waits in the quarantine.

// HeadsProtocol is the libp2p protocol of heads exchanges.
const HeadsProtocol = protocol.ID("/lattice/heads/1")

// Bounds of heads exchanges.
const (
	maxHeadsRequest  = 256              // bytes of one request
	headsTimeout     = 10 * time.Second // one exchange, either side
	maxHeadsServing  = 16               // exchanges served at once
	headsServingWait = 2 * time.Second  // how long a request waits for a slot
	maxPullsInFlight = 4                // exchanges one broadcaster runs at once
)

// ErrHeads marks a heads exchange that failed: refused, broken, or a
// malformed answer.
var ErrHeads = errors.New("replication: heads exchange failed")

// EncodeHeadsRequest encodes a request for the heads of the database the
// claim names.
func EncodeHeadsRequest(c Claim) []byte {
	return appendClaim([]byte{'H', 2}, c)
}

// DecodeHeadsRequest decodes a request from the network.
func DecodeHeadsRequest(data []byte) (Claim, error) {
	if len(data) > maxHeadsRequest || len(data) < 2 || data[0] != 'H' || data[1] != 2 {
		return Claim{}, fmt.Errorf("%w: malformed request: header", ErrHeads)
	}
	rd := byteReader{b: data[2:]}
	c, ok := rd.claim()
	if !ok || len(rd.b) != 0 {
		return Claim{}, fmt.Errorf("%w: malformed request: claim", ErrHeads)
	}
	return c, nil
}

// HeadsServer answers heads requests for a host's open databases.
type HeadsServer struct {
	// Lookup returns the manifest and broadcaster of the open database
	// with this TopicKey, or a nil broadcaster.
	Lookup func(key [32]byte) (cid.Cid, *Broadcaster)
	// Admit, if set, is told of each requester whose claim verified,
	// before it is answered.
	Admit func(p peer.ID, manifest cid.Cid)

	sem chan struct{}
}

// NewHeadsServer returns a server over lookup.
func NewHeadsServer(lookup func(key [32]byte) (cid.Cid, *Broadcaster)) *HeadsServer {
	return &HeadsServer{Lookup: lookup, sem: make(chan struct{}, maxHeadsServing)}
}

// Handle answers one request; call it from the host's stream handler for
// HeadsProtocol. It returns when the answer is written or ctx ends. Only a
// requester whose claim proves it holds the address gets heads.
func (s *HeadsServer) Handle(ctx context.Context, st network.Stream) {
	defer st.Close()
	stop := context.AfterFunc(ctx, func() { _ = st.Reset() })
	defer stop()
	_ = st.SetDeadline(time.Now().Add(headsTimeout))
	raw, err := readBytes(bufio.NewReader(st), maxHeadsRequest)
	if err != nil {
		_ = st.Reset()
		return
	}
	claim, err := DecodeHeadsRequest(raw)
	if err != nil {
		_ = st.Reset()
		return
	}
	refuse := func(reason string) {
		_, _ = st.Write(appendBytes([]byte{1}, []byte(reason)))
	}
	wait := time.NewTimer(headsServingWait)
	defer wait.Stop()
	select {
	case s.sem <- struct{}{}:
		defer func() { <-s.sem }()
	case <-wait.C:
		refuse("busy")
		return
	case <-ctx.Done():
		return
	}
	manifest, b := s.Lookup(claim.Key)
	if b == nil || !claim.Verify(manifest, claimHeads, st.Conn().RemotePeer(), st.Conn().LocalPeer()) {
		refuse("database not open here")
		return
	}
	if s.Admit != nil {
		s.Admit(st.Conn().RemotePeer(), manifest)
	}
	data, n2, err := b.headsMessage(ctx)
	if err != nil {
		refuse("heads unavailable")
		return
	}
	if _, err := st.Write(appendBytes([]byte{0}, data)); err == nil {
		b.stats.BytesOut.Add(uint64(len(data)))
		b.stats.HeadsServed.Add(uint64(n2))
	}
}

// errHeadsUnsupported is a peer that does not speak HeadsProtocol (an
// older Lattice): it learns our heads the old way, from the topic.
var errHeadsUnsupported = fmt.Errorf("%w: protocol not supported", ErrHeads)

// unsupported tells whether err says the other side does not speak the
// protocol: the negotiation failed when the stream opened or, when the
// host negotiated lazily (it had seen the peer speak it before), at the
// first read or write.
func unsupported(err error) bool {
	var ns msmux.ErrNotSupported[protocol.ID]
	var se *network.StreamError
	return errors.As(err, &ns) ||
		errors.As(err, &se) && se.Remote && se.ErrorCode == network.StreamProtocolNegotiationFailed
}

// pullHeads asks p for its heads of this database and offers them as if p
// had announced them.
func (b *Broadcaster) pullHeads(ctx context.Context, h host.Host, p peer.ID) error {
	ctx, cancel := context.WithTimeout(ctx, headsTimeout)
	defer cancel()
	// Over the connection the join came on: a peer that is gone is not
	// dialled back for this (the redialer decides about that).
	sctx := network.WithNoDial(network.WithAllowLimitedConn(ctx, "heads"), "heads")
	st, err := h.NewStream(sctx, p, HeadsProtocol)
	if err != nil {
		if unsupported(err) {
			return errHeadsUnsupported
		}
		return fmt.Errorf("%w: open stream to %s: %v", ErrHeads, p, err)
	}
	defer st.Close()
	stop := context.AfterFunc(ctx, func() { _ = st.Reset() })
	defer stop()
	_ = st.SetDeadline(time.Now().Add(headsTimeout))
	if _, err := st.Write(appendBytes(nil, EncodeHeadsRequest(NewClaim(b.cfg.Manifest, claimHeads, h.ID(), p)))); err != nil {
		if unsupported(err) {
			return errHeadsUnsupported
		}
		return fmt.Errorf("%w: send request to %s: %v", ErrHeads, p, err)
	}
	_ = st.CloseWrite()
	br := bufio.NewReader(st)
	status, err := br.ReadByte()
	if err != nil {
		if unsupported(err) {
			return errHeadsUnsupported
		}
		return fmt.Errorf("%w: read status from %s: %v", ErrHeads, p, err)
	}
	if status != 0 {
		reason, _ := readBytes(br, 1024)
		return fmt.Errorf("%w: refused by %s: %s", ErrHeads, p, reason)
	}
	data, err := readBytes(br, MaxMessageSize)
	if err != nil {
		return fmt.Errorf("%w: read heads from %s: %v", ErrHeads, p, err)
	}
	if bytes.Equal(data, noHeads) {
		return nil // open there, nothing written yet: no heads to offer
	}
	m, err := DecodeMessage(data)
	if err != nil {
		b.stats.Rejected.Add(1)
		return fmt.Errorf("%w: heads from %s: %v", ErrHeads, p, err)
	}
	if err := b.cfg.Delegate.CanAnnounce(ctx, p); err != nil {
		b.stats.Rejected.Add(1)
		return nil // a reader: what it has is not ours to take from it
	}
	b.stats.BytesIn.Add(uint64(len(data)))
	b.markForward(m.Heads)
	b.accept(m, p)
	return nil
}

// noHeads is the answer of a database with no heads yet (EncodeMessage
// of an empty message, which DecodeMessage refuses as a broadcast): an
// answer, not a malformed one, so it is neither counted as rejected nor
// tried again.
var noHeads = []byte{msgMagic, msgVersion, 0, 0}

// maxForward bounds the heads waiting to be forwarded.
const maxForward = maxMessageHeads

// markForward notes which of heads are new here: not stored, not
// announced to us already. Those came from the other side of a heads
// exchange only, so the other peers of the topic have not heard of them
// either (a phone back online with its offline edits, met by one peer):
// they are announced on the topic once go-ds-crdt has merged them, when
// the blocks below them can be served.
func (b *Broadcaster) markForward(heads []cid.Cid) {
	var fresh []cid.Cid
	for _, h := range heads {
		b.mu.Lock()
		_, pending := b.pending[h]
		b.mu.Unlock()
		if pending {
			continue
		}
		if has, err := b.bstore.Has(b.ctx, h); err == nil && !has {
			fresh = append(fresh, h)
		}
	}
	if len(fresh) == 0 {
		return
	}
	b.announceMu.Lock()
	if len(b.forward)+len(fresh) > maxForward {
		// Heads that were never merged (a fetch that failed) would stay;
		// forget them all rather than refuse newer ones.
		clear(b.forward)
	}
	for _, h := range fresh[:min(len(fresh), maxForward)] {
		b.forward[h] = struct{}{}
	}
	b.announceMu.Unlock()
}

// forwardMerged announces h if a heads exchange brought it (markForward)
// and go-ds-crdt has now merged it, unless another peer announced it on
// the topic meanwhile: then it was only in flight to us, not new.
func (b *Broadcaster) forwardMerged(h cid.Cid) {
	b.announceMu.Lock()
	_, ok := b.forward[h]
	delete(b.forward, h)
	b.announceMu.Unlock()
	if ok && !b.heardRecently(h) && b.mayAnnounce() {
		b.send([]cid.Cid{h})
	}
}

// headsMessage encodes this database's current heads as a broadcast
// message, with the newest blocks inline, and says how many heads it
// holds. A peer the gate refuses answers with no heads.
func (b *Broadcaster) headsMessage(ctx context.Context) ([]byte, int, error) {
	if !b.started.Load() {
		return nil, 0, errors.New("not started")
	}
	var heads []cid.Cid
	if b.mayAnnounce() {
		heads = b.cfg.Delegate.Heads(ctx)
	}
	m := b.message(ctx, heads)
	data, err := EncodeMessage(m)
	return data, len(m.Heads), err
}

// pull is the schedule of one peer's heads exchange.
type pull struct {
	attempt  int       // index into announceGaps of the next try
	at       time.Time // when it is due
	inFlight bool
	again    bool // joined again while in flight: start over when it ends
}

// queuePull schedules a heads exchange with p, now.
func (b *Broadcaster) queuePull(p peer.ID) {
	b.pullMu.Lock()
	if pl, ok := b.pulls[p]; ok {
		if pl.inFlight {
			pl.again = true
		} else {
			pl.attempt, pl.at = 0, time.Now()
		}
	} else {
		b.pulls[p] = &pull{at: time.Now()}
	}
	b.pullMu.Unlock()
	select {
	case b.pullWake <- struct{}{}:
	default:
	}
}

// pullLoop runs the heads exchanges queuePull schedules, at most
// maxPullsInFlight at once. A failed exchange is tried again after each
// of announceGaps; one with a peer that does not speak the protocol falls
// back to announcing the heads on the topic.
func (b *Broadcaster) pullLoop(h host.Host) {
	defer b.wg.Done()
	var running sync.WaitGroup
	defer running.Wait()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := time.Now()
		next := time.Duration(-1)
		b.pullMu.Lock()
		for p, pl := range b.pulls {
			if pl.inFlight {
				continue
			}
			if wait := pl.at.Sub(now); wait > 0 {
				if next < 0 || wait < next {
					next = wait
				}
				continue
			}
			if b.pullsInFlight >= maxPullsInFlight {
				break
			}
			pl.inFlight = true
			b.pullsInFlight++
			running.Add(1)
			go func() {
				defer running.Done()
				err := b.pullHeads(b.ctx, h, p)
				b.pulled(p, err)
			}()
		}
		for p, at := range b.leftChecks {
			if wait := at.Sub(now); wait > 0 {
				if next < 0 || wait < next {
					next = wait
				}
				continue
			}
			if b.pullsInFlight >= maxPullsInFlight {
				break
			}
			delete(b.leftChecks, p)
			b.pullsInFlight++
			running.Add(1)
			go func() {
				defer running.Done()
				b.verifyLeft(h, p)
				b.pullMu.Lock()
				b.pullsInFlight--
				b.pullMu.Unlock()
				select {
				case b.pullWake <- struct{}{}:
				default:
				}
			}()
		}
		b.pullMu.Unlock()
		if next >= 0 {
			timer.Reset(next)
		}
		select {
		case <-b.ctx.Done():
			return
		case <-b.pullWake:
		case <-timer.C:
		}
		timer.Stop() // since Go 1.23 a stopped timer delivers nothing stale
	}
}

// pulled records the end of an exchange with p.
func (b *Broadcaster) pulled(p peer.ID, err error) {
	if errors.Is(err, errHeadsUnsupported) {
		b.announceJoin() // an older peer: it learns them from the topic
	} else if err != nil && b.ctx.Err() == nil {
		b.log.Debug("heads exchange", "peer", p, "error", err)
	}
	b.pullMu.Lock()
	pl := b.pulls[p]
	b.pullsInFlight--
	pl.inFlight = false
	close(b.pullDone)
	b.pullDone = make(chan struct{})
	switch {
	case pl.again:
		pl.again, pl.attempt, pl.at = false, 0, time.Now()
	case err == nil || errors.Is(err, errHeadsUnsupported) || pl.attempt+1 >= len(announceGaps):
		delete(b.pulls, p)
	default:
		pl.attempt++
		pl.at = time.Now().Add(announceGaps[pl.attempt])
	}
	b.pullMu.Unlock()
	select {
	case b.pullWake <- struct{}{}:
	default:
	}
}

// awaitPull waits while the first heads exchange with p is queued or
// running. The exchange proves to p that this peer holds the address,
// and p's bitswap serves blocks only to peers that proved it for a
// database p has open (see Node.serveBlock); a want it refused is asked
// again only on bitswap's rebroadcast, so a fetch of what p announced
// waits for the proof first. Retries of a failed exchange are not
// waited for.
func (b *Broadcaster) awaitPull(ctx context.Context, p peer.ID) {
	for {
		b.pullMu.Lock()
		pl, ok := b.pulls[p]
		first := ok && pl.attempt == 0
		done := b.pullDone
		b.pullMu.Unlock()
		if !first {
			return
		}
		select {
		case <-done:
		case <-ctx.Done():
			return
		}
	}
}

// leftCheckWait is how long after a peer left the topic, while staying
// connected, checkLeft waits before it looks: a stream gossipsub lost is
// reopened after 100 ms and its hello restores the subscriptions within a
// round trip, when the peer is the one that reopens it.
const leftCheckWait = 1500 * time.Millisecond

// checkLeft schedules a look at p, which left the topic: if it is still
// connected then, still off the topic and its database is open (a heads
// exchange succeeds), gossipsub lost its subscription, and
// Config.LostSubscription is told. A peer that closed the database (the
// exchange is refused) or disconnected is left alone. The exchange
// doubles as a pull: whatever p wrote meanwhile comes with it.
func (b *Broadcaster) checkLeft(p peer.ID) {
	h := b.cfg.Host
	if h == nil || b.cfg.LostSubscription == nil || h.Network().Connectedness(p) != network.Connected {
		return
	}
	b.pullMu.Lock()
	if len(b.leftChecks) < maxLeftChecks {
		b.leftChecks[p] = time.Now().Add(leftCheckWait)
	}
	b.pullMu.Unlock()
	select {
	case b.pullWake <- struct{}{}:
	default:
	}
}

// maxLeftChecks bounds the leave checks waiting (one per peer).
const maxLeftChecks = 1024

// verifyLeft is checkLeft's look at p.
func (b *Broadcaster) verifyLeft(h host.Host, p peer.ID) {
	lost := func() bool {
		return h.Network().Connectedness(p) == network.Connected && !slices.Contains(b.topic.ListPeers(), p)
	}
	if !lost() {
		return
	}
	if err := b.pullHeads(b.ctx, h, p); err != nil {
		if b.ctx.Err() == nil {
			b.log.Debug("peer left the topic", "peer", p, "check", err)
		}
		return
	}
	if lost() {
		b.stats.LostSubscriptions.Add(1)
		b.log.Warn("pubsub lost the subscription of a peer that has the database open: reconnecting", "peer", p)
		b.cfg.LostSubscription(p)
	}
}
