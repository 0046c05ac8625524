package replication

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/go-cid"
	dscrdt "github.com/ipfs/go-ds-crdt"
	ipld "github.com/ipfs/go-ipld-format"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Delegate is what a Broadcaster asks of the database it replicates. Its
// methods are called from the broadcaster's goroutines, concurrently, and
// must not block for long nor call back into the broadcaster.
type Delegate interface {
	// Heads returns the database's current DAG heads; nil while it has
	// none or is closing.
	Heads(ctx context.Context) []cid.Cid
	ReplicaDelegate
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
	// Clock dates peers leaving the topic (LeftSince); nil is time.Now.
	Clock func() time.Time
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
	seal   *topicSeal // broadcasts are sealed to the address (topicseal.go)
	sub    *pubsub.Subscription
	events *pubsub.TopicEventHandler
	bstore blockstore.Blockstore
	dag    ipld.DAGService
	stats  *Counters
	inline int // max bytes of blocks to inline in one message

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// Receiving and fetching (receive.go, fetch.go): mu guards the heads
	// queued for go-ds-crdt and those being fetched, which move between
	// the two.
	mu         sync.Mutex
	queue      []queuedHead
	pending    map[cid.Cid]struct{}  // queued or being fetched
	ready      chan struct{}         // signalled when queue grows
	fetchWake  chan struct{}         // signalled when a fetch is queued
	fetchQ     map[peer.ID][]cid.Cid // heads to fetch, per announcer
	fetchOrder []peer.ID             // announcers with queued fetches, round-robin
	fetching   map[peer.ID]int       // fetches in flight, per announcer
	handed     cid.Cid               // the head Next last returned, journaled (only Next's goroutine uses it)
	merging    cid.Cid               // the head Next last returned (only Next's goroutine uses it)

	// Announcing (announce.go): announceMu guards the heads to announce,
	// those heard from others, those to forward once merged.
	announceMu   sync.Mutex
	toSend       []cid.Cid            // heads to announce, oldest first
	sendWake     chan struct{}        // signalled when toSend grows
	heard        map[cid.Cid]int64    // heads announced on the topic by others, when (Unix ns); see Config.Rebroadcast
	forward      map[cid.Cid]struct{} // heads a heads exchange brought that no one had announced: announced once merged
	announceWake chan struct{}        // signalled when a peer joins

	// Membership (members.go).
	leavers leavers // peers that left the topic and did not join again

	// Heads exchanges (heads.go): pullMu guards them.
	started       atomic.Bool // Start was called: the heads are the store's
	pullMu        sync.Mutex
	pulls         map[peer.ID]*pull // heads exchanges scheduled or running
	pullsInFlight int
	pullWake      chan struct{}
	pullDone      chan struct{}         // closed (and replaced) when an exchange ends
	leftChecks    map[peer.ID]time.Time // peers that left the topic while connected: when to check (see checkLeft)

	// Catching up (catchup.go): banMu guards the bans.
	catching   atomic.Bool  // a catch-up is running
	handedFrom atomic.Value // peer.ID: the announcer of the head Next last returned
	// missingAfter (Unix ns) is when a catch-up may start again;
	// missingBackoff is the last wait set (see Missing).
	missingAfter, missingBackoff atomic.Int64
	banMu                        sync.Mutex
	banned                       map[peer.ID]time.Time // peers whose catch-up broke the protocol, until
}

// NewBroadcaster prepares a broadcaster; it ends when ctx does or on
// Close. It does not subscribe: the caller registers Validate as the
// topic validator first, then calls Subscribe and Start, so no message is
// ever delivered unvalidated.
func NewBroadcaster(ctx context.Context, cfg Config) *Broadcaster {
	if cfg.Log == nil {
		cfg.Log = hclog.NewNullLogger()
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	b := &Broadcaster{
		cfg:          cfg,
		log:          cfg.Log,
		self:         cfg.Self,
		topic:        cfg.Topic,
		seal:         newTopicSeal(cfg.Manifest),
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
		sendWake:     make(chan struct{}, 1),
		pulls:        make(map[peer.ID]*pull),
		pullWake:     make(chan struct{}, 1),
		pullDone:     make(chan struct{}),
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

var _ dscrdt.Broadcaster = (*Broadcaster)(nil)
