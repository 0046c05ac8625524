package engine

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"sync"

	"github.com/hashicorp/go-hclog"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/latticedb/lattice/crdt"
	"github.com/latticedb/lattice/discovery"
	"github.com/latticedb/lattice/internal/identity"
	"github.com/latticedb/lattice/internal/replication"
	"github.com/latticedb/lattice/internal/sealing"
	"github.com/latticedb/lattice/internal/store"
	"github.com/latticedb/lattice/plugins"
)

// Engine is one Lattice peer: a libp2p host, its replication (a
// replication.Node: gossipsub, bitswap, catch-up), a local datastore, and
// the databases open on it. It is safe for concurrent use. Close releases
// everything it started.
type Engine struct {
	cfg      *config
	log      hclog.Logger
	key      crypto.PrivKey
	self     string // this peer's ID, encoded once
	store    *store.Store
	host     host.Host
	node     *replication.Node
	registry *plugins.Registry
	ownsHost bool // built by the engine (not WithHost): Close closes it
	// hostProtos are the protocols a host given with WithHost served
	// before the engine started: Close removes the handlers it added.
	hostProtos map[protocol.ID]bool
	ids        *crdt.IDGenerator
	disc       *discovery.Manager // WithDiscovery's sources, nil without

	records *sealing.Records // this peer's member key for sealed databases

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // the engine's own loops

	// calls is read-locked by the calls enter admits; Close takes it once
	// closing (cancelled first, to cut their network waits short) so that
	// none of them touches the store after it is closed.
	calls   sync.RWMutex
	closing context.Context
	abort   context.CancelFunc

	mu        sync.Mutex
	closed    bool
	databases map[string]*Database // by manifest CID string
	// busy holds, by manifest CID string, the databases being opened,
	// closed or dropped: the channel closes when that is done. open waits
	// on it, so no second instance starts on a namespace still in use.
	busy      map[string]chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// New starts an engine. It opens (or creates) the data directory, loads or
// creates the peer identity, starts the libp2p host and its protocols, and
// connects to bootstrap peers. Databases that were open when the engine last
// closed are not reopened automatically: list them with Databases and open
// them by address.
func New(ctx context.Context, opts ...Option) (*Engine, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if err := o(cfg); err != nil {
			return nil, err
		}
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	e := &Engine{
		cfg:       cfg,
		log:       cfg.logger,
		registry:  cfg.registry,
		ids:       crdt.NewIDGenerator(),
		databases: make(map[string]*Database),
		busy:      make(map[string]chan struct{}),
	}
	if e.registry == nil {
		e.registry = plugins.NewDefaultRegistry()
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.closing, e.abort = context.WithCancel(context.Background())
	if err := e.start(ctx); err != nil {
		_ = e.Close()
		return nil, err
	}
	return e, nil
}

func (e *Engine) start(ctx context.Context) error {
	cfg := e.cfg
	switch {
	case cfg.datastore != nil:
		e.store = store.Wrap(cfg.datastore)
	case cfg.inMemory:
		e.store = store.InMemory()
	default:
		st, err := store.Open(filepath.Join(cfg.dataDir, "pebble"), cfg.syncWrites, e.log.Named("store"), cfg.footprint.store)
		if err != nil {
			return fmt.Errorf("engine: %w", err)
		}
		e.store = st
	}

	h, err := e.hostFor(cfg)
	if err != nil {
		return err
	}
	e.host = h
	e.key = h.Peerstore().PrivKey(h.ID())
	if e.key == nil {
		return fmt.Errorf("%w: the host's peerstore lacks its private key", ErrBadOption)
	}
	e.self = h.ID().String()

	ncfg := cfg.footprint.node
	ncfg.Log = e.log.Named("replication")
	ncfg.Clock = cfg.clock
	ncfg.Tracer = cfg.pubsubTracer
	ncfg.PubsubWatch = cfg.pubsubWatch
	if e.node, err = replication.NewNode(ctx, h, e.store, ncfg); err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	e.records = sealing.NewRecords(e.store, e.key, cfg.clock)
	e.records.Serve(h, e.enter) // sealed databases (members.go)

	for _, ai := range cfg.bootstrap {
		if err := h.Connect(ctx, ai); err != nil {
			e.log.Warn("bootstrap peer unreachable", "peer", ai.ID, "error", err)
		}
	}
	return e.startDiscovery()
}

// hostFor returns the host given with WithHost, or builds one from the
// engine's network options with package transports.
func (e *Engine) hostFor(cfg *config) (host.Host, error) {
	if cfg.host != nil {
		e.hostProtos = make(map[protocol.ID]bool)
		for _, p := range cfg.host.Mux().Protocols() {
			e.hostProtos[p] = true
		}
		return cfg.host, nil
	}
	key := cfg.identity
	if key == nil {
		var err error
		if key, err = loadIdentity(cfg.dataDir, cfg.inMemory || cfg.datastore != nil); err != nil {
			return nil, err
		}
	}
	h, err := buildHost(cfg, key, e.log)
	if err != nil {
		return nil, err
	}
	e.ownsHost = true
	return h, nil
}

// loadIdentity returns the engine's key: kept in dir (see package
// identity), or a throwaway one in memory.
func loadIdentity(dir string, inMemory bool) (crypto.PrivKey, error) {
	if inMemory {
		k, _, err := crypto.GenerateEd25519Key(nil)
		return k, err
	}
	k, err := identity.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	return k, nil
}

// ID is this peer's identity.
func (e *Engine) ID() peer.ID { return e.host.ID() }

// Host is the libp2p host, for callers that add their own protocols.
func (e *Engine) Host() host.Host { return e.host }

// Addrs are this peer's dialable addresses, each with /p2p/<peer ID>.
func (e *Engine) Addrs() []ma.Multiaddr {
	ai := peer.AddrInfo{ID: e.host.ID(), Addrs: e.host.Addrs()}
	out, _ := peer.AddrInfoToP2pAddrs(&ai)
	return out
}

// PubSub is the engine's gossipsub router. A host has one; protocols built
// beside the engine (invite topics, presence) join their topics here.
func (e *Engine) PubSub() *replication.PubSub { return e.node.PubSub() }

// Database returns an open database by address, without any network call.
func (e *Engine) Database(address string) (*Database, bool) {
	addr, err := ParseAddress(address)
	if err != nil {
		return nil, false
	}
	db := e.lookup(addr)
	if db == nil || db.addr.Name != addr.Name || db.closed.Load() {
		return nil, false
	}
	return db, true
}

// Connect dials a peer. Databases replicate with every connected peer that
// has them open.
func (e *Engine) Connect(ctx context.Context, ai peer.AddrInfo) error {
	if err := e.host.Connect(ctx, ai); err != nil {
		return fmt.Errorf("engine: connect %s: %w", ai.ID, err)
	}
	return nil
}

// Peers lists the peers this engine is connected to.
func (e *Engine) Peers() []peer.ID {
	ps := e.host.Network().Peers()
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	return ps
}

// Close closes every open database, then the protocols, the host and the
// store, and waits for every goroutine the engine started. It is idempotent.
func (e *Engine) Close() error {
	e.closeOnce.Do(func() {
		e.abort()
		e.calls.Lock() // waits for the calls enter admitted
		e.mu.Lock()
		e.closed = true
		dbs := make([]*Database, 0, len(e.databases))
		for _, db := range e.databases {
			dbs = append(dbs, db)
		}
		e.mu.Unlock()
		var errs []error
		for _, db := range dbs {
			errs = append(errs, db.Close())
		}
		if e.disc != nil {
			errs = append(errs, e.disc.Close())
		}
		if e.node != nil {
			errs = append(errs, e.node.Close())
		}
		e.cancel()
		e.wg.Wait()
		switch {
		case e.host != nil && e.ownsHost:
			errs = append(errs, e.host.Close())
		case e.host != nil:
			// Not ours to close: leave it as it was given, without the
			// handlers of protocols that no longer run.
			for _, p := range e.host.Mux().Protocols() {
				if !e.hostProtos[p] {
					e.host.RemoveStreamHandler(p)
				}
			}
		}
		if e.store != nil {
			errs = append(errs, e.store.Close())
		}
		e.closeErr = errors.Join(errs...)
		e.calls.Unlock()
	})
	return e.closeErr
}

// PeerScore reports the gossipsub score this engine gives a peer, as of the
// last second: 0 for a well-behaved peer, negative for one that sent
// malformed broadcasts (below -80 its traffic is dropped unread). Scores of
// peers that disconnected are kept for 10 minutes. ok is false for a peer
// pubsub has no score for.
func (e *Engine) PeerScore(p peer.ID) (score float64, ok bool) { return e.node.PeerScore(p) }

// PubsubRevivals reports how many times the engine reconnected a peer
// that pubsub had given up on while it stayed connected (see
// WithPubsubWatchdog).
func (e *Engine) PubsubRevivals() uint64 { return e.node.PubsubRevivals() }

// RelaySwitchRepairs reports how many times the engine reconnected a peer
// because gossipsub lost its subscriptions: when the relay circuit to it
// closed and a direct connection took over, or when any stream death made
// gossipsub drop a connected peer from a database's topic while its
// database stayed open (Stats.LostSubscriptions).
func (e *Engine) RelaySwitchRepairs() uint64 { return e.node.RelaySwitchRepairs() }

// enter admits a call that uses the store or the network. It fails with
// ErrClosed once Close has begun; otherwise the call runs with a context
// that Close cancels, and must call leave when done.
func (e *Engine) enter(ctx context.Context) (_ context.Context, leave func(), _ error) {
	e.calls.RLock()
	if e.closing.Err() != nil {
		e.calls.RUnlock()
		return nil, nil, ErrClosed
	}
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(e.closing, cancel)
	return ctx, func() {
		stop()
		cancel()
		e.calls.RUnlock()
	}, nil
}
