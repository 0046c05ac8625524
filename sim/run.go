package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/query"
	"github.com/latticedb/lattice/transports/relay"
)

// Options are how a run is carried out, as opposed to what it simulates.
type Options struct {
	// Mode names the clock the run is under, for the report: "virtual"
	// inside testing/synctest, "real" otherwise (the default).
	Mode string
	// Progress, if set, receives progress from the start of the schedule
	// until the replicas settle: simulated time, writes acknowledged,
	// replicas converged (holding every write acknowledged so far) and
	// peers up, about once a second, redrawn in place with "\r" (for a
	// terminal); and the setup steps before it.
	Progress io.Writer
	// ProgressLines makes Progress a log instead of a terminal: one
	// newline-terminated line at each setup step, at the start, every
	// ProgressEvery (2 s when zero) and at the end.
	ProgressLines bool
	// ProgressEvery is the interval of progress lines (ProgressLines).
	ProgressEvery time.Duration
	// TempDir holds the pebble stores of peers that crash; empty means a
	// fresh directory under os.TempDir, removed at the end.
	TempDir string
	// Logger receives the engines' logs; nil is silent.
	Logger hclog.Logger
	// OnEvent, if set, is called with each scheduled event as it is
	// carried out, from the run's goroutine.
	OnEvent func(Event)
	// Tail, if set, receives at the end a diagnosis of the (write,
	// replica) pairs slower than TailOver: how the write's announcement
	// reached the replica and what the replica's gossipsub mesh was.
	Tail     io.Writer
	TailOver time.Duration
}

// collection is the one collection every write goes to.
const collection = "docs"

// Rebroadcast is the engines' rebroadcast interval in a run: shorter than
// the engine's default (30 s) so a head lost in a partition is announced
// again within a short scenario.
const Rebroadcast = 5 * time.Second

type simPeer struct {
	idx  int
	node *Node
	key  crypto.PrivKey
	dir  string // pebble store, if the peer crashes
	plan PeerPlan

	h    host.Host
	eng  *engine.Engine
	db   *engine.Database
	stop context.CancelFunc
	wg   sync.WaitGroup

	trace *tracer // gossipsub's view of this peer, since its last start

	mu       sync.Mutex
	up       bool
	joinedAt time.Time            // when a late joiner started; zero for the others
	arrivals map[string]time.Time // doc -> when this replica first had it
}

// writable is the peer's open database, or nil while it is down or has
// not opened it yet.
func (p *simPeer) writable() *engine.Database {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.up {
		return nil
	}
	return p.db
}

func (p *simPeer) arrived(doc string, at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.arrivals[doc]; !ok {
		p.arrivals[doc] = at
	}
}

func (p *simPeer) has(doc string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.arrivals[doc]
	return ok
}

func (p *simPeer) isUp() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.up
}

type runner struct {
	s          Scenario
	o          Options
	plan       Plan
	nw         *Network
	relays     []*relay.Service
	relayNodes []*Node
	peers      []*simPeer
	punch      *PunchLog
	addr       string // the database's address
	log        hclog.Logger
	// stopProgress ends the progress (set by execute, called by Run).
	stopProgress func()

	mu         sync.Mutex
	writes     []writeRec
	start      time.Time
	setupBytes uint64 // sent before the schedule began (dials, reservations, opening)
	relaySetup uint64 // of which by the relays
	unreserved int    // peers behind NATs without a relay reservation when the schedule began
}

type writeRec struct {
	doc    string
	writer int
	at     time.Time
}

// Run carries out a scenario: it builds the network, starts a relay per
// Relays and a real Lattice engine per peer, makes the writes and faults
// of s.Plan(), waits (up to Settle) for every replica to hold every
// acknowledged write, checks that all replicas ended identical, and
// returns the report. The report's Converged says whether they did; the
// error is for runs that could not be carried out.
func Run(ctx context.Context, s Scenario, o Options) (*Report, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if o.Mode == "" {
		o.Mode = "real"
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	r := &runner{s: s, o: o, plan: s.Plan(), punch: &PunchLog{}, log: o.Logger}
	wall := time.Now()
	if o.TempDir == "" {
		d, err := os.MkdirTemp("", "lattice-sim-")
		if err != nil {
			return nil, fmt.Errorf("sim: %w", err)
		}
		defer os.RemoveAll(d)
		o.TempDir = d
		r.o.TempDir = d
	}
	defer r.close()
	if err := r.setup(ctx); err != nil {
		return nil, err
	}
	r.execute(ctx)
	converged := r.settle(ctx)
	r.stopProgress()
	rep := r.report(converged)
	if o.Tail != nil {
		r.tail(o.Tail, o.TailOver)
	}
	rep.ElapsedMS = ms(time.Since(wall))
	return rep, nil
}

func (r *runner) setup(ctx context.Context) error {
	r.nw = NewNetwork(NetworkConfig{MappingTimeout: time.Duration(r.s.MappingTimeout)})
	var relayNodes []*Node
	for _, l := range r.plan.Relays {
		relayNodes = append(relayNodes, r.nw.AddNode(NodeConfig{NAT: Public, Latency: l, BitsPerSecond: r.s.BitsPerSecond, Loss: r.s.Loss}))
	}
	keys := rand.NewChaCha8(seedBytes(r.s.Seed))
	for i, pp := range r.plan.Peers {
		nd := r.nw.AddNode(NodeConfig{NAT: pp.NAT, Latency: pp.Latency, BitsPerSecond: r.s.BitsPerSecond, Loss: r.s.Loss})
		key, _, err := crypto.GenerateEd25519Key(keys)
		if err != nil {
			return fmt.Errorf("sim: identity: %w", err)
		}
		p := &simPeer{idx: i, node: nd, key: key, plan: pp, arrivals: make(map[string]time.Time)}
		if pp.Disk {
			p.dir = filepath.Join(r.o.TempDir, fmt.Sprintf("peer-%d", i))
		}
		r.peers = append(r.peers, p)
	}
	r.nw.Start()
	var relayInfo []peer.AddrInfo
	r.relayNodes = relayNodes
	for _, nd := range relayNodes {
		rs, err := nd.NewRelay()
		if err != nil {
			return err
		}
		r.relays = append(r.relays, rs)
		relayInfo = append(relayInfo, rs.AddrInfo())
	}
	for i, p := range r.peers {
		if p.plan.JoinAt > 0 {
			continue
		}
		r.note("setting up: starting peer %d of %d", i+1, len(r.peers))
		if err := r.startPeer(ctx, p, relayInfo); err != nil {
			return err
		}
	}
	// Peers behind NATs are reachable once they hold a reservation.
	r.note("setting up: peers behind NATs reserving on the relays")
	r.waitFor(ctx, 60*time.Second, func() bool {
		for _, p := range r.peers {
			if p.isUp() && p.node.NAT != Public && !hasCircuit(p.h) {
				return false
			}
		}
		return true
	})
	r.note("setting up: dialling neighbours")
	r.dialAll(ctx)
	first := r.peers[0]
	db, err := first.eng.Create(ctx, "sim", engine.WithAccess(accesscontrol.Open()))
	if err != nil {
		return fmt.Errorf("sim: create the database: %w", err)
	}
	r.addr = db.Address()
	r.attach(first, db)
	// Every other peer opens it, fetching the manifest from a neighbour
	// that has it: a wave out from peer 0 along the dialled links.
	open := make([]bool, len(r.peers))
	open[0] = true
	remaining := len(r.peers) - 1
	for i, p := range r.peers {
		if p.plan.JoinAt > 0 {
			open[i] = true
			remaining--
		}
	}
	deadline := time.Now().Add(2 * time.Minute)
	for remaining > 0 && time.Now().Before(deadline) {
		r.note("setting up: the database is open on %d of %d peers", len(r.peers)-remaining, len(r.peers))
		var wg sync.WaitGroup
		var mu sync.Mutex
		for i, p := range r.peers {
			if open[i] {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				octx, cancel := context.WithTimeout(ctx, 5*time.Second)
				defer cancel()
				db, err := p.eng.Open(octx, r.addr)
				if err != nil {
					return
				}
				r.attach(p, db)
				mu.Lock()
				open[i] = true
				remaining--
				mu.Unlock()
			}()
		}
		wg.Wait()
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	for i, ok := range open {
		if !ok {
			return fmt.Errorf("sim: peer %d could not open the database in 2 minutes (is the topology connected?)", i)
		}
	}
	return nil
}

func seedBytes(seed uint64) [32]byte {
	var b [32]byte
	for i := range 8 {
		b[i] = byte(seed >> (8 * i))
	}
	b[31] = 0x5e
	return b
}

func hasCircuit(h host.Host) bool {
	for _, a := range h.Addrs() {
		if isCircuit(a.String()) {
			return true
		}
	}
	return false
}

// MaxRelaysPerPeer is how many relays a peer knows and reserves on when
// a scenario has more (see Scenario.Relays).
const MaxRelaysPerPeer = 2

// relaysOf are the relays peer i uses.
func relaysOf(i int, relays []peer.AddrInfo) []peer.AddrInfo {
	if len(relays) <= MaxRelaysPerPeer {
		return relays
	}
	out := make([]peer.AddrInfo, 0, MaxRelaysPerPeer)
	for k := range MaxRelaysPerPeer {
		out = append(out, relays[(i+k)%len(relays)])
	}
	return out
}

// startPeer starts (or restarts) a peer's host and engine.
func (r *runner) startPeer(ctx context.Context, p *simPeer, relays []peer.AddrInfo) error {
	relays = relaysOf(p.idx, relays)
	h, err := p.node.NewHost(HostConfig{Identity: p.key, Relays: relays, HolePunch: r.punch})
	if err != nil {
		return err
	}
	tr := newTracer(h)
	opts := []engine.Option{
		engine.WithHost(h),
		engine.WithPubsubTracer(tr),
		engine.WithBootstrap(relays...),
		engine.WithRebroadcastInterval(Rebroadcast),
		engine.WithLogger(r.log.Named(fmt.Sprintf("peer-%d", p.idx))),
		// Many engines share one process: smaller gossip history and fewer
		// workers each (mesh degrees and the protocol are unchanged).
		engine.WithSmallFootprint(),
	}
	if p.dir != "" {
		opts = append(opts, engine.WithDataDir(p.dir), engine.WithSyncWrites(true))
	} else {
		opts = append(opts, engine.WithInMemory())
	}
	e, err := engine.New(ctx, opts...)
	if err != nil {
		_ = h.Close()
		return fmt.Errorf("sim: peer %d engine: %w", p.idx, err)
	}
	p.mu.Lock()
	p.h, p.eng, p.up, p.trace = h, e, true, tr
	p.mu.Unlock()
	return nil
}

// attach watches a peer's replica for arriving documents.
func (r *runner) attach(p *simPeer, db *engine.Database) {
	wctx, cancel := context.WithCancel(context.Background())
	events := db.Events(wctx)
	p.mu.Lock()
	p.db, p.stop = db, cancel
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for ev := range events {
			if (ev.Type == engine.EventReplicated || ev.Type == engine.EventWrite) && ev.Collection == collection && !ev.Deleted {
				p.arrived(fmt.Sprint(ev.ID), time.Now())
			}
		}
	}()
}

// dialAll makes each peer dial its planned neighbours.
func (r *runner) dialAll(ctx context.Context) {
	var wg sync.WaitGroup
	for _, p := range r.peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.dial(ctx, p)
		}()
	}
	wg.Wait()
}

func (r *runner) dial(ctx context.Context, p *simPeer) {
	for _, j := range p.plan.Dials {
		q := r.peers[j]
		if !q.isUp() || !p.isUp() {
			continue
		}
		dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		_ = p.eng.Connect(dctx, peer.AddrInfo{ID: q.h.ID(), Addrs: q.h.Addrs()})
		cancel()
	}
}

// waitFor polls cond every 100 ms (simulated or real) until it holds or
// limit passes.
func (r *runner) waitFor(ctx context.Context, limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
	return true
}

// execute carries out the plan's events at their times.
func (r *runner) execute(ctx context.Context) {
	r.start = time.Now()
	for _, nd := range r.nw.Nodes() {
		b, _ := nd.Sent()
		r.setupBytes += b
	}
	for _, nd := range r.relayNodes {
		b, _ := nd.Sent()
		r.relaySetup += b
	}
	for _, p := range r.peers {
		if p.isUp() && p.node.NAT != Public && !hasCircuit(p.h) {
			r.unreserved++
		}
	}
	// Progress goes on through settle; Run stops it.
	r.stopProgress = r.progress(ctx)
	relays := make([]peer.AddrInfo, len(r.relays))
	for i, rs := range r.relays {
		relays[i] = rs.AddrInfo()
	}
	var bg sync.WaitGroup
	defer bg.Wait()
	for _, ev := range r.plan.Events {
		if d := time.Until(r.start.Add(ev.At)); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		if r.o.OnEvent != nil {
			r.o.OnEvent(ev)
		}
		switch ev.Kind {
		case EventWrite:
			p := r.peers[ev.Peers[0]]
			db := p.writable()
			if db == nil {
				continue // nobody to write: not acknowledged, not counted
			}
			at := time.Now()
			_, err := db.Collection(collection).InsertOne(ctx, engine.M{"_id": ev.Doc, "by": p.idx, "at": ev.At.Milliseconds()})
			if err != nil {
				r.log.Warn("write failed", "peer", p.idx, "doc", ev.Doc, "error", err)
				continue
			}
			p.arrived(ev.Doc, at)
			r.mu.Lock()
			r.writes = append(r.writes, writeRec{doc: ev.Doc, writer: p.idx, at: at})
			r.mu.Unlock()
		case EventPartition:
			side := make([]int, len(ev.Peers))
			for i, j := range ev.Peers {
				side[i] = r.peers[j].node.Index
			}
			r.nw.Partition(side)
		case EventHeal:
			r.nw.Heal()
		case EventCrash:
			for _, j := range ev.Peers {
				r.crash(r.peers[j])
			}
		case EventJoin:
			for _, j := range ev.Peers {
				p := r.peers[j]
				p.mu.Lock()
				p.joinedAt = time.Now()
				p.mu.Unlock()
				if err := r.startPeer(ctx, p, relays); err != nil {
					r.log.Error("join failed", "peer", p.idx, "error", err)
					continue
				}
				bg.Add(1)
				go func() {
					defer bg.Done()
					r.join(ctx, p)
				}()
			}
		case EventRestart:
			for _, j := range ev.Peers {
				p := r.peers[j]
				if err := r.restart(ctx, p, relays); err != nil {
					r.log.Error("restart failed", "peer", p.idx, "error", err)
					continue
				}
				bg.Add(1)
				go func() {
					defer bg.Done()
					r.waitFor(ctx, 30*time.Second, func() bool { return p.node.NAT == Public || hasCircuit(p.h) })
					r.dial(ctx, p)
				}()
			}
		}
	}
}

// join brings a late peer in: it reserves on the relays, dials its
// neighbours and opens the database, fetching the manifest from them.
func (r *runner) join(ctx context.Context, p *simPeer) {
	r.waitFor(ctx, 30*time.Second, func() bool { return p.node.NAT == Public || hasCircuit(p.h) })
	r.dial(ctx, p)
	r.waitFor(ctx, time.Minute, func() bool {
		octx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		db, err := p.eng.Open(octx, r.addr)
		if err != nil {
			return false
		}
		r.attach(p, db)
		return true
	})
}

// crash stops a peer the hard way for an in-process peer: its network
// goes first (the host closes under the engine), then the engine, whose
// store is on disk with synced writes.
func (r *runner) crash(p *simPeer) {
	p.mu.Lock()
	if !p.up {
		p.mu.Unlock()
		return
	}
	p.up = false
	h, e, stop := p.h, p.eng, p.stop
	p.db = nil
	p.mu.Unlock()
	_ = h.Close()
	if stop != nil {
		stop()
	}
	if err := e.Close(); err != nil {
		r.log.Warn("close after crash", "peer", p.idx, "error", err)
	}
	p.wg.Wait()
}

func (r *runner) restart(ctx context.Context, p *simPeer, relays []peer.AddrInfo) error {
	if err := r.startPeer(ctx, p, relays); err != nil {
		return err
	}
	octx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	db, err := p.eng.Open(octx, r.addr) // local: the manifest is in its store
	if err != nil {
		return fmt.Errorf("sim: peer %d reopen: %w", p.idx, err)
	}
	r.attach(p, db)
	// What the store held before the crash is there already.
	docs, err := dump(ctx, db)
	if err != nil {
		return err
	}
	now := time.Now()
	for _, d := range docs {
		p.arrived(fmt.Sprint(d["_id"]), now)
	}
	return nil
}

// settle waits until every replica holds every acknowledged write, up to
// Settle, and reports whether they did.
func (r *runner) settle(ctx context.Context) bool {
	return r.waitFor(ctx, time.Duration(r.s.Settle), func() bool {
		r.mu.Lock()
		writes := append([]writeRec(nil), r.writes...)
		r.mu.Unlock()
		for _, p := range r.peers {
			for _, w := range writes {
				if !p.has(w.doc) {
					return false
				}
			}
		}
		return true
	})
}

// note replaces the progress line with a setup step, so that a run says
// what it does before the scenario's clock starts.
func (r *runner) note(format string, args ...any) {
	if r.o.Progress == nil {
		return
	}
	if r.o.ProgressLines {
		fmt.Fprintf(r.o.Progress, format+"\n", args...)
		return
	}
	fmt.Fprintf(r.o.Progress, "\r%s\r%s", blankLine, fmt.Sprintf(format, args...))
}

// blankLine clears a terminal's progress line.
var blankLine = strings.Repeat(" ", 78)

// progress prints the run's status until the returned func is called: on
// a terminal, redrawn about once a second; as lines (ProgressLines), once
// at the start, every ProgressEvery and once at the end.
func (r *runner) progress(ctx context.Context) func() {
	if r.o.Progress == nil {
		return func() {}
	}
	every := time.Second
	if r.o.ProgressLines {
		every = r.o.ProgressEvery
		if every <= 0 {
			every = 2 * time.Second
		}
		fmt.Fprintln(r.o.Progress, r.status())
	}
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-pctx.Done():
				return
			case <-t.C:
				if r.o.ProgressLines {
					fmt.Fprintln(r.o.Progress, r.status())
				} else {
					fmt.Fprintf(r.o.Progress, "\r%s\r%s", blankLine, r.status())
				}
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			<-done
			if r.o.ProgressLines {
				fmt.Fprintln(r.o.Progress, r.status())
			} else {
				fmt.Fprintf(r.o.Progress, "\r%s\r", blankLine)
			}
		})
	}
}

func (r *runner) status() string {
	r.mu.Lock()
	writes := append([]writeRec(nil), r.writes...)
	r.mu.Unlock()
	up, converged := 0, 0
	for _, p := range r.peers {
		if p.isUp() {
			up++
		}
		all := true
		for _, w := range writes {
			if !p.has(w.doc) {
				all = false
				break
			}
		}
		if all {
			converged++
		}
	}
	el := time.Since(r.start).Truncate(100 * time.Millisecond)
	return fmt.Sprintf("sim %v/%v  writes acknowledged %d/%d  replicas converged %d/%d  peers up %d/%d",
		el, time.Duration(r.s.Duration), len(writes), r.s.Writes, converged, len(r.peers), up, len(r.peers))
}

func (r *runner) close() {
	for _, p := range r.peers {
		p.mu.Lock()
		up, h, e, stop := p.up, p.h, p.eng, p.stop
		p.up = false
		p.mu.Unlock()
		if !up {
			continue
		}
		if stop != nil {
			stop()
		}
		_ = e.Close()
		_ = h.Close()
		p.wg.Wait()
	}
	for _, rs := range r.relays {
		_ = rs.Close()
	}
	if r.nw != nil {
		r.nw.Close()
	}
}

// dump reads a replica's documents sorted by _id.
func dump(ctx context.Context, db *engine.Database) ([]map[string]any, error) {
	cur, err := db.Collection(collection).Find(ctx, nil, query.Sort("_id", 1))
	if err != nil {
		return nil, fmt.Errorf("sim: read a replica: %w", err)
	}
	var docs []map[string]any
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("sim: read a replica: %w", err)
	}
	return docs, nil
}

func dumpJSON(ctx context.Context, db *engine.Database) (string, error) {
	docs, err := dump(ctx, db)
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(docs)
	if err != nil {
		return "", errors.New("sim: encode a replica")
	}
	return string(b), nil
}
