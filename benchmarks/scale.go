package benchmarks

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/engine"
)

// ScaleConfig sizes a scale run: many in-memory engines in one process on
// loopback TCP, each dialling a few random others, one database open on
// all of them, every engine writing at once.
type ScaleConfig struct {
	Engines int   // engines in the process
	Writes  int   // single InsertOne calls per engine, all engines at once
	Degree  int   // peers each engine dials (the graph is random, seeded)
	Seed    int64 // seeds the graph
	// Timeout bounds the wait for convergence.
	Timeout time.Duration
	// ProfileDir, when set, receives heap.pprof and goroutine.pprof taken
	// just after convergence, cpu.pprof of the writes until then, and
	// heap-settled.pprof after Settle.
	ProfileDir string
	// Settle, when positive, is how long the run waits after convergence
	// before it measures memory again (HeapSettled, RSSSettled): long
	// enough for gossipsub's history and the queues to drain, so what is
	// left is what every replica holds.
	Settle time.Duration
	// MemoryLimit, when positive, is set as the Go runtime's soft memory
	// limit (debug.SetMemoryLimit, as GOMEMLIMIT does) for the run, and
	// the previous limit restored after it.
	MemoryLimit int64
	// DataDir, when set, puts each engine's store on pebble in a directory
	// of its own under it, instead of in memory.
	DataDir string
	// Options are given to every engine after the scenario's own
	// (WithInMemory or DataDir, loopback TCP, no reconnect).
	Options []engine.Option
	// Progress, when set, is told how far the slowest replica is, about
	// once a second while waiting.
	Progress func(elapsed time.Duration, slowest, want int)
	// Measured, when set, is given the result before the engines are
	// closed (closing hundreds of engines takes a while).
	Measured func(ScaleResult)
}

// ScaleResult is what a scale run measured.
type ScaleResult struct {
	Engines   int
	Converged bool          // every replica held every write before the timeout
	Elapsed   time.Duration // from the first write to the last replica holding all
	// CPU is the process's CPU time over Elapsed: steadier than Elapsed on
	// a shared machine.
	CPU     time.Duration
	Slowest int // documents held by the slowest replica at the end
	Want    int // documents every replica should hold
	// Memory of the whole process, after the engines opened the database
	// (rest) and once the writes converged (or the timeout).
	RSSRest, RSSAfter   uint64 // resident set, bytes (0 where /proc is missing)
	HeapRest, HeapAfter uint64 // Go heap in use, bytes
	// HeapLive is the Go heap in use after a collection, once the writes
	// converged: what the engines hold, without the garbage.
	HeapLive uint64
	// HeapSettled and RSSSettled are measured Settle after convergence,
	// the heap after a collection (0 when Settle is not set); AllocSettled
	// is the bytes of live objects then (HeapSettled less the free space
	// in the heap's spans).
	HeapSettled, RSSSettled, AllocSettled uint64
	// Goroutines at rest and after.
	GoroutinesRest, GoroutinesAfter int
	// Bitswap blocks received and catch-up blocks, summed over replicas.
	BitswapBlocks, CatchupBlocks uint64
	CatchupRuns                  uint64
	// Broadcast messages' bytes received and sent, and heads announced,
	// summed over replicas (at convergence).
	BytesIn, BytesOut, HeadsSent uint64
	// Of HeadsSent: announced on peer joins, and local commits (the
	// rest are go-ds-crdt's rebroadcasts); topic joins seen.
	HeadsOnJoin, Commits, PeerJoins uint64
	HeadsSuppressed                 uint64 // left out of rebroadcasts
	HeadsServed                     uint64 // sent to joiners in heads exchanges
	// Behind describes up to five replicas that did not converge.
	Behind []string
}

// PerEngine returns a per-engine share of n bytes, in MiB.
func (r ScaleResult) PerEngine(n uint64) float64 {
	return float64(n) / float64(r.Engines) / (1 << 20)
}

// String is the result as one line.
func (r ScaleResult) String() string {
	state := "converged"
	if !r.Converged {
		state = fmt.Sprintf("NOT converged (slowest %d of %d; %s)", r.Slowest, r.Want, strings.Join(r.Behind, "; "))
	}
	return fmt.Sprintf("%d engines: %s in %.2fs (CPU %.1fs); RSS %.0f MiB (%.1f MiB/engine, at rest %.1f); heap %.0f MiB (%.1f MiB/engine, at rest %.1f, live after GC %.1f); goroutines %d (at rest %d); blocks: bitswap %d, catch-up %d in %d runs; broadcast: %.0f KiB in and %.0f KiB out per engine, %d heads announced (%d commits, %d on %d joins, %d forwarded or rebroadcast, %d suppressed), %d served in exchanges",
		r.Engines, state, r.Elapsed.Seconds(), r.CPU.Seconds(),
		float64(r.RSSAfter)/(1<<20), r.PerEngine(r.RSSAfter), r.PerEngine(r.RSSRest),
		float64(r.HeapAfter)/(1<<20), r.PerEngine(r.HeapAfter), r.PerEngine(r.HeapRest), r.PerEngine(r.HeapLive),
		r.GoroutinesAfter, r.GoroutinesRest, r.BitswapBlocks, r.CatchupBlocks, r.CatchupRuns,
		float64(r.BytesIn)/float64(r.Engines)/1024, float64(r.BytesOut)/float64(r.Engines)/1024, r.HeadsSent,
		r.Commits, r.HeadsOnJoin, r.PeerJoins, r.HeadsSent-min(r.HeadsSent, r.HeadsOnJoin+r.Commits), r.HeadsSuppressed, r.HeadsServed) + r.settled()
}

func (r ScaleResult) settled() string {
	if r.HeapSettled == 0 {
		return ""
	}
	return fmt.Sprintf("; settled: RSS %.1f MiB/engine, live heap %.1f MiB/engine (objects %.1f)",
		r.PerEngine(r.RSSSettled), r.PerEngine(r.HeapSettled), r.PerEngine(r.AllocSettled))
}

// Scale runs the scale scenario of issue 14: cfg.Engines in-memory
// engines on loopback TCP, each dialling cfg.Degree random others, one
// database open on all, every engine making cfg.Writes single InsertOne
// calls at once, timed until every replica holds all of them. It closes
// every engine before it returns.
func Scale(ctx context.Context, cfg ScaleConfig) (res ScaleResult, err error) {
	if cfg.Engines < 2 || cfg.Writes < 1 || cfg.Degree < 1 {
		return res, fmt.Errorf("benchmarks: scale: need at least 2 engines, 1 write and degree 1 (got %d, %d, %d)", cfg.Engines, cfg.Writes, cfg.Degree)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 3 * time.Minute
	}
	if cfg.MemoryLimit > 0 {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(cfg.MemoryLimit))
	}
	res.Engines = cfg.Engines
	res.Want = cfg.Engines * cfg.Writes

	es := make([]*engine.Engine, 0, cfg.Engines)
	defer func() {
		if cfg.Measured != nil {
			cfg.Measured(res)
		}
		// In parallel: one by one, a few hundred engines on a loaded
		// machine took minutes to close.
		errs := make([]error, len(es))
		var wg sync.WaitGroup
		for i, e := range es {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = e.Close()
			}()
		}
		wg.Wait()
		if cerr := errors.Join(errs...); cerr != nil && err == nil {
			err = fmt.Errorf("benchmarks: scale: close: %w", cerr)
		}
	}()
	for i := 0; i < cfg.Engines; i++ {
		where := engine.WithInMemory()
		if cfg.DataDir != "" {
			where = engine.WithDataDir(filepath.Join(cfg.DataDir, strconv.Itoa(i)))
		}
		e, err := engine.New(ctx, append([]engine.Option{
			where,
			engine.WithListenAddrs("/ip4/127.0.0.1/tcp/0"),
			engine.WithReconnect(false),
		}, cfg.Options...)...)
		if err != nil {
			return res, fmt.Errorf("benchmarks: scale: engine %d: %w", i, err)
		}
		es = append(es, e)
	}

	// Each engine dials Degree random others; links are undirected.
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 0))
	links := make([][]int, cfg.Engines)
	for i := range es {
		for _, j := range rng.Perm(cfg.Engines)[:min(cfg.Degree+1, cfg.Engines)] {
			if j == i || len(links[i]) >= cfg.Degree {
				continue
			}
			if err := es[i].Connect(ctx, peer.AddrInfo{ID: es[j].ID(), Addrs: es[j].Host().Addrs()}); err != nil {
				return res, err
			}
			links[i], links[j] = append(links[i], j), append(links[j], i)
		}
	}

	// Open the database breadth first from its creator, so every opener
	// has a neighbour to fetch the manifest from.
	dbs := make([]*engine.Database, cfg.Engines)
	first, err := es[0].Create(ctx, "scale", engine.WithAccess(accesscontrol.Open()))
	if err != nil {
		return res, err
	}
	dbs[0] = first
	queue := []int{0}
	for len(queue) > 0 {
		i := queue[0]
		queue = queue[1:]
		for _, j := range links[i] {
			if dbs[j] != nil {
				continue
			}
			octx, cancel := context.WithTimeout(ctx, time.Minute)
			db, err := es[j].Open(octx, first.Address())
			cancel()
			if err != nil {
				return res, fmt.Errorf("benchmarks: scale: open on engine %d: %w", j, err)
			}
			dbs[j] = db
			queue = append(queue, j)
		}
	}
	for i, db := range dbs {
		if db == nil {
			return res, fmt.Errorf("benchmarks: scale: engine %d is not connected to the others", i)
		}
	}

	runtime.GC()
	res.RSSRest, res.HeapRest, res.GoroutinesRest = rss(), heapInUse(), runtime.NumGoroutine()

	stopCPU := func() {}
	if cfg.ProfileDir != "" {
		if err := os.MkdirAll(cfg.ProfileDir, 0o755); err != nil {
			return res, err
		}
		f, err := os.Create(filepath.Join(cfg.ProfileDir, "cpu.pprof"))
		if err != nil {
			return res, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			_ = f.Close()
			return res, err
		}
		stopCPU = func() { pprof.StopCPUProfile(); _ = f.Close() }
	}
	start, cpuStart := time.Now(), cpuTime()
	werr := make(chan error, cfg.Engines)
	var wg sync.WaitGroup
	for i, db := range dbs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := db.Collection("docs")
			for k := 0; k < cfg.Writes; k++ {
				if _, err := c.InsertOne(ctx, todo(i*cfg.Writes+k)); err != nil {
					werr <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(werr)
	if err := <-werr; err != nil {
		stopCPU()
		return res, fmt.Errorf("benchmarks: scale: write: %w", err)
	}

	deadline := start.Add(cfg.Timeout)
	waiting := make([]int, cfg.Engines)
	for i := range waiting {
		waiting[i] = i
	}
	lastReport := start
	for len(waiting) > 0 && time.Now().Before(deadline) {
		slowest := res.Want
		left := waiting[:0]
		for _, i := range waiting {
			n, err := dbs[i].Collection("docs").CountDocuments(ctx, nil)
			if err != nil {
				stopCPU()
				return res, err
			}
			if int(n) < res.Want {
				left = append(left, i)
				slowest = min(slowest, int(n))
			}
		}
		waiting = left
		res.Slowest = slowest
		if len(waiting) == 0 {
			break
		}
		if cfg.Progress != nil && time.Since(lastReport) >= time.Second {
			cfg.Progress(time.Since(start), slowest, res.Want)
			lastReport = time.Now()
		}
		time.Sleep(20 * time.Millisecond) // a poll interval, not a wait for a condition
	}
	res.Elapsed, res.CPU = time.Since(start), cpuTime()-cpuStart
	res.Converged = len(waiting) == 0
	stopCPU()
	for _, i := range waiting[:min(len(waiting), 5)] {
		n, _ := dbs[i].Collection("docs").CountDocuments(ctx, nil)
		st := dbs[i].Stats()
		res.Behind = append(res.Behind, fmt.Sprintf("replica %d: %d documents, %d peers, %d heads, %d queued, %d heads received, %d dropped, %d fetches failed, catch-up %d runs %d failed %d blocks, %d bitswap blocks, %d pubsub revivals",
			i, n, len(es[i].Host().Network().Peers()), st.Heads, st.QueuedHeads, st.HeadsReceived, st.HeadsDropped, st.FetchFailures,
			st.Catchup.Runs, st.Catchup.Failures, st.Catchup.Blocks, st.BlocksFetched, es[i].PubsubRevivals()))
	}

	res.RSSAfter, res.HeapAfter, res.GoroutinesAfter = rss(), heapInUse(), runtime.NumGoroutine()
	runtime.GC()
	res.HeapLive = heapInUse()
	for _, db := range dbs {
		st := db.Stats()
		res.CatchupBlocks += st.Catchup.Blocks
		res.CatchupRuns += st.Catchup.Runs
		res.BytesIn += st.BytesIn
		res.BytesOut += st.BytesOut
		res.HeadsSent += st.HeadsSent
		res.HeadsOnJoin += st.HeadsSentOnJoin
		res.Commits += st.Commits
		res.PeerJoins += st.PeerJoins
		res.HeadsSuppressed += st.HeadsSuppressed
		res.HeadsServed += st.HeadsServed
	}
	// Bitswap's counters are the engine's, shared by its databases: one
	// database each here.
	for _, db := range dbs {
		res.BitswapBlocks += db.Stats().BlocksFetched
	}
	if cfg.ProfileDir != "" {
		for _, name := range []string{"heap", "goroutine"} {
			if err := writeProfile(filepath.Join(cfg.ProfileDir, name+".pprof"), name); err != nil {
				return res, err
			}
		}
	}
	if cfg.Settle > 0 && res.Converged {
		time.Sleep(cfg.Settle) // a measurement delay: the queues drain meanwhile
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		res.HeapSettled, res.RSSSettled, res.AllocSettled = ms.HeapInuse, rss(), ms.HeapAlloc
		if cfg.ProfileDir != "" {
			if err := writeProfile(filepath.Join(cfg.ProfileDir, "heap-settled.pprof"), "heap"); err != nil {
				return res, err
			}
		}
	}
	return res, nil
}

func writeProfile(path, name string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// rss is the process's resident set in bytes, from /proc (0 elsewhere).
func rss() uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		rest, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmRSS:"))
		if !ok {
			continue
		}
		fields := bytes.Fields(rest)
		if len(fields) == 0 {
			return 0
		}
		kb, err := strconv.ParseUint(string(fields[0]), 10, 64)
		if err != nil {
			return 0
		}
		return kb << 10
	}
	return 0
}
