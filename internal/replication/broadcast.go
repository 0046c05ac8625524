package replication

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/ipfs/boxo/blockstore"
	dag "github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/go-cid"
	dscrdt "github.com/ipfs/go-ds-crdt"
	crdtpb "github.com/ipfs/go-ds-crdt/pb"
	ipld "github.com/ipfs/go-ipld-format"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"
)

// maxQueuedHeads bounds the heads waiting for go-ds-crdt. Heads beyond it
// are dropped (and counted); the sender's periodic rebroadcast and the
// heads exchange on peer join bring them back.
const maxQueuedHeads = 1 << 16

// maxFetchesPerPeer bounds the fetches one announcer can have queued or in
// flight; its further heads are dropped until those complete.
const maxFetchesPerPeer = 16

// maxConcurrentFetches bounds background fetches of announced heads.
const maxConcurrentFetches = 8

// Delegate is what a Broadcaster asks of the database it replicates. Its
// methods are called from the broadcaster's goroutines, concurrently, and
// must not block for long nor call back into the broadcaster.
type Delegate interface {
	// Heads returns the database's current DAG heads; nil while it has
	// none or is closing.
	Heads(ctx context.Context) []cid.Cid
	// CanAnnounce is the broadcast gate: whether author may announce heads
	// at all (this peer too: a peer the gate refuses stays silent).
	CanAnnounce(ctx context.Context, author peer.ID) error
	// PeerJoined and PeerLeft report peers joining and leaving the topic.
	PeerJoined(p peer.ID)
	PeerLeft(p peer.ID)
	// CatchingUp reports a running catch-up's progress, at most every
	// catchupReportEvery and once more when it ends (done).
	CatchingUp(received uint64, remaining int64, done bool)
}

// Config is what a Broadcaster runs on.
type Config struct {
	Topic *pubsub.Topic // the database's topic; the broadcaster closes it
	Self  peer.ID       // this peer
	// Blocks is where inline blocks go and where heads are looked for:
	// the quarantine, so that nothing unjudged reaches the disk.
	Blocks blockstore.Blockstore
	// DAG fetches announced heads' blocks (into the quarantine).
	DAG          ipld.DAGService
	InlineLimit  int           // max bytes of blocks to inline in one message
	FetchTimeout time.Duration // bounds fetching one announced head
	Counters     *Counters     // required
	Log          hclog.Logger  // nil is silent
	Delegate     Delegate      // required
	// Journal, if not nil, records the head go-ds-crdt is merging, so that
	// a merge a crash interrupts is repaired at the next start (see
	// Journal).
	Journal *Journal
	// Host, if not nil, exchanges heads with each peer that joins the
	// topic over HeadsProtocol streams (see HeadsServer), instead of
	// announcing them to the whole topic; Manifest names the database to
	// the other side.
	Host     host.Host
	Manifest cid.Cid
	// LostSubscription, if not nil (and Host is set), is called when
	// gossipsub dropped a peer from the topic that still has the database
	// open: it left the topic while staying connected, and a heads
	// exchange shows its database is open. go-libp2p-pubsub v0.19 does
	// that when its outbound stream to a peer dies while the peer stays
	// connected (it forgets the peer's subscriptions and learns them only
	// from the hello of the peer's next stream, which the peer has no
	// reason to open): nothing published here reaches the peer again, the
	// rebroadcast included. The callee makes pubsub start afresh with the
	// peer (reconnects it); it must not block.
	LostSubscription func(p peer.ID)
	// Rebroadcast is go-ds-crdt's rebroadcast interval. A head another
	// peer announced on the topic less than this long ago is left out of
	// this peer's announcements: everyone heard it then. Zero keeps every
	// head.
	Rebroadcast time.Duration
	// Catchup, if not nil, streams a head's missing history from its
	// announcer when go-ds-crdt is handed a head whose parents are not
	// local, or when its walk reaches a block that is not (see CatchUp
	// and Missing).
	Catchup *CatchupConfig
}

// CatchupConfig is what a broadcaster's catch-ups run on.
type CatchupConfig struct {
	Host     host.Host
	Manifest cid.Cid // the database's manifest, which names it to the sender
	Sink     CatchupSink
}

// Broadcaster is a go-ds-crdt Broadcaster over one gossipsub topic. Unlike
// the stock PubSubBroadcaster it never drops a head because go-ds-crdt is
// busy: a goroutine drains the subscription into an unbounded (but capped)
// queue. Announced heads whose blocks are missing are fetched concurrently
// in the background and handed to go-ds-crdt only once present, so one head
// that cannot be fetched never stalls the others.
type Broadcaster struct {
	cfg    Config
	log    hclog.Logger
	self   peer.ID
	topic  *pubsub.Topic
	sub    *pubsub.Subscription
	events *pubsub.TopicEventHandler
	bstore blockstore.Blockstore
	dag    ipld.DAGService
	stats  *Counters
	inline int // max bytes of blocks to inline in one message

	ctx        context.Context
	cancel     context.CancelFunc
	wg         sync.WaitGroup
	fetchWake  chan struct{}         // signalled when a fetch is queued
	fetchQ     map[peer.ID][]cid.Cid // heads to fetch, per announcer
	fetchOrder []peer.ID             // announcers with queued fetches, round-robin
	fetching   map[peer.ID]int       // fetches in flight, per announcer

	mu      sync.Mutex
	queue   []queuedHead
	pending map[cid.Cid]struct{} // queued or being fetched
	ready   chan struct{}        // signalled when queue grows

	announceWake chan struct{} // signalled when a peer joins

	handed cid.Cid // the head Next last returned (only Next's goroutine uses it)

	catching   atomic.Bool  // a catch-up is running
	handedFrom atomic.Value // peer.ID: the announcer of the head Next last returned
	// missingAfter (Unix ns) is when a catch-up may start again;
	// missingBackoff is the last wait set (see Missing).
	missingAfter, missingBackoff atomic.Int64
	banMu                        sync.Mutex
	banned                       map[peer.ID]time.Time // peers whose catch-up broke the protocol, until

	leftMu sync.Mutex
	left   map[peer.ID]time.Time // peers that left the topic and did not join again, when (the last leftMemory's)

	sendMu   sync.Mutex
	toSend   []cid.Cid     // heads to announce, oldest first
	sendWake chan struct{} // signalled when toSend grows

	started       atomic.Bool // Start was called: the heads are the store's
	pullMu        sync.Mutex
	pulls         map[peer.ID]*pull // heads exchanges scheduled or running
	pullsInFlight int
	pullWake      chan struct{}
	leftChecks    map[peer.ID]time.Time // peers that left the topic while connected: when to check (see checkLeft)

	fwdMu   sync.Mutex
	forward map[cid.Cid]struct{} // heads a heads exchange brought that no one had announced: announced once merged
	merging cid.Cid              // the head Next last returned (only Next's goroutine uses it)

	heardMu sync.Mutex
	heard   map[cid.Cid]int64 // heads announced on the topic by others, when (Unix ns); see Config.Rebroadcast
}

// NewBroadcaster prepares a broadcaster; it ends when ctx does or on
// Close. It does not subscribe: the caller registers Validate as the
// topic validator first, then calls Subscribe and Start, so no message is
// ever delivered unvalidated.
func NewBroadcaster(ctx context.Context, cfg Config) *Broadcaster {
	if cfg.Log == nil {
		cfg.Log = hclog.NewNullLogger()
	}
	b := &Broadcaster{
		cfg:          cfg,
		log:          cfg.Log,
		self:         cfg.Self,
		topic:        cfg.Topic,
		bstore:       cfg.Blocks,
		dag:          cfg.DAG,
		stats:        cfg.Counters,
		inline:       cfg.InlineLimit,
		fetchWake:    make(chan struct{}, 1),
		fetchQ:       make(map[peer.ID][]cid.Cid),
		fetching:     make(map[peer.ID]int),
		pending:      make(map[cid.Cid]struct{}),
		ready:        make(chan struct{}, 1),
		announceWake: make(chan struct{}, 1),
		left:         make(map[peer.ID]time.Time),
		sendWake:     make(chan struct{}, 1),
		pulls:        make(map[peer.ID]*pull),
		pullWake:     make(chan struct{}, 1),
		leftChecks:   make(map[peer.ID]time.Time),
		forward:      make(map[cid.Cid]struct{}),
		heard:        make(map[cid.Cid]int64),
	}
	b.ctx, b.cancel = context.WithCancel(ctx)
	return b
}

// Subscribe joins the topic's message stream and peer events.
func (b *Broadcaster) Subscribe() error {
	sub, err := b.topic.Subscribe(pubsub.WithBufferSize(4096))
	if err != nil {
		return err
	}
	evts, err := b.topic.EventHandler()
	if err != nil {
		sub.Cancel()
		return err
	}
	b.sub, b.events = sub, evts
	return nil
}

// Start starts the broadcaster's goroutines; Close ends them.
func (b *Broadcaster) Start() {
	b.started.Store(true)
	b.wg.Add(4 + maxConcurrentFetches)
	go b.receiveLoop()
	go b.peerLoop()
	go b.sendLoop()
	go b.announceLoop()
	if b.cfg.Host != nil {
		b.wg.Add(1)
		go b.pullLoop(b.cfg.Host)
	}
	for i := 0; i < maxConcurrentFetches; i++ {
		go b.fetchLoop()
	}
}

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
	b.sendMu.Lock()
	b.toSend = append(b.toSend, heads...)
	b.sendMu.Unlock()
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
	b.heardMu.Lock()
	defer b.heardMu.Unlock()
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
	b.heardMu.Lock()
	defer b.heardMu.Unlock()
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
		b.sendMu.Lock()
		fresh := b.toSend
		b.toSend = nil
		b.sendMu.Unlock()
		if len(fresh) == 0 || !b.mayAnnounce() {
			continue
		}
		if _, err := b.announce(b.ctx, newestFirst(fresh)); err != nil {
			if b.ctx.Err() != nil {
				// Close cut this announcement short: its flush makes it.
				b.sendMu.Lock()
				b.toSend = append(fresh, b.toSend...)
				b.sendMu.Unlock()
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

// mayAnnounce tells whether this peer should announce heads.
func (b *Broadcaster) mayAnnounce() bool {
	return b.cfg.Delegate.CanAnnounce(b.ctx, b.self) == nil
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
	m, err := DecodeMessage(msg.Data)
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

// nextFetch takes the next head to fetch, round-robin across announcers so
// that one announcer's unfetchable heads cannot starve the others.
func (b *Broadcaster) nextFetch() (cid.Cid, peer.ID, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.fetchOrder) == 0 {
		return cid.Undef, "", false
	}
	from := b.fetchOrder[0]
	b.fetchOrder = b.fetchOrder[1:]
	q := b.fetchQ[from]
	h := q[0]
	if len(q) > 1 {
		b.fetchQ[from] = q[1:]
		b.fetchOrder = append(b.fetchOrder, from)
	} else {
		delete(b.fetchQ, from)
	}
	b.fetching[from]++
	return h, from, true
}

// fetchLoop is one of maxConcurrentFetches workers fetching announced
// heads' blocks, each bounded by the fetch timeout.
func (b *Broadcaster) fetchLoop() {
	defer b.wg.Done()
	for {
		h, from, ok := b.nextFetch()
		if !ok {
			select {
			case <-b.ctx.Done():
				return
			case <-b.fetchWake:
			}
			continue
		}
		// Wake another worker in case more is queued.
		select {
		case b.fetchWake <- struct{}{}:
		default:
		}
		ctx, cancel := context.WithTimeout(b.ctx, b.cfg.FetchTimeout)
		_, err := b.dag.Get(ctx, h)
		cancel()
		b.mu.Lock()
		if b.fetching[from]--; b.fetching[from] == 0 {
			delete(b.fetching, from)
		}
		if err != nil {
			delete(b.pending, h)
		}
		b.mu.Unlock()
		if err != nil {
			if b.ctx.Err() != nil {
				return
			}
			b.stats.FetchFailures.Add(1)
			b.log.Debug("fetch announced head", "head", h, "error", err)
			continue
		}
		b.Enqueue(h, from)
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

func (b *Broadcaster) peerLoop() {
	defer b.wg.Done()
	for {
		ev, err := b.events.NextPeerEvent(b.ctx)
		if err != nil {
			return
		}
		b.noteMember(ev.Peer, ev.Type == pubsub.PeerJoin, time.Now())
		switch ev.Type {
		case pubsub.PeerJoin:
			b.stats.PeerJoins.Add(1)
			b.cfg.Delegate.PeerJoined(ev.Peer)
			if b.cfg.Host != nil {
				b.queuePull(ev.Peer)
				break
			}
			b.announceJoin()
		case pubsub.PeerLeave:
			b.cfg.Delegate.PeerLeft(ev.Peer)
			b.checkLeft(ev.Peer)
		}
	}
}

// leftMemory is how long a broadcaster remembers that a peer left its
// topic (LeftSince).
const leftMemory = time.Minute

// noteMember records p joining or leaving the topic at now; entries older
// than leftMemory go, so the map is bounded by the peers that left in the
// last leftMemory.
func (b *Broadcaster) noteMember(p peer.ID, joined bool, now time.Time) {
	b.leftMu.Lock()
	defer b.leftMu.Unlock()
	if joined {
		delete(b.left, p)
		return
	}
	for q, at := range b.left {
		if now.Sub(at) > leftMemory {
			delete(b.left, q)
		}
	}
	b.left[p] = now
}

// LeftSince reports whether p left the topic at or after t (within the
// last minute) and is not subscribed to it now: what gossipsub does to a
// peer whose stream it lost, and what the engine looks for after a relay
// circuit to p closes.
func (b *Broadcaster) LeftSince(p peer.ID, t time.Time) bool {
	if slices.Contains(b.topic.ListPeers(), p) {
		return false
	}
	b.leftMu.Lock()
	defer b.leftMu.Unlock()
	at, ok := b.left[p]
	return ok && !at.Before(t)
}

// Queued is the number of heads waiting for go-ds-crdt or for their
// block.
func (b *Broadcaster) Queued() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.pending)
}

// Peers is the number of peers subscribed to the topic now.
func (b *Broadcaster) Peers() int { return len(b.topic.ListPeers()) }

// CatchingUp tells whether a catch-up is running.
func (b *Broadcaster) CatchingUp() bool { return b.catching.Load() }

// Topic is the name of the broadcaster's topic.
func (b *Broadcaster) Topic() string { return b.topic.String() }

// Close stops the loops, waits for them and every fetch, and closes the
// topic.
func (b *Broadcaster) Close() error {
	b.cancel()
	if b.sub != nil {
		b.sub.Cancel()
		b.events.Cancel()
	}
	b.wg.Wait()
	b.flush()
	return b.topic.Close()
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
	b.sendMu.Lock()
	fresh := b.toSend
	b.toSend = nil
	b.sendMu.Unlock()
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

var _ dscrdt.Broadcaster = (*Broadcaster)(nil)

// catchupBan is how long a peer whose catch-up stream broke the protocol
// is not asked again.
const catchupBan = 10 * time.Minute

// maxCatchupTries bounds the peers one catch-up asks in turn.
const maxCatchupTries = 3

// maybeCatchUp starts a catch-up when a head handed to go-ds-crdt has a
// parent that is not local: go-ds-crdt is about to walk a history this
// replica lacks. One runs at a time; heads handed meanwhile are covered by
// it or fetched by bitswap.
//
// It is paced like Missing: after catch-ups that brought little it waits.
func (b *Broadcaster) maybeCatchUp(h cid.Cid, from peer.ID) {
	cc := b.cfg.Catchup
	if cc == nil || b.catching.Load() || b.backingOff() {
		return
	}
	blk, err := b.bstore.Get(b.ctx, h)
	if err != nil {
		return
	}
	nd, err := dag.DecodeProtobufBlock(blk)
	if err != nil {
		return
	}
	for _, l := range nd.Links() {
		if !cc.Sink.Has(b.ctx, l.Cid) {
			b.startCatchUp(h, from)
			return
		}
	}
}

// Missing starts a catch-up of the history below c, a block a DAG walk
// needs and does not have (see ValidatorConfig.Missing), unless one is
// running. A head whose parents are local does not start one when it is
// handed to go-ds-crdt (a joiner handed the writer's newest heads inline,
// one after another), but the walk below them reaches the missing history
// sooner or later: without this, that history would come one bitswap round
// trip per block. The peer asked first is the announcer of the head last
// handed to go-ds-crdt, which has the history it announced. Missing never
// blocks; it is safe to call from any goroutine until go-ds-crdt is closed.
//
// Many writers at once make many short gaps, each a missing block or two
// that bitswap fetches in a round trip, while a catch-up streams the
// sender's whole history down to where it meets this replica's heads. So a
// catch-up that brought fewer than catchupWorthBlocks blocks makes the
// next wait (Missing's and maybeCatchUp's), twice as long each time (up to
// maxCatchupBackoff); one that brought many resets the wait.
//
// A gap a few levels deep (depth, see ValidatorConfig.Missing, below
// minCatchupDepth) costs bitswap as many round trips, and starts no
// catch-up: with many writers, gaps one or two deltas deep are the rule.
func (b *Broadcaster) Missing(c cid.Cid, depth int) {
	if b.cfg.Catchup == nil || depth < minCatchupDepth || b.catching.Load() || b.ctx.Err() != nil {
		return
	}
	if b.backingOff() {
		return
	}
	from, _ := b.handedFrom.Load().(peer.ID)
	b.startCatchUp(c, from)
}

// Pacing of catch-ups (see Missing).
const (
	minCatchupDepth    = 4  // missing blocks in a row that make a walk worth a stream
	catchupWorthBlocks = 16 // a catch-up bringing fewer was not worth a stream
	minCatchupBackoff  = 250 * time.Millisecond
	maxCatchupBackoff  = 30 * time.Second
)

// backingOff tells whether catch-ups wait after unproductive ones.
func (b *Broadcaster) backingOff() bool {
	until := b.missingAfter.Load()
	return until != 0 && time.Now().UnixNano() < until
}

// startCatchUp runs a catch-up of the history below h in the background,
// unless one is running, and moves the backoff by what it brought.
func (b *Broadcaster) startCatchUp(h cid.Cid, from peer.ID) {
	if !b.catching.CompareAndSwap(false, true) {
		return
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer b.catching.Store(false)
		before := b.stats.Catchup.Blocks.Load()
		b.catchUp(h, from)
		if b.stats.Catchup.Blocks.Load()-before >= catchupWorthBlocks {
			b.missingBackoff.Store(0)
			b.missingAfter.Store(0)
			return
		}
		wait := min(max(2*time.Duration(b.missingBackoff.Load()), minCatchupBackoff), maxCatchupBackoff)
		b.missingBackoff.Store(int64(wait))
		b.missingAfter.Store(time.Now().Add(wait).UnixNano())
	}()
}

// catchupReportEvery spaces catch-up progress reports.
const catchupReportEvery = 250 * time.Millisecond

// catchUp asks the announcer, then other peers of the topic, for the
// history below h, each time for what is still missing.
func (b *Broadcaster) catchUp(h cid.Cid, from peer.ID) {
	cc, ctr := b.cfg.Catchup, &b.stats.Catchup
	start := ctr.Blocks.Load()
	report := func(done bool) {
		b.cfg.Delegate.CatchingUp(ctr.Blocks.Load()-start, ctr.Remaining.Load(), done)
	}
	stop := make(chan struct{})
	var reporter sync.WaitGroup
	reporter.Add(1)
	go func() {
		defer reporter.Done()
		t := time.NewTicker(catchupReportEvery)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-b.ctx.Done():
				return
			case <-t.C:
				report(false)
			}
		}
	}()
	defer func() {
		close(stop)
		reporter.Wait()
		report(true)
	}()
	wanted := []cid.Cid{h}
	tried := map[peer.ID]bool{}
	for try := 0; try < maxCatchupTries && len(wanted) > 0 && b.ctx.Err() == nil; try++ {
		p := b.catchupPeer(from, tried)
		if p == "" {
			return
		}
		tried[p] = true
		var have []cid.Cid
		for _, c := range b.cfg.Delegate.Heads(b.ctx) {
			if len(have) < maxCatchupHeads && !slices.Contains(wanted, c) {
				have = append(have, c)
			}
		}
		ctr.Runs.Add(1)
		left, err := CatchUp(b.ctx, cc.Host, p, CatchupRequest{Manifest: cc.Manifest, Wanted: wanted, Have: have}, cc.Sink, ctr)
		if err != nil {
			if b.ctx.Err() != nil {
				return
			}
			ctr.Failures.Add(1)
			b.log.Debug("catch-up", "peer", p, "error", err)
			if !errors.Is(err, errCatchupRefused) {
				b.ban(p)
			}
			continue // the same heads, from another peer
		}
		wanted = left
	}
}

// catchupPeer picks whom to ask: the announcer first, then any other peer
// of the topic not tried or banned.
func (b *Broadcaster) catchupPeer(from peer.ID, tried map[peer.ID]bool) peer.ID {
	ok := func(p peer.ID) bool { return p != "" && p != b.self && !tried[p] && !b.isBanned(p) }
	if ok(from) {
		return from
	}
	for _, p := range b.topic.ListPeers() {
		if ok(p) {
			return p
		}
	}
	return ""
}

func (b *Broadcaster) ban(p peer.ID) {
	b.banMu.Lock()
	defer b.banMu.Unlock()
	if b.banned == nil {
		b.banned = make(map[peer.ID]time.Time)
	}
	now := time.Now()
	for q, until := range b.banned { // bounded: expired bans go
		if now.After(until) {
			delete(b.banned, q)
		}
	}
	b.banned[p] = now.Add(catchupBan)
}

func (b *Broadcaster) isBanned(p peer.ID) bool {
	b.banMu.Lock()
	defer b.banMu.Unlock()
	until, ok := b.banned[p]
	return ok && time.Now().Before(until)
}
