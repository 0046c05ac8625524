package simtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/enginetest"
	"github.com/latticedb/lattice/internal/store"
	"github.com/latticedb/lattice/sim"
)

// SeedEnv names the environment variable that overrides a test's seed.
const SeedEnv = "LATTICE_SIMTEST_SEED"

// Rebroadcast is the engines' rebroadcast interval: long enough that a
// test of what joins and announcements do is not rescued by it, short
// enough in virtual time to cost nothing.
const Rebroadcast = 30 * time.Second

// Net is a simulated network of engines inside one synctest bubble.
type Net struct {
	t    *testing.T
	seed uint64
	rng  *rand.Rand
	nw   *sim.Network

	mu    sync.Mutex
	peers []*Peer
}

// Peer is one engine's place on the network: its node, its identity and
// its store, so that it can restart as the same peer.
type Peer struct {
	n     *Net
	Node  *sim.Node
	Key   crypto.PrivKey
	Store *store.Store // nil for a store that is lost on Stop
	opts  []engine.Option

	mu sync.Mutex
	h  host.Host
	e  *engine.Engine
}

// New makes a network for the test t, which must be the *testing.T of a
// synctest.Test bubble, seeded by seed (or SeedEnv; the seed is logged).
// Engines and hosts started on it are closed, and the network after them,
// when t ends, inside the bubble.
func New(t *testing.T, seed uint64) *Net {
	t.Helper()
	if v := os.Getenv(SeedEnv); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		require.NoError(t, err, "%s", SeedEnv)
		seed = s
	}
	t.Logf("simtest: seed %d (replay: %s=%d)", seed, SeedEnv, seed)
	n := &Net{t: t, seed: seed, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), nw: sim.NewNetwork(sim.NetworkConfig{})}
	n.nw.Start()
	t.Cleanup(n.close)
	return n
}

// Seed is the network's seed.
func (n *Net) Seed() uint64 { return n.seed }

// Network is the simulated network, for partitions (sim.Network's
// Partition and Heal take node indexes: Peer.Node.Index).
func (n *Net) Network() *sim.Network { return n.nw }

// NewPeer adds a node and an identity for an engine that keeps its data
// in memory: lost on Stop (persistent false), or kept for the next Start
// (persistent true: a store of the peer's own, handed to each engine with
// engine.WithDatastore). Never pebble: pebble pools channels across
// databases, and one made inside a bubble would crash pebble users
// outside it ("send on synctest channel from outside bubble"). Start
// starts the engine; opts are given to every start of it.
func (n *Net) NewPeer(persistent bool, opts ...engine.Option) *Peer {
	n.mu.Lock()
	defer n.mu.Unlock()
	// A few milliseconds per access link, drawn from the seed.
	lat := time.Duration(1+n.rng.IntN(10)) * time.Millisecond
	key, _, err := crypto.GenerateEd25519Key(seededReader{n.rng})
	require.NoError(n.t, err)
	p := &Peer{n: n, Node: n.nw.AddNode(sim.NodeConfig{NAT: sim.Public, Latency: lat}), Key: key, opts: opts}
	if persistent {
		p.Store = store.InMemory()
		n.t.Cleanup(func() { _ = p.Store.Close() }) // after its engine: cleanups run last in, first out
	}
	n.peers = append(n.peers, p)
	return p
}

// Host starts a bare host (no engine) on a new node, closed when the
// test ends: a stranger on the network, a flooder, an older peer.
func (n *Net) Host() host.Host {
	n.t.Helper()
	p := n.NewPeer(false)
	h, err := p.Node.NewHost(sim.HostConfig{Identity: p.Key})
	require.NoError(n.t, err)
	n.t.Cleanup(func() { _ = h.Close() }) // before the network closes: cleanups run last in, first out
	return h
}

// Engine starts an engine with its data in memory on a new node: the
// usual case.
func (n *Net) Engine(opts ...engine.Option) *engine.Engine {
	return n.NewPeer(false, opts...).Start()
}

// Start starts the peer's host and engine (again, after Stop: same
// identity, same data, same address). It fails the test on error.
func (p *Peer) Start(opts ...engine.Option) *engine.Engine {
	t := p.n.t
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	require.Nil(t, p.e, "simtest: peer %d started twice", p.Node.Index)
	h, err := p.Node.NewHost(sim.HostConfig{Identity: p.Key})
	require.NoError(t, err)
	all := []engine.Option{
		engine.WithHost(h),
		engine.WithLogger(p.n.logger(p.Node.Index)),
		engine.WithRebroadcastInterval(Rebroadcast),
		engine.WithReconnect(false),
	}
	if p.Store != nil {
		all = append(all, engine.WithDatastore(p.Store))
	} else {
		all = append(all, engine.WithInMemory())
	}
	all = append(append(all, p.opts...), opts...)
	e, err := engine.New(context.Background(), all...)
	if err != nil {
		_ = h.Close()
		require.NoError(t, err)
	}
	p.h, p.e = h, e
	return e
}

// Move puts a stopped peer on a new node: its next Start listens at a
// new address, as a laptop that changed networks or a process that
// restarted on another port.
func (p *Peer) Move() {
	n := p.n
	require.Nil(n.t, p.Engine(), "simtest: move peer %d while it runs", p.Node.Index)
	n.mu.Lock()
	lat := time.Duration(1+n.rng.IntN(10)) * time.Millisecond
	nd := n.nw.AddNode(sim.NodeConfig{NAT: sim.Public, Latency: lat})
	n.mu.Unlock()
	p.mu.Lock()
	p.Node = nd
	p.mu.Unlock()
}

// Engine is the peer's running engine, nil while stopped.
func (p *Peer) Engine() *engine.Engine {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.e
}

// Stop closes the peer's engine and then its host, and the other
// peers' connections to it. A stopped process's TCP sockets are reset
// and its peers notice at once; a QUIC connection's close may be lost on
// the way and the peer then holds a dead connection until QUIC's idle
// timeout, taking it for live (a Connect to the restarted peer returns
// at once, over the dead one).
func (p *Peer) Stop() {
	p.mu.Lock()
	e, h := p.e, p.h
	p.e, p.h = nil, nil
	p.mu.Unlock()
	if e == nil {
		return
	}
	id := h.ID()
	require.NoError(p.n.t, e.Close())
	require.NoError(p.n.t, h.Close())
	p.n.mu.Lock()
	peers := p.n.peers
	p.n.mu.Unlock()
	for _, q := range peers {
		if o := q.Engine(); o != nil {
			_ = o.Host().Network().ClosePeer(id)
		}
	}
}

// close stops every peer, then the network.
func (n *Net) close() {
	n.mu.Lock()
	peers := n.peers
	n.mu.Unlock()
	for _, p := range peers {
		p.Stop()
	}
	n.nw.Close()
}

// AddrInfo is how to dial an engine on the network.
func AddrInfo(e *engine.Engine) peer.AddrInfo {
	return peer.AddrInfo{ID: e.Host().ID(), Addrs: e.Host().Addrs()}
}

// ConnectAll connects every pair of engines.
func (n *Net) ConnectAll(es ...*engine.Engine) {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, a := range es {
		for _, b := range es[i+1:] {
			require.NoError(n.t, a.Connect(ctx, AddrInfo(b)))
		}
	}
}

// Cut partitions the network so that lone reaches none of the others,
// and then cuts them as enginetest.Partition does (the packets stop at
// once; the connections would otherwise die only at QUIC's idle
// timeout). Heal the network and ConnectAll to end it.
func (n *Net) Cut(lone *engine.Engine, others ...*engine.Engine) {
	n.t.Helper()
	n.nw.Partition([]int{n.indexOf(lone)})
	enginetest.Partition(n.t, lone, others...)
}

// Heal ends every partition (connections are not remade: ConnectAll).
func (n *Net) Heal() { n.nw.Heal() }

func (n *Net) indexOf(e *engine.Engine) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, p := range n.peers {
		if p.Engine() == e {
			return p.Node.Index
		}
	}
	n.t.Fatalf("simtest: engine %s is not on this network", e.ID())
	return -1
}

// LogEnv names the environment variable that turns the engines' logs on,
// to stderr, at its level (trace, debug, info, warn, error).
const LogEnv = "LATTICE_SIMTEST_LOG"

// logger is peer i's logger: silent unless LogEnv is set.
func (n *Net) logger(i int) hclog.Logger {
	lvl := os.Getenv(LogEnv)
	if lvl == "" {
		return hclog.NewNullLogger()
	}
	return hclog.New(&hclog.LoggerOptions{Name: fmt.Sprintf("peer-%d", i), Level: hclog.LevelFromString(lvl), Output: os.Stderr})
}

// Converged is enginetest.Converged: under synctest its timeout is
// virtual time.
func (n *Net) Converged(timeout time.Duration, want int, cs ...*engine.Collection) string {
	n.t.Helper()
	return enginetest.Converged(n.t, timeout, want, cs...)
}

// seededReader is an io.Reader of the network's seeded randomness, for
// identities.
type seededReader struct{ rng *rand.Rand }

func (r seededReader) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = byte(r.rng.Uint32())
	}
	return len(b), nil
}
