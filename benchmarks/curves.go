package benchmarks

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// CurveSizes are the X values of the scaling curves. DefaultCurveSizes
// keep a run to a minute or two on a laptop; BigCurveSizes reach the
// issue's scale and take much longer (and gigabytes at 200 engines).
type CurveSizes struct {
	Concurrency []int // callers inserting at once (write rate)
	WritesPer   int   // documents each write-rate point inserts in all
	History     []int // deltas a fresh replica joins (late-join time)
	Peers       []int // engines in one process, each dialling 4 and writing 10 (convergence, memory)
}

// DefaultCurveSizes are the sizes of `lattice bench --plots`.
func DefaultCurveSizes() CurveSizes {
	return CurveSizes{
		Concurrency: []int{1, 2, 4, 8, 16, 32},
		WritesPer:   2000,
		History:     []int{250, 500, 1000, 2000},
		Peers:       []int{4, 8, 16, 32},
	}
}

// BigCurveSizes are the sizes of `lattice bench --plots --big`.
func BigCurveSizes() CurveSizes {
	return CurveSizes{
		Concurrency: []int{1, 2, 4, 8, 16, 32, 64, 128},
		WritesPer:   10000,
		History:     []int{1000, 2000, 5000, 10000, 20000},
		Peers:       []int{10, 25, 50, 100, 200},
	}
}

// Curve names, which are also their plots' file names without ".svg".
const (
	CurveWriteRate   = "write-rate-vs-concurrency"
	CurveLateJoin    = "late-join-vs-history"
	CurveConvergence = "convergence-vs-peers"
	CurveMemory      = "memory-per-engine-vs-peers"
)

// RunCurves measures the scaling curves at sizes, one point after the
// other, calling progress (when set) with a line about each point. A point
// that fails ends the run with its error; the curves measured so far are
// returned with it.
func RunCurves(ctx context.Context, sizes CurveSizes, progress func(string)) ([]Curve, error) {
	say := func(format string, args ...any) {
		if progress != nil {
			progress(fmt.Sprintf(format, args...))
		}
	}
	rate := Curve{Name: CurveWriteRate, Title: "Write rate vs concurrent callers (InsertOne, pebble)",
		XLabel: "callers inserting at once", YLabel: "documents/s",
		Note: fmt.Sprintf("%d InsertOne calls per point on a fresh engine; group commit shares deltas between callers", sizes.WritesPer)}
	join := Curve{Name: CurveLateJoin, Title: "Late join vs history (catch-up stream, loopback)",
		XLabel: "deltas in the history", YLabel: "seconds to hold every document",
		Note: "A fresh replica opens a database of single-document deltas and is timed until it holds them all"}
	conv := Curve{Name: CurveConvergence, Title: "Convergence vs peers (one process, each dialling 4, 10 writes each)",
		XLabel: "engines", YLabel: "seconds to converge",
		Note: "In-memory engines on loopback TCP, every engine writing at once, timed until every replica holds every write"}
	mem := Curve{Name: CurveMemory, Title: "Memory per engine vs peers (live heap after convergence)",
		XLabel: "engines", YLabel: "MiB per engine",
		Note: "The Go heap in use after a collection, once every replica holds every write, divided by the engines"}
	curves := func() []Curve { return []Curve{rate, join, conv, mem} }

	for _, w := range sizes.Concurrency {
		r, err := once(func(b *testing.B) { writeRate(b, w, sizes.WritesPer) }, "docs/s")
		if err != nil {
			return curves(), fmt.Errorf("write rate with %d callers: %w", w, err)
		}
		rate.Points = append(rate.Points, Point{X: float64(w), Y: r})
		say("write rate, %d callers: %.0f docs/s", w, r)
	}
	for _, n := range sizes.History {
		r, err := once(func(b *testing.B) { lateJoin(b, n) }, "s-to-join")
		if err != nil {
			return curves(), fmt.Errorf("late join of %d deltas: %w", n, err)
		}
		join.Points = append(join.Points, Point{X: float64(n), Y: r})
		say("late join, %d deltas: %.2f s", n, r)
	}
	for _, n := range sizes.Peers {
		fresh()
		res, err := Scale(ctx, ScaleConfig{Engines: n, Writes: 10, Degree: 4, Seed: 1, Timeout: 10 * time.Minute})
		if err == nil && !res.Converged {
			err = fmt.Errorf("did not converge: %s", res)
		}
		if err != nil {
			return curves(), fmt.Errorf("convergence of %d engines: %w", n, err)
		}
		conv.Points = append(conv.Points, Point{X: float64(n), Y: res.Elapsed.Seconds()})
		mem.Points = append(mem.Points, Point{X: float64(n), Y: res.PerEngine(res.HeapLive)})
		say("%d engines: converged in %.2f s, %.1f MiB live heap per engine", n, res.Elapsed.Seconds(), res.PerEngine(res.HeapLive))
	}
	return curves(), nil
}

// writeRate inserts n documents from workers callers on a fresh engine
// and reports the rate.
func writeRate(b *testing.B, workers, n int) {
	c := newCollection(b, newEngine(b))
	b.ResetTimer()
	insertConcurrently(b, context.Background(), c, n, workers)
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "docs/s")
}

// once runs bench a single time (benchtime 1x) and returns its metric.
func once(bench func(*testing.B), metric string) (float64, error) {
	benchTimeMu.Lock()
	defer benchTimeMu.Unlock()
	testing.Init()
	prev := flag.Lookup("test.benchtime").Value.String()
	if err := flag.Set("test.benchtime", "1x"); err != nil {
		return 0, fmt.Errorf("benchmarks: set benchtime: %w", err)
	}
	defer func() { _ = flag.Set("test.benchtime", prev) }()
	fresh()
	res := testing.Benchmark(bench)
	v, ok := res.Extra[metric]
	if res.N == 0 || !ok {
		return 0, fmt.Errorf("the benchmark failed (run its scenario under go test to see why)")
	}
	return v, nil
}

// fresh starts a measurement from a collected heap, as a fresh process
// would.
func fresh() {
	runtime.GC()
	debug.FreeOSMemory()
}

// WritePlots writes each curve's SVG plot into dir (made if missing) as
// <name>.svg and returns the paths written.
func WritePlots(dir string, curves []Curve) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var paths []string
	for _, c := range curves {
		p := filepath.Join(dir, c.Name+".svg")
		if err := os.WriteFile(p, c.SVG(), 0o644); err != nil {
			return paths, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}
