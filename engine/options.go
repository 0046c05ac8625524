package engine

import (
	"fmt"
	ds "github.com/ipfs/go-datastore"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/latticedb/lattice/discovery"
	"github.com/latticedb/lattice/internal/replication"
	"github.com/latticedb/lattice/plugins"
)

// Option configures an Engine.
type Option func(*config) error

// config is the table of every engine setting; defaultConfig fills it.
type config struct {
	dataDir             string
	inMemory            bool
	datastore           ds.Batching // WithDatastore; not closed by the engine
	syncWrites          bool
	logger              hclog.Logger
	listen              []string
	bootstrap           []peer.AddrInfo
	relays              []peer.AddrInfo
	identity            crypto.PrivKey
	registry            *plugins.Registry
	host                host.Host
	listenSet           bool
	net                 netConfig // the options of a host the engine builds (host_native.go)
	rebroadcastInterval time.Duration
	dagSyncTimeout      time.Duration
	fetchTimeout        time.Duration
	maxDocumentSize     int
	maxBatchDocs        int // see limits.go
	maxWriteBytes       int
	inlineBlockLimit    int
	reconnect           bool
	catchup             bool
	pubsubWatch         time.Duration
	clock               func() time.Time
	discovery           []discovery.Source
	discoveryLimits     discovery.Limits
	footprint           footprint
	pubsubTracer        replication.RawTracer
	autoCompact         replication.AutoCompact // WithAutoCompact; Live is set per database
	archive             bool
}

func defaultConfig() *config {
	return &config{
		logger:              hclog.NewNullLogger(),
		rebroadcastInterval: 30 * time.Second,
		dagSyncTimeout:      2 * time.Minute,
		fetchTimeout:        30 * time.Second,
		maxDocumentSize:     DefaultMaxDocumentSize,
		maxBatchDocs:        DefaultMaxBatchDocuments,
		maxWriteBytes:       DefaultMaxWriteBytes,
		inlineBlockLimit:    256 << 10,
		reconnect:           true,
		catchup:             true,
		pubsubWatch:         replication.DefaultPubsubWatch,
		clock:               time.Now,
		footprint:           defaultFootprint,
	}
}

// DefaultMaxDocumentSize is the largest encoded document (JSON bytes) an
// engine accepts unless WithMaxDocumentSize says otherwise. A document
// travels inside one DAG block, which must fit a bitswap message.
const DefaultMaxDocumentSize = 512 << 10

func (c *config) validate() error {
	if c.dataDir == "" && !c.inMemory && c.datastore == nil {
		return fmt.Errorf("%w: no data directory (use WithDataDir, WithInMemory or WithDatastore)", ErrBadOption)
	}
	if c.datastore != nil && (c.dataDir != "" || c.inMemory) {
		return fmt.Errorf("%w: WithDatastore cannot be combined with WithDataDir or WithInMemory", ErrBadOption)
	}
	if c.rebroadcastInterval <= 0 || c.dagSyncTimeout <= 0 || c.fetchTimeout <= 0 {
		return fmt.Errorf("%w: intervals and timeouts must be positive", ErrBadOption)
	}
	if c.maxDocumentSize <= 0 || c.maxDocumentSize > 1<<20 {
		return fmt.Errorf("%w: max document size must be in (0, 1 MiB]", ErrBadOption)
	}
	if c.host != nil && (c.identity != nil || c.relays != nil || c.listenSet || c.net.set()) {
		return fmt.Errorf("%w: WithHost cannot be combined with WithIdentity, WithListenAddrs, WithRelays, WithTransports, WithNAT or WithLibp2pOptions: configure the host instead", ErrBadOption)
	}
	return nil
}

// WithDataDir stores everything (pebble database, identity key) under dir,
// which is created if missing and made private (0700) at every start; an
// identity key its group or others may read is refused (see
// internal/identity).
func WithDataDir(dir string) Option {
	return func(c *config) error { c.dataDir = dir; return nil }
}

// WithDatastore keeps all data in d, which stays the caller's: the engine
// never closes it, so it may outlive the engine and be handed to the next
// one (a restart on the same data). Writes are as durable as d makes them:
// before a local write returns, the engine calls d.Sync of every key, so a
// datastore that writes behind (the browser's IndexedDB one) makes it
// durable then.
// The identity is random unless WithIdentity or WithHost gives one. For
// embedders with a store of their own (a browser's) and for tests that
// restart engines inside testing/synctest, where pebble must not run (its
// pooled channels would belong to the bubble).
func WithDatastore(d ds.Batching) Option {
	return func(c *config) error {
		if d == nil {
			return fmt.Errorf("%w: nil datastore", ErrBadOption)
		}
		c.datastore = d
		return nil
	}
}

// WithInMemory keeps all data in memory; it is lost on Close. For tests and
// throwaway peers. The identity is random unless WithIdentity is given.
func WithInMemory() Option {
	return func(c *config) error { c.inMemory = true; return nil }
}

// WithSyncWrites sets whether a write waits for the pebble write-ahead log
// to be fsynced before it returns.
//
// Off (the default), a returned write's log records are in the operating
// system's hands: the write survives the process dying in any way (kill
// -9, panic, OOM kill), and the log is fsynced in the background every
// 100 ms, so a power loss or kernel crash can lose the writes of about the
// last 100 ms (those announced before it are still on other replicas).
//
// On, a returned write also survives power loss, on a disk that honours
// fsync: it costs one fsync per commit group, shared by every write that
// group-commits with it (about 0.5 ms each on a cloud VM's disk, which caps
// one sequential caller near 2,000 writes/s).
func WithSyncWrites(sync bool) Option {
	return func(c *config) error { c.syncWrites = sync; return nil }
}

// WithLogger sets the logger; subsystems log through named sub-loggers.
// The default discards everything.
func WithLogger(l hclog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return fmt.Errorf("%w: nil logger", ErrBadOption)
		}
		c.logger = l
		return nil
	}
}

// WithListenAddrs sets the multiaddrs the host listens on (default: the
// transports' own; for the default transports TCP, QUIC and WebSocket on
// all interfaces, random ports).
func WithListenAddrs(addrs ...string) Option {
	return func(c *config) error { c.listen, c.listenSet = addrs, true; return nil }
}

// WithBootstrap names peers to connect to at start.
func WithBootstrap(peers ...peer.AddrInfo) Option {
	return func(c *config) error { c.bootstrap = append(c.bootstrap, peers...); return nil }
}

// WithRelays names circuit relays (v2) to keep reservations on, for a
// peer that others cannot dial directly (behind a NAT or a firewall). The
// engine reserves with each explicitly, renews the reservations, and
// advertises their circuit addresses (<relay>/p2p/<relay ID>/p2p-circuit)
// with its own, so they appear in Addrs and in invite links. The relays
// must grant circuits without a per-circuit limit, as transports/relay's
// does; over a limited circuit gossipsub and bitswap do not run. The
// engine sets the host's libp2p.AddrsFactory for this, so WithRelays cannot
// be combined with one passed in WithLibp2pOptions.
func WithRelays(relays ...peer.AddrInfo) Option {
	return func(c *config) error {
		for _, r := range relays {
			if len(r.Addrs) == 0 {
				return fmt.Errorf("%w: relay %s has no address", ErrBadOption, r.ID)
			}
		}
		c.relays = append(c.relays, relays...)
		return nil
	}
}

// WithIdentity sets the peer's private key instead of the one persisted in
// the data directory.
func WithIdentity(k crypto.PrivKey) Option {
	return func(c *config) error { c.identity = k; return nil }
}

// WithRegistry sets the plugin registry used to resolve access controllers
// named in manifests. The default is plugins.NewDefaultRegistry().
func WithRegistry(r *plugins.Registry) Option {
	return func(c *config) error { c.registry = r; return nil }
}

// WithHost runs the engine on h instead of a host it builds itself: one
// from transports.New, one on a simulated network, or one an embedder
// configured. The engine uses h's identity (its peerstore must hold h's
// private key, as libp2p.New's hosts do) and never closes h: the caller
// closes it after the engine. One host serves one engine. WithHost cannot
// be combined with the options that configure a host (WithIdentity,
// WithListenAddrs, WithRelays, WithLibp2pOptions).
func WithHost(h host.Host) Option {
	return func(c *config) error {
		if h == nil {
			return fmt.Errorf("%w: nil host", ErrBadOption)
		}
		c.host = h
		return nil
	}
}

// WithRebroadcastInterval sets how often each database re-announces heads
// that no other replica announced in the meantime (default 30 s).
func WithRebroadcastInterval(d time.Duration) Option {
	return func(c *config) error { c.rebroadcastInterval = d; return nil }
}

// WithFetchTimeout bounds fetching one announced head's block (default 30
// s); a head that cannot be fetched is retried on its next announcement and
// never holds up other heads.
func WithFetchTimeout(d time.Duration) Option {
	return func(c *config) error { c.fetchTimeout = d; return nil }
}

// WithPubsubWatchdog sets how often the engine checks for connected peers
// that pubsub has given up on (go-libp2p-pubsub stops writing to a peer
// whose stream died four times while it stayed connected) and reconnects
// them; 0 turns the check off. The default is 10 s.
func WithPubsubWatchdog(every time.Duration) Option {
	return func(c *config) error {
		if every < 0 {
			return fmt.Errorf("%w: pubsub watchdog interval %v is negative", ErrBadOption, every)
		}
		c.pubsubWatch = every
		return nil
	}
}

// WithReconnect sets whether each open database redials the peers it
// replicated with, kept in its address book in the store, while it has no
// peer: at open and after its last peer leaves, with jittered backoff from
// 1 s to 1 min (default on). Tests that partition peers by closing their
// connections turn it off.
func WithReconnect(on bool) Option {
	return func(c *config) error { c.reconnect = on; return nil }
}

// WithCatchup sets whether a database that learns a head whose history
// it lacks streams that history from the peer that announced it, on one
// catch-up stream (default on). Off, the history is walked with bitswap,
// one round trip per DAG level: the baseline benchmarks compare against.
func WithCatchup(on bool) Option {
	return func(c *config) error { c.catchup = on; return nil }
}

// WithClock sets the clock the engine dates its writes with (signatures,
// $currentDate, generated ids); the default is time.Now. For tests and
// simulations; a peer whose clock runs more than
// accesscontrol.MaxClockSkew behind the writes it builds on has its writes
// judged at their time (see accesscontrol.EffectiveTime).
func WithClock(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return fmt.Errorf("%w: nil clock", ErrBadOption)
		}
		c.clock = now
		return nil
	}
}

// WithMaxDocumentSize sets the largest accepted document, in bytes of JSON.
func WithMaxDocumentSize(n int) Option {
	return func(c *config) error { c.maxDocumentSize = n; return nil }
}

// WithSmallFootprint sizes the engine for many engines in one process
// (simulations, tests of hundreds of peers) rather than for one real node:
// gossipsub keeps messages for 3 heartbeats instead of 5 (advertising 2
// instead of 3) and remembers seen message ids for 30 s instead of 2 min,
// and bitswap's server and go-ds-crdt run 2 workers each instead of 8 to
// 16 and 5; on disk, pebble's memtable grows to 1 MiB instead of 64 MiB and
// its block cache holds 1 MiB instead of 128 MiB. The mesh degrees and the
// wire protocol are unchanged, so small and default engines interoperate.
// What it saves is measured in
// BENCHMARKS.md ("Many engines in one process").
func WithSmallFootprint() Option {
	return func(c *config) error { c.footprint = smallFootprint; return nil }
}

// WithPubsubTracer hands gossipsub a raw tracer that sees every RPC,
// graft, prune and delivery of this engine's router: for simulations and
// diagnostics (package sim uses it to tell how each announcement reached
// each replica). The tracer's methods run on pubsub's event loop and must
// not block.
func WithPubsubTracer(t replication.RawTracer) Option {
	return func(c *config) error {
		if t == nil {
			return fmt.Errorf("%w: nil pubsub tracer", ErrBadOption)
		}
		c.pubsubTracer = t
		return nil
	}
}

// DefaultAutoCompactMinBlocks is WithAutoCompact's least history worth a
// compaction when its minBlocks is 0.
const DefaultAutoCompactMinBlocks = 4096

// WithAutoCompact makes every open database compact by itself, off the
// write path on a goroutine of its own, once the blocks it merged since
// its last compaction (or its open) reach factor times its live
// documents, and at least minBlocks (0: DefaultAutoCompactMinBlocks).
// Counted, not timed. Off by default (factor 0): a compacted replica
// serves catch-up only above its snapshot, so peers that join it by Open
// rather than JoinFromSnapshot cannot fetch its covered history
// (docs/snapshots.md).
func WithAutoCompact(factor float64, minBlocks int) Option {
	return func(c *config) error {
		if factor < 0 || minBlocks < 0 {
			return fmt.Errorf("%w: auto-compaction factor and minimum must not be negative", ErrBadOption)
		}
		if minBlocks == 0 {
			minBlocks = DefaultAutoCompactMinBlocks
		}
		c.autoCompact = replication.AutoCompact{Factor: factor, MinBlocks: minBlocks}
		return nil
	}
}

// WithArchive keeps every database's full history: no compaction, by
// hand (ErrArchive) or automatic (WithAutoCompact is ignored), so the
// engine serves the whole history on the catch-up stream, to peers
// without snapshot support and for audits.
func WithArchive() Option {
	return func(c *config) error { c.archive = true; return nil }
}
