package replication

import (
	"context"
	"errors"
	"fmt"
	"github.com/ipfs/boxo/ipld/merkledag"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dscrdt "github.com/ipfs/go-ds-crdt"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/crdt"
	"github.com/latticedb/lattice/internal/snapshot"
	"github.com/latticedb/lattice/validation"
)

// ErrReplicaOpen is returned by Open for a database that already has an
// open replica on the node.
var ErrReplicaOpen = errors.New("replication: database already open on this node")

// ReplicaDelegate is what a Replica tells its database and asks of it.
// Its methods are called from the replica's goroutines, concurrently, and
// must not block for long nor call back into the replica.
type ReplicaDelegate interface {
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

// ReplicaConfig is one database as a Node replicates it.
type ReplicaConfig struct {
	Manifest  cid.Cid // the database's manifest; peers see only its TopicKey
	Topic     string  // its gossipsub topic; empty means TopicName(Manifest)
	Database  string  // its address, which signatures bind
	Namespace ds.Key  // its namespace in the node's store
	// Access judges authors and deltas. Required.
	Access accesscontrol.Controller
	// Validator, if not nil, judges what each remote delta does to the
	// documents before it is merged.
	Validator validation.Validator
	Delegate  ReplicaDelegate // required
	Counters  *Counters       // required
	Log       hclog.Logger    // nil is silent
	// Store is the datastore go-ds-crdt writes to: the node's store, or a
	// wrapper over it that watches commits (the read model's); nil is the
	// node's store.
	Store ds.Batching

	InlineLimit    int           // max bytes of blocks inline in one announcement
	FetchTimeout   time.Duration // bounds fetching one announced head
	Rebroadcast    time.Duration // go-ds-crdt's rebroadcast interval
	DAGSyncTimeout time.Duration // go-ds-crdt's bound on one DAG walk's fetch
	DAGWorkers     int           // go-ds-crdt's DAG workers
	// Catchup streams missing histories from peers (see CatchUp).
	Catchup bool
	// Reconnect redials the address book's peers while the database has
	// none (see Redialer); the book is kept either way.
	Reconnect bool
	// OnRedial, if set, is called after each successful redial.
	OnRedial func(peer.ID)
	// AutoCompact says when the replica compacts by itself (compaction.go);
	// its zero value never does.
	AutoCompact AutoCompact
}

func (c *ReplicaConfig) validate() error {
	if c.Topic == "" && c.Manifest.Defined() {
		c.Topic = TopicName(c.Manifest)
	}
	if !c.Manifest.Defined() || c.Access == nil || c.Delegate == nil || c.Counters == nil {
		return fmt.Errorf("%w: replica config lacks a required field", ErrBadNodeConfig)
	}
	if c.Log == nil {
		c.Log = hclog.NewNullLogger()
	}
	return nil
}

// Replica is one open database on a Node: its topic and validator, the
// journal of remote merges, the broadcaster, the validating DAG, the
// go-ds-crdt instance over its namespace, and the redialer of its address
// book. Open assembles them in the one order that never lets a message in
// unvalidated nor a peer go unrecorded; Close takes them apart.
type Replica struct {
	n      *Node
	cfg    ReplicaConfig
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	key        [32]byte // TopicKey of the manifest, how peers name it
	bc         *Broadcaster
	validating bool // the topic validator is registered
	vdag       *ValidatingDAG
	crdt       atomic.Pointer[dscrdt.Datastore] // nil once closed
	covered    *snapshot.CoveredStore           // the store go-ds-crdt runs over (snapshots.go)
	guard      *mergeGuard                      // between go-ds-crdt and covered
	compact    compactor                        // compaction.go
	redial     *Redialer

	once     sync.Once
	closeErr error
}

// Open starts replicating a database. ctx bounds the opening only (the
// repair of a merge a crash interrupted, among others).
func (n *Node) Open(ctx context.Context, cfg ReplicaConfig) (*Replica, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	n.mu.Lock()
	switch {
	case n.closed:
		n.mu.Unlock()
		return nil, ErrClosed
	case n.replicas[cfg.Manifest] != nil:
		n.mu.Unlock()
		return nil, fmt.Errorf("%w: %s", ErrReplicaOpen, cfg.Database)
	}
	n.mu.Unlock()
	r := &Replica{n: n, cfg: cfg, key: TopicKey(cfg.Manifest)}
	r.ctx, r.cancel = context.WithCancel(n.ctx)
	if err := r.start(ctx); err != nil {
		_ = r.stop()
		return nil, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed || n.replicas[cfg.Manifest] != nil {
		_ = r.stop()
		if n.closed {
			return nil, ErrClosed
		}
		return nil, fmt.Errorf("%w: %s", ErrReplicaOpen, cfg.Database)
	}
	n.replicas[cfg.Manifest] = r // served from now on
	return r, nil
}

func (r *Replica) start(ctx context.Context) error {
	n, cfg := r.n, r.cfg
	topic, err := n.pubsub.Join(cfg.Topic)
	if err != nil {
		return fmt.Errorf("replication: join topic: %w", err)
	}
	if err := topic.SetScoreParams(TopicScoreParams()); err != nil {
		_ = topic.Close()
		return fmt.Errorf("replication: topic score: %w", err)
	}
	// Repair what a crash left of a remote merge before go-ds-crdt opens
	// the store (see Journal).
	journal := NewJournal(n.store, cfg.Namespace)
	retry, err := journal.Recover(ctx, n.bstore)
	if err != nil {
		_ = topic.Close()
		return fmt.Errorf("replication: open %s: %w", cfg.Database, err)
	}
	var catchup *CatchupConfig
	if cfg.Catchup {
		catchup = &CatchupConfig{Host: n.host, Manifest: cfg.Manifest, Sink: nodeSink{n}}
	}
	r.bc = NewBroadcaster(r.ctx, Config{
		Topic:        topic, // the broadcaster closes it
		Self:         n.host.ID(),
		Blocks:       n.held,     // inline blocks wait there to be judged
		DAG:          n.fetchDAG, // fetched heads wait in the quarantine
		InlineLimit:  cfg.InlineLimit,
		FetchTimeout: cfg.FetchTimeout,
		Counters:     cfg.Counters,
		Log:          cfg.Log.Named("broadcast"),
		Delegate:     replicaDelegate{r},
		Journal:      journal,
		Catchup:      catchup,
		Host:         n.host,
		Manifest:     cfg.Manifest,
		Rebroadcast:  cfg.Rebroadcast,
		Clock:        n.now,
		// gossipsub v0.19 can forget a connected peer's subscription.
		LostSubscription: n.relaySwitch.lostSubscription,
	})
	// The validator goes in before the subscription: a message delivered
	// in between would reach the receive loop unvalidated.
	if err := n.pubsub.RegisterTopicValidator(cfg.Topic, r.bc.Validate); err != nil {
		return fmt.Errorf("replication: topic validator: %w", err)
	}
	r.validating = true
	if err := r.bc.Subscribe(); err != nil {
		return fmt.Errorf("replication: subscribe: %w", err)
	}

	opts := dscrdt.DefaultOptions()
	opts.Logger = CRDTLogger(cfg.Log.Named("crdt"))
	opts.RebroadcastInterval = cfg.Rebroadcast
	opts.DAGSyncerTimeout = cfg.DAGSyncTimeout
	opts.MaxBatchDeltaSize = 1 << 20
	if cfg.DAGWorkers > 0 {
		opts.NumWorkers = cfg.DAGWorkers
	}
	base := cfg.Store
	if base == nil {
		base = n.store
	}
	// A replica installed from a snapshot reads the blocks the snapshot
	// covers as merged (internal/snapshot); any other reads as itself.
	r.covered, err = snapshot.NewCoveredStore(ctx, base, crdt.NewStoreLayout(cfg.Namespace.String()))
	if err != nil {
		return fmt.Errorf("replication: %w", err)
	}
	vcfg := ValidatorConfig{Database: cfg.Database, Access: cfg.Access, Validator: cfg.Validator, Counters: cfg.Counters, Log: cfg.Log, Covered: r.covered.Covers}
	if catchup != nil {
		vcfg.Missing = r.bc.Missing // a walk reaching a missing history catches up
	}
	r.vdag = NewValidatingDAG(n.dag, n.fetchDAG, n.held, vcfg)
	// go-ds-crdt's concurrent merges can leave a visible value wrong; the
	// guard repairs it (mergeguard.go).
	r.guard = newMergeGuard(r.covered, cfg.Namespace.String(), n.bstore, cfg.Log.Named("guard"), &cfg.Counters.MergeRepairs)
	r.compact.kick = make(chan struct{}, 1)
	r.covered.OnProcessed = r.onProcessed
	if last, err := snapshot.Installed(ctx, base, crdt.NewStoreLayout(cfg.Namespace.String())); err == nil {
		r.compact.last.Store(last)
	}
	store, err := dscrdt.New(r.guard, cfg.Namespace, r.vdag, r.bc, opts)
	if err != nil {
		return fmt.Errorf("replication: crdt: %w", err)
	}
	r.crdt.Store(store)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.runCompactor()
	}()

	// The redialer before the broadcaster starts: it records each peer the
	// broadcaster reports joining.
	book := NewAddressBook(n.store, cfg.Namespace.ChildString("l").ChildString("peers"))
	r.redial = NewRedialer(n.host, book, r.bc.Peers, cfg.Log.Named("redial"))
	r.redial.OnRedial = func(p peer.ID) {
		cfg.Counters.Reconnects.Add(1)
		if cfg.OnRedial != nil {
			cfg.OnRedial(p)
		}
	}
	if cfg.Reconnect {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.redial.Run(r.ctx)
		}()
	}
	r.bc.Start()
	for _, h := range retry {
		r.bc.Enqueue(h, "") // fetched from any peer if it is not local
	}
	return nil
}

// Close stops replicating: the node stops serving the database, go-ds-crdt
// closes, then the broadcaster (which makes its last announcement) and the
// topic. The data stays in the store. Idempotent.
func (r *Replica) Close() error {
	r.once.Do(func() {
		n := r.n
		n.mu.Lock()
		if n.replicas[r.cfg.Manifest] == r {
			delete(n.replicas, r.cfg.Manifest)
		}
		n.mu.Unlock()
		r.closeErr = r.stop()
	})
	return r.closeErr
}

// stop takes apart what start built, however far it got.
func (r *Replica) stop() error {
	r.cancel()
	var errs []error
	if s := r.crdt.Swap(nil); s != nil {
		errs = append(errs, s.Close())
	}
	if r.validating {
		_ = r.n.pubsub.UnregisterTopicValidator(r.cfg.Topic)
	}
	if r.bc != nil {
		errs = append(errs, r.bc.Close())
	}
	r.wg.Wait()
	return errors.Join(errs...)
}

// store is go-ds-crdt, nil once closed.
func (r *Replica) store() *dscrdt.Datastore { return r.crdt.Load() }

// Batch starts a batch of local writes: each commit is one delta (see
// SignChunk for the signature it must carry). It fails once closed.
func (r *Replica) Batch(ctx context.Context) (ds.Batch, error) {
	s := r.store()
	if s == nil {
		return nil, ErrClosed
	}
	return s.Batch(ctx)
}

// InternalStats are go-ds-crdt's: heads, highest height, queued jobs;
// zero once closed.
func (r *Replica) InternalStats(ctx context.Context) dscrdt.Stats {
	if s := r.store(); s != nil {
		return s.InternalStats(ctx)
	}
	return dscrdt.Stats{}
}

// Heads are the database's current DAG heads, nil once closed, less any
// that is in the recent past of another: go-ds-crdt v0.6.8 can list a
// block as a head again after a local write built on it, when a second
// walk of that block (a head announced again, a catch-up, a restart's
// replay) finishes after the write (processNode adds its root as a head
// when its parents are already processed). Such a head is in the past of
// another, so replicas that hold the same blocks would otherwise list
// different heads for ever (RELIABILITY.md, "the lost head"). The walk
// from the heads down goes at most phantomDepth links deep and reads at
// most phantomBlocks blocks: heads are few, and a phantom is near the top
// (CI saw one two blocks deep after a restart).
func (r *Replica) Heads(ctx context.Context) []cid.Cid {
	heads := r.InternalStats(ctx).Heads
	if len(heads) < 2 {
		return heads
	}
	below := map[cid.Cid]bool{} // reached from a head by at least one link
	seen := map[cid.Cid]bool{}
	level := heads
	for depth := 0; depth < phantomDepth && len(level) > 0 && len(seen) < phantomBlocks; depth++ {
		var next []cid.Cid
		for _, c := range level {
			if seen[c] || len(seen) >= phantomBlocks {
				continue
			}
			seen[c] = true
			blk, err := r.n.bstore.Get(ctx, c)
			if err != nil {
				continue
			}
			nd, err := merkledag.DecodeProtobufBlock(blk)
			if err != nil {
				continue
			}
			for _, l := range nd.Links() {
				below[l.Cid] = true
				next = append(next, l.Cid)
			}
		}
		level = next
	}
	out := heads[:0:0]
	for _, h := range heads {
		if !below[h] {
			out = append(out, h)
		}
	}
	return out
}

// phantomDepth and phantomBlocks bound Heads' walk for phantom heads.
const (
	phantomDepth  = 8
	phantomBlocks = 128
)

// Latest is the newest time a judged delta carried (see
// ValidatingDAG.Latest).
func (r *Replica) Latest() time.Time { return r.vdag.Latest() }

// Queued is the number of heads waiting for go-ds-crdt or for their block.
func (r *Replica) Queued() int { return r.bc.Queued() }

// CatchingUp tells whether a catch-up is running.
func (r *Replica) CatchingUp() bool { return r.bc.CatchingUp() }

// Peers is the number of peers subscribed to the database's topic now.
func (r *Replica) Peers() int { return r.bc.Peers() }

// Enqueue hands go-ds-crdt a head as if its block were local (from is the
// peer to fetch it from should it be missing), for tests and repairs.
func (r *Replica) Enqueue(h cid.Cid, from peer.ID) { r.bc.Enqueue(h, from) }

// replicaDelegate is the broadcaster's Delegate: heads from go-ds-crdt,
// peers recorded in the address book, the rest passed to the database.
type replicaDelegate struct{ r *Replica }

func (d replicaDelegate) Heads(ctx context.Context) []cid.Cid { return d.r.Heads(ctx) }

func (d replicaDelegate) CanAnnounce(ctx context.Context, author peer.ID) error {
	return d.r.cfg.Delegate.CanAnnounce(ctx, author)
}

func (d replicaDelegate) PeerJoined(p peer.ID) {
	d.r.redial.Record(d.r.ctx, p)
	d.r.cfg.Delegate.PeerJoined(p)
}

func (d replicaDelegate) PeerLeft(p peer.ID) {
	d.r.cfg.Delegate.PeerLeft(p)
	d.r.redial.Lonely()
}

func (d replicaDelegate) CatchingUp(received uint64, remaining int64, done bool) {
	d.r.cfg.Delegate.CatchingUp(received, remaining, done)
}

var _ Delegate = replicaDelegate{}

// catchupPatience is how long a catch-up waits for the quarantine to make
// room before it goes on anyway (eviction then bounds the memory).
const catchupPatience = 2 * time.Second

// nodeSink puts streamed catch-up blocks in the node's quarantine.
type nodeSink struct{ n *Node }

func (s nodeSink) Has(ctx context.Context, c cid.Cid) bool {
	has, err := s.n.held.Has(ctx, c)
	return err == nil && has
}

// Put goes through the fetch path's blockservice, so a bitswap fetch
// waiting for the block is answered at once.
func (s nodeSink) Put(ctx context.Context, b blocks.Block) error {
	return s.n.fetchServ.AddBlock(ctx, b)
}

// Wait keeps a catch-up from filling more than half the quarantine, which
// go-ds-crdt empties as it merges.
func (s nodeSink) Wait(ctx context.Context) error {
	return s.n.held.WaitBelow(ctx, s.n.held.Max()/2, catchupPatience)
}

var _ CatchupSink = nodeSink{}
