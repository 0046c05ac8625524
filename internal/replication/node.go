package replication

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/ipfs/boxo/bitswap"
	bsclient "github.com/ipfs/boxo/bitswap/client"
	bsnet "github.com/ipfs/boxo/bitswap/network/bsnet"
	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/boxo/ipld/merkledag"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	ipld "github.com/ipfs/go-ipld-format"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// ErrClosed is returned by a Node's calls once it is closed.
var ErrClosed = errors.New("replication: node closed")

// PubSub is gossipsub's router, as a Node runs it: callers that join
// topics of their own beside the databases' (invites, presence) use it
// without importing go-libp2p-pubsub.
type PubSub = pubsub.PubSub

// RawTracer sees every RPC, graft, prune and delivery of a Node's router
// (see NodeConfig.Tracer).
type RawTracer = pubsub.RawTracer

// NodeConfig is the tuning of a Node; DefaultNodeConfig fills it.
type NodeConfig struct {
	// Log is the node's logger; nil is silent.
	Log hclog.Logger
	// Clock dates what the node's repairs and topics compare in time (a
	// peer leaving a topic, a repair); nil is time.Now.
	Clock func() time.Time

	// Gossipsub: heartbeats a message is kept for IWANT and advertised in
	// IHAVE, goroutines dialling peer-exchange candidates, how long a
	// message id is remembered as seen, messages waiting for validation,
	// RPCs queued per peer.
	HistoryLength, HistoryGossip, Connectors int
	SeenTTL                                  time.Duration
	ValidateQueue, OutboundQueue             int
	// Tracer, if not nil, is handed to gossipsub (see RawTracer); its
	// methods run on pubsub's event loop and must not block.
	Tracer RawTracer

	// Bitswap's server: goroutines reading the block store for peers and
	// goroutines sending blocks to peers.
	BlockstoreWorkers, TaskWorkers int

	// PubsubWatch is how often the pubsub watchdog looks for connected
	// peers gossipsub gave up on (see watchdog.go); 0 turns it off.
	PubsubWatch time.Duration
}

// DefaultNodeConfig is sized for a real node: one per process, hundreds
// of peers, bursts of thousands of messages.
func DefaultNodeConfig() NodeConfig {
	return NodeConfig{
		HistoryLength:     pubsub.GossipSubHistoryLength,
		HistoryGossip:     pubsub.GossipSubHistoryGossip,
		Connectors:        pubsub.GossipSubConnectors,
		SeenTTL:           pubsub.TimeCacheDuration,
		ValidateQueue:     1024,
		OutboundQueue:     1024,
		BlockstoreWorkers: 16,
		TaskWorkers:       8,
		PubsubWatch:       DefaultPubsubWatch,
	}
}

// Validate reports a config a Node cannot run with.
func (c NodeConfig) Validate() error {
	if c.HistoryLength <= 0 || c.HistoryGossip <= 0 || c.HistoryGossip > c.HistoryLength || c.Connectors <= 0 ||
		c.SeenTTL <= 0 || c.ValidateQueue <= 0 || c.OutboundQueue <= 0 || c.BlockstoreWorkers <= 0 || c.TaskWorkers <= 0 ||
		c.PubsubWatch < 0 {
		return fmt.Errorf("%w: %+v", ErrBadNodeConfig, c)
	}
	return nil
}

// ErrBadNodeConfig is returned by NewNode for a config it cannot run with.
var ErrBadNodeConfig = errors.New("replication: bad node config")

// bitswapPerPeerSendDelay is how long bitswap's client waits per peer
// before it sends a want message after the first: boxo's default (125 µs,
// clamped to [20 ms, 2 s]) counts the peers of every bitswap in the
// process, so a hundred engines in one process waited 100 ms or more
// before every DAG fetch. At 1 ns the wait is boxo's minimum, 20 ms, for
// any peer count a process reaches.
const bitswapPerPeerSendDelay = time.Nanosecond

// Node is the replication of one peer: gossipsub and its scores, bitswap
// and the blocks it moves (stored, and held in the quarantine until
// judged), the catch-up and heads servers, and the repairs of gossipsub's
// known failures. Each open database is a Replica (Open). Its methods are
// safe for concurrent use; Close ends everything it started and leaves the
// host and the store to their owner.
type Node struct {
	cfg   NodeConfig
	log   hclog.Logger
	now   func() time.Time
	host  host.Host
	store ds.Batching

	snapshotting atomic.Bool // a snapshot is being produced for a peer (snapshots.go)
	admitted     admissions  // peers whose claims verified (admit.go)
	notifee      admissionNotifee

	pubsub    *pubsub.PubSub
	scores    Scores
	bitswap   *bitswap.Bitswap
	bstore    blockstore.Blockstore
	dag       ipld.DAGService           // our own blocks: written straight to the store
	held      *Quarantine               // remote blocks not yet judged
	fetchServ blockservice.BlockService // remote blocks: fetched into the quarantine
	fetchDAG  ipld.DAGService

	watchdog    *watchdog // nil when turned off
	relaySwitch *relaySwitch

	ctx    context.Context // the router's and bitswap's life
	cancel context.CancelFunc
	// calls is read-locked by each stream the node serves; Close takes it
	// once closing is cancelled, so none runs after Close.
	calls   sync.RWMutex
	closing context.Context
	abort   context.CancelFunc

	mu       sync.Mutex
	replicas map[cid.Cid]*Replica // open, by manifest
	closed   bool
	once     sync.Once
	closeErr error
}

// NewNode starts replication on h over store (the peer's datastore: blocks
// and every database's namespace live in it). ctx bounds the start only;
// the node runs until Close.
func NewNode(ctx context.Context, h host.Host, store ds.Batching, cfg NodeConfig) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Log == nil {
		cfg.Log = hclog.NewNullLogger()
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, log: cfg.Log, now: cfg.Clock, host: h, store: store, replicas: make(map[cid.Cid]*Replica)}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.closing, n.abort = context.WithCancel(context.Background())

	scoreParams := PeerScoreParams()
	scoreParams.SeenMsgTTL = cfg.SeenTTL // delivery records live as long as the ids
	gs := pubsub.DefaultGossipSubParams()
	gs.HistoryLength, gs.HistoryGossip, gs.Connectors = cfg.HistoryLength, cfg.HistoryGossip, cfg.Connectors
	psOpts := []pubsub.Option{
		pubsub.WithMessageSignaturePolicy(pubsub.StrictSign),
		pubsub.WithPeerExchange(true),
		pubsub.WithFloodPublish(true),
		pubsub.WithMaxMessageSize(MaxMessageSize),
		pubsub.WithGossipSubParams(gs),
		pubsub.WithSeenMessagesTTL(cfg.SeenTTL),
		pubsub.WithPeerScore(scoreParams, PeerScoreThresholds()),
		pubsub.WithPeerScoreInspect(n.scores.Update, time.Second),
		pubsub.WithValidateQueueSize(cfg.ValidateQueue),
		pubsub.WithPeerOutboundQueueSize(cfg.OutboundQueue),
	}
	if cfg.Tracer != nil {
		psOpts = append(psOpts, pubsub.WithRawTracer(cfg.Tracer))
	}
	ps, err := pubsub.NewGossipSub(n.ctx, h, psOpts...)
	if err != nil {
		n.cancel()
		return nil, fmt.Errorf("replication: pubsub: %w", err)
	}
	n.pubsub = ps

	n.bstore = blockstore.NewBlockstore(store)
	n.bitswap = bitswap.New(n.ctx, bsnet.NewFromIpfsHost(h), nil, n.bstore,
		bitswap.EngineBlockstoreWorkerCount(cfg.BlockstoreWorkers),
		bitswap.TaskWorkerCount(cfg.TaskWorkers),
		bitswap.WithPeerBlockRequestFilter(n.serveBlock),
		bitswap.EngineTaskWorkerCount(cfg.TaskWorkers),
		bitswap.WithClientOption(bsclient.WithPerPeerSendDelay(bitswapPerPeerSendDelay)))
	// Write-through: every block added locally is a new delta, so the
	// existence check before each write is a wasted store lookup (a
	// duplicate write of a content-addressed block is harmless).
	n.dag = merkledag.NewDAGService(blockservice.New(n.bstore, n.bitswap, blockservice.WriteThrough(true)))
	// Blocks from the network wait in memory until their delta is judged
	// (see Quarantine): the fetch path has its own blockservice over it.
	n.held = NewQuarantine(n.bstore, MaxQuarantineBytes, func(ctx context.Context, b blocks.Block) {
		_ = n.bitswap.NotifyNewBlocks(ctx, b) // serve it to peers waiting for it
	})
	// The fetch path tells only bitswap's client of a new block (other
	// sessions may want it); its server would advertise a block it cannot
	// serve until the block is admitted.
	n.fetchServ = blockservice.New(n.held, clientOnly{n.bitswap})
	n.fetchDAG = merkledag.NewDAGService(n.fetchServ)

	catchup := &CatchupServer{Blocks: n.bstore, Resolve: func(k [32]byte) (cid.Cid, bool) {
		r := n.replicaByKey(k)
		if r == nil {
			return cid.Undef, false
		}
		return r.cfg.Manifest, true
	}, Admit: n.admitted.admit, Log: n.log.Named("catchup")}
	n.handle(CatchupProtocol, catchup.Handle)
	heads := NewHeadsServer(func(k [32]byte) (cid.Cid, *Broadcaster) {
		if r := n.replicaByKey(k); r != nil {
			return r.cfg.Manifest, r.bc
		}
		return cid.Undef, nil
	})
	heads.Admit = n.admitted.admit
	n.handle(HeadsProtocol, heads.Handle)
	n.notifee = admissionNotifee{n}
	h.Network().Notify(n.notifee)
	n.handle(SnapshotProtocol, n.handleSnapshot)

	if cfg.PubsubWatch > 0 {
		n.watchdog = startWatchdog(h, ps, cfg.PubsubWatch, n.log.Named("watchdog"))
	}
	n.relaySwitch = startRelaySwitch(h, n.lostTopics, n.now, n.log.Named("relayswitch"))
	return n, nil
}

// clientOnly is bitswap as the exchange of the fetch path: new blocks are
// announced to its client only (see Quarantine).
type clientOnly struct{ *bitswap.Bitswap }

func (c clientOnly) NotifyNewBlocks(ctx context.Context, blks ...blocks.Block) error {
	return c.Client.NotifyNewBlocks(ctx, blks...)
}

// handle serves protocol p with serve, one call per stream, while the
// node is open: a stream that arrives as it closes is reset.
func (n *Node) handle(p protocol.ID, serve func(context.Context, network.Stream)) {
	n.host.SetStreamHandler(p, func(st network.Stream) {
		n.calls.RLock()
		defer n.calls.RUnlock()
		if n.closing.Err() != nil {
			_ = st.Reset()
			return
		}
		serve(n.closing, st)
	})
}

// replica returns the open replica of the database with manifest m.
func (n *Node) replica(m cid.Cid) *Replica {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.replicas[m]
}

// replicaByKey returns the open replica of the database with this
// TopicKey (see Claim): peers name databases by it, never by address.
func (n *Node) replicaByKey(k [32]byte) *Replica {
	n.mu.Lock()
	defer n.mu.Unlock()
	for m, r := range n.replicas {
		if r.key == k {
			return n.replicas[m]
		}
	}
	return nil
}

// lostTopics counts the open replicas whose topic p left at or after
// since and has not joined again (see relayswitch.go).
func (n *Node) lostTopics(p peer.ID, since time.Time) int {
	n.mu.Lock()
	rs := make([]*Replica, 0, len(n.replicas))
	for _, r := range n.replicas {
		rs = append(rs, r)
	}
	n.mu.Unlock()
	lost := 0
	for _, r := range rs {
		if r.bc.LeftSince(p, since) {
			lost++
		}
	}
	return lost
}

// PubSub is the node's gossipsub router.
func (n *Node) PubSub() *PubSub { return n.pubsub }

// PeerScore is the gossipsub score of p as of the last second (see
// Scores.Get).
func (n *Node) PeerScore(p peer.ID) (float64, bool) { return n.scores.Get(p) }

// Put stores a block this peer made (a manifest, say).
func (n *Node) Put(ctx context.Context, b blocks.Block) error { return n.bstore.Put(ctx, b) }

// Get returns a stored block, without any network call.
func (n *Node) Get(ctx context.Context, c cid.Cid) (blocks.Block, error) { return n.bstore.Get(ctx, c) }

// Fetch returns a block from the store or from peers. A fetched block is
// held in the quarantine, in memory, until Admit stores it.
func (n *Node) Fetch(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	return n.fetchServ.GetBlock(ctx, c)
}

// Admit stores a block Fetch brought, once the caller judged it.
func (n *Node) Admit(ctx context.Context, b blocks.Block) error { return n.held.Admit(ctx, b) }

// Blocks is the store of admitted blocks, for tests and tools.
func (n *Node) Blocks() blockstore.Blockstore { return n.bstore }

// Quarantine holds the remote blocks not judged yet.
func (n *Node) Quarantine() *Quarantine { return n.held }

// FetchStats are bitswap's totals on a node.
type FetchStats struct {
	Blocks   uint64 // blocks received
	BytesIn  uint64 // block data received
	BytesOut uint64 // block data sent
}

// FetchStats reports bitswap's totals.
func (n *Node) FetchStats() (FetchStats, error) {
	st, err := n.bitswap.Stat()
	if err != nil {
		return FetchStats{}, err
	}
	return FetchStats{Blocks: st.BlocksReceived, BytesIn: st.DataReceived, BytesOut: st.DataSent}, nil
}

// PubsubRevivals counts the peers the pubsub watchdog reconnected (see
// watchdog.go); 0 when it is off.
func (n *Node) PubsubRevivals() uint64 {
	if n.watchdog == nil {
		return 0
	}
	return n.watchdog.revived.Load()
}

// RelaySwitchRepairs counts the peers reconnected because gossipsub lost
// their subscriptions: when a relay circuit gave way to a direct
// connection (see relayswitch.go), or when a replica found a connected
// peer with the database open dropped from its topic
// (Config.LostSubscription).
func (n *Node) RelaySwitchRepairs() uint64 { return n.relaySwitch.repaired.Load() }

// Close closes the replicas still open, stops serving, ends the repairs,
// the router and bitswap, and waits for them. The host and the store stay
// open, but the stream handlers the node set are left on the host (its
// owner removes them). Idempotent.
func (n *Node) Close() error {
	n.once.Do(func() {
		n.abort()
		n.calls.Lock() // the streams being served end with closing
		defer n.calls.Unlock()
		n.mu.Lock()
		n.closed = true
		open := make([]*Replica, 0, len(n.replicas))
		for _, r := range n.replicas {
			open = append(open, r)
		}
		n.mu.Unlock()
		var errs []error
		for _, r := range open {
			errs = append(errs, r.Close())
		}
		n.host.Network().StopNotify(n.notifee)
		n.relaySwitch.close()
		if n.watchdog != nil {
			n.watchdog.close()
		}
		n.cancel()
		errs = append(errs, n.bitswap.Close())
		n.closeErr = errors.Join(errs...)
	})
	return n.closeErr
}
