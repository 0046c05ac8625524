package benchmarks

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"
)

// Scenario is one benchmark of the suite. Run is an ordinary benchmark
// function: `go test -bench` runs it through bench_test.go, and Run (the
// package function) runs it through testing.Benchmark for `lattice bench`.
type Scenario struct {
	Name   string           // as in `go test -bench`, without "Benchmark"
	About  string           // what it measures, in a few words
	Bench  func(*testing.B) // the benchmark
	Metric string           // the headline metric it reports
	Goal   float64          // the goal for Metric; 0 when it is a baseline
	Lower  bool             // a lower Metric is better (a duration)
	Slow   bool             // left out of the quick suite
}

// Suite returns the scenarios in the order they run, with the goals of the
// engine foundation issue.
func Suite() []Scenario {
	return []Scenario{
		{Name: "InsertOne", About: "one sequential caller, survives kill -9", Bench: InsertOne, Metric: "docs/s", Goal: 2000},
		{Name: "InsertOneSyncWrites", About: "one sequential caller, fsync per write", Bench: InsertOneSyncWrites, Metric: "docs/s"},
		{Name: "InsertOneConcurrent16", About: "16 concurrent callers", Bench: InsertOneConcurrent16, Metric: "docs/s", Goal: 5000},
		{Name: "InsertMany", About: "batches of 1,000 documents", Bench: InsertMany, Metric: "docs/s", Goal: 50000},
		{Name: "RawCRDTPut", About: "baseline: bare go-ds-crdt Put", Bench: RawCRDTPut, Metric: "docs/s"},
		{Name: "RawCRDTBatch", About: "baseline: bare go-ds-crdt batch", Bench: RawCRDTBatch, Metric: "docs/s"},
		{Name: "UpdateNested", About: "$inc and $set of nested paths, one caller", Bench: UpdateNested, Metric: "docs/s"},
		{Name: "FindByID", About: "over 10,000 documents", Bench: FindByID, Metric: "queries/s", Goal: 100000},
		{Name: "IndexedFind", About: "indexed equality over 100,000 documents", Bench: IndexedFind, Metric: "queries/s", Goal: 20000},
		{Name: "Replicate10k", About: "10,000 writes on A visible on B", Bench: Replicate10k, Metric: "docs/s", Goal: 5000, Slow: true},
		{Name: "LateJoin2k", About: "fresh replica joins a 2,000-delta history (catch-up stream)", Bench: LateJoin2k, Metric: "s-to-join", Lower: true, Goal: 1, Slow: true},
		{Name: "LateJoin2kBitswap", About: "baseline: the same join walked with bitswap", Bench: LateJoin2kBitswap, Metric: "s-to-join", Lower: true, Slow: true},
		{Name: "RestartCatchUp300", About: "replica restarted after missing 300 writes redials and catches up", Bench: RestartCatchUp300, Metric: "s-to-catch-up", Lower: true, Goal: 1, Slow: true},
		{Name: "LateJoin10k", About: "fresh replica joins a 10,000-delta history", Bench: LateJoin10k, Metric: "s-to-join", Lower: true, Slow: true},
		{Name: "Converge5x1000", About: "5 replicas x 1,000 single writes (raw go-ds-crdt: ~56 s)", Bench: Converge5x1000, Metric: "s-to-converge", Lower: true, Slow: true},
	}
}

// layerGoal is the goal for the collection layer's cost: InsertOne's time
// per document at most this many times a raw go-ds-crdt Put's.
const layerGoal = 1.5

// batchGoal is the goal for InsertMany: its time per document at most
// go-ds-crdt's own batch's (issue 26).
const batchGoal = 1.0

// Options select and size a run.
type Options struct {
	// Quick leaves out the slow scenarios and shortens each benchmark.
	Quick bool
	// Filter, when set, keeps the scenarios whose name it matches.
	Filter *regexp.Regexp
	// BenchTime is how long each benchmark runs (default 1 s, 200 ms when
	// Quick).
	BenchTime time.Duration
	// Progress, when set, is called as each scenario starts and ends.
	Progress func(s Scenario, r *Result)
}

// Result is one scenario's outcome.
type Result struct {
	Name        string  `json:"name"`
	About       string  `json:"about"`
	Metric      string  `json:"metric"`
	Value       float64 `json:"value"`
	Goal        float64 `json:"goal,omitempty"`
	Lower       bool    `json:"lowerIsBetter,omitempty"`
	Met         *bool   `json:"met,omitempty"` // nil without a goal
	N           int     `json:"n"`
	NsPerOp     int64   `json:"nsPerOp"`
	BytesPerOp  int64   `json:"bytesPerOp"`
	AllocsPerOp int64   `json:"allocsPerOp"`
	Error       string  `json:"error,omitempty"`
}

// Ratio compares two scenarios' time per operation against a goal.
type Ratio struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Goal  float64 `json:"goal"`
	Met   bool    `json:"met"`
}

// Report is a run of the suite.
type Report struct {
	Date      time.Time `json:"date"`
	GoVersion string    `json:"goVersion"`
	OS        string    `json:"os"`
	Arch      string    `json:"arch"`
	CPUs      int       `json:"cpus"`
	BenchTime string    `json:"benchTime"`
	Quick     bool      `json:"quick"`
	Results   []Result  `json:"results"`
	Ratios    []Ratio   `json:"ratios,omitempty"`
	// Curves are the scaling curves, when the run measured them.
	Curves []Curve `json:"curves,omitempty"`
	// PlotDir is where the curves' SVG plots were written, as the
	// Markdown report links them (relative to the report's file).
	PlotDir string `json:"plotDir,omitempty"`
}

// Missed lists the goals the run missed: scenarios whose result is on the
// wrong side of their goal, and ratios over theirs.
func (r *Report) Missed() []string {
	var out []string
	for _, res := range r.Results {
		if res.Met != nil && !*res.Met {
			out = append(out, fmt.Sprintf("%s: %.4g %s against a goal of %g", res.Name, res.Value, res.Metric, res.Goal))
		}
	}
	for _, q := range r.Ratios {
		if !q.Met {
			out = append(out, fmt.Sprintf("%s: %.2fx against a goal of %.1fx", q.Name, q.Value, q.Goal))
		}
	}
	return out
}

// Table renders the report for a terminal: one aligned row per scenario
// and ratio, with its goal and whether it was met.
func (r *Report) Table() string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tresult\tgoal\t")
	for _, res := range r.Results {
		result, goal := fmt.Sprintf("%.2f %s", res.Value, res.Metric), ""
		if res.Error != "" {
			result = "failed: " + res.Error
		}
		if res.Met != nil {
			cmp := ">="
			if res.Lower {
				cmp = "<="
			}
			goal = fmt.Sprintf("%s %g: %s", cmp, res.Goal, plainVerdict(*res.Met))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t\n", res.Name, result, goal)
	}
	for _, q := range r.Ratios {
		fmt.Fprintf(tw, "%s\t%.2fx\t<= %.1fx: %s\t\n", q.Name, q.Value, q.Goal, plainVerdict(q.Met))
	}
	_ = tw.Flush()
	return b.String()
}

// plainVerdict is verdict for a terminal.
func plainVerdict(met bool) string {
	if met {
		return "met"
	}
	return "MISSED"
}

// Failed reports whether any scenario could not run to the end.
func (r *Report) Failed() bool {
	for _, res := range r.Results {
		if res.Error != "" {
			return true
		}
	}
	return false
}

var benchTimeMu sync.Mutex // testing.Benchmark reads a process-wide flag

// Run runs the selected scenarios one after the other and returns their
// results. A scenario that fails is recorded with an error and the run goes
// on.
func Run(opts Options) (*Report, error) {
	d := opts.BenchTime
	if d <= 0 {
		d = time.Second
		if opts.Quick {
			d = 200 * time.Millisecond
		}
	}
	benchTimeMu.Lock()
	defer benchTimeMu.Unlock()
	// testing.Benchmark takes its duration from the -test.benchtime flag;
	// it is put back afterwards for a caller that is itself a test.
	testing.Init()
	prev := flag.Lookup("test.benchtime").Value.String()
	if err := flag.Set("test.benchtime", d.String()); err != nil {
		return nil, fmt.Errorf("benchmarks: set benchtime: %w", err)
	}
	defer func() { _ = flag.Set("test.benchtime", prev) }()
	rep := &Report{
		Date: time.Now().UTC(), GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH,
		CPUs: runtime.NumCPU(), BenchTime: d.String(), Quick: opts.Quick,
	}
	for _, s := range Suite() {
		if (opts.Quick && s.Slow) || (opts.Filter != nil && !opts.Filter.MatchString(s.Name)) {
			continue
		}
		if opts.Progress != nil {
			opts.Progress(s, nil)
		}
		r := run(s)
		rep.Results = append(rep.Results, r)
		if opts.Progress != nil {
			opts.Progress(s, &r)
		}
	}
	rep.Ratios = ratios(rep.Results)
	return rep, nil
}

func run(s Scenario) Result {
	// Start each scenario from a collected heap, as a fresh process would:
	// the previous scenario's garbage would otherwise be paid for here.
	runtime.GC()
	debug.FreeOSMemory()
	res := testing.Benchmark(s.Bench)
	r := Result{Name: s.Name, About: s.About, Metric: s.Metric, Goal: s.Goal, Lower: s.Lower}
	if res.N == 0 {
		r.Error = fmt.Sprintf("the benchmark failed; see why with: go test -run '^$' -bench '^Benchmark%s$' ./benchmarks/", s.Name)
		return r
	}
	r.N = res.N
	r.NsPerOp = res.NsPerOp()
	r.BytesPerOp = res.AllocedBytesPerOp()
	r.AllocsPerOp = res.AllocsPerOp()
	r.Value = res.Extra[s.Metric]
	if s.Goal > 0 {
		met := r.Value >= s.Goal
		if s.Lower {
			met = r.Value <= s.Goal
		}
		r.Met = &met
	}
	return r
}

// ratios derives the layer-cost comparison when both sides ran.
func ratios(rs []Result) []Ratio {
	byName := make(map[string]Result, len(rs))
	for _, r := range rs {
		byName[r.Name] = r
	}
	var out []Ratio
	// Both sides report docs/s; the ratio is of time per document.
	for _, p := range []struct {
		ours, raw string
		goal      float64
	}{{"InsertOne", "RawCRDTPut", layerGoal}, {"InsertMany", "RawCRDTBatch", batchGoal}} {
		one, raw := byName[p.ours], byName[p.raw]
		if one.Error != "" || raw.Error != "" || one.Value <= 0 || raw.Value <= 0 {
			continue
		}
		v := raw.Value / one.Value
		out = append(out, Ratio{Name: p.ours + " / " + p.raw + " (time per document)", Value: v, Goal: p.goal, Met: v <= p.goal})
	}
	return out
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// Markers delimit the section `lattice bench` owns in a Markdown file: it
// replaces what lies between them and leaves the rest of the file alone.
const (
	BeginMarker = "<!-- lattice bench: begin (generated) -->"
	EndMarker   = "<!-- lattice bench: end -->"
)

// Markdown renders the report as a Markdown section, markers included.
func (r *Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintln(&b, BeginMarker)
	fmt.Fprintf(&b, "### `lattice bench` run of %s\n\n", r.Date.Format("2006-01-02 15:04 MST"))
	suite := "full suite"
	if r.Quick {
		suite = "quick suite"
	}
	fmt.Fprintf(&b, "%s, %s/%s, %d CPUs, %s per benchmark, %s.\n\n", r.GoVersion, r.OS, r.Arch, r.CPUs, r.BenchTime, suite)
	fmt.Fprintln(&b, "| scenario | what | result | goal | ns/op | B/op | allocs/op |")
	fmt.Fprintln(&b, "|---|---|---|---|---|---|---|")
	for _, res := range r.Results {
		if res.Error != "" {
			fmt.Fprintf(&b, "| %s | %s | failed: %s | %s | | | |\n", res.Name, res.About, res.Error, goalText(res))
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %s %s | %s | %d | %d | %d |\n", res.Name, res.About, number(res.Value), res.Metric,
			goalText(res), res.NsPerOp, res.BytesPerOp, res.AllocsPerOp)
	}
	for _, q := range r.Ratios {
		fmt.Fprintf(&b, "\n%s: %.2f× (goal ≤ %.1f×: %s).\n", q.Name, q.Value, q.Goal, verdict(q.Met))
	}
	r.curvesMarkdown(&b)
	fmt.Fprintln(&b, EndMarker)
	return b.String()
}

// curvesMarkdown renders the scaling curves: each one's plot (when
// PlotDir is set) and its points as a table.
func (r *Report) curvesMarkdown(b *strings.Builder) {
	if len(r.Curves) == 0 {
		return
	}
	fmt.Fprintf(b, "\n#### Scaling curves\n")
	for _, c := range r.Curves {
		fmt.Fprintf(b, "\n**%s.** %s.\n\n", c.Title, c.Note)
		if r.PlotDir != "" {
			fmt.Fprintf(b, "![%s](%s/%s.svg)\n\n", c.Title, filepath.ToSlash(r.PlotDir), c.Name)
		}
		fmt.Fprintf(b, "| %s | %s |\n|---|---|\n", c.XLabel, c.YLabel)
		for _, p := range c.Points {
			fmt.Fprintf(b, "| %s | %s |\n", count(p.X), number(p.Y))
		}
	}
}

func goalText(r Result) string {
	if r.Met == nil {
		return ""
	}
	op := "≥"
	if r.Lower {
		op = "≤"
	}
	return fmt.Sprintf("%s %s: %s", op, number(r.Goal), verdict(*r.Met))
}

func verdict(met bool) string {
	if met {
		return "met"
	}
	return "**missed**"
}

// count formats a whole number with thousands separators, and any other
// as number does.
func count(v float64) string {
	if v == math.Trunc(v) && v >= 0 && v < 1e15 {
		return wholeNumber(int64(v))
	}
	return number(v)
}

func wholeNumber(n int64) string {
	s := strconv.FormatInt(n, 10)
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// number formats a metric with thousands separators, keeping two decimals
// below 100.
func number(v float64) string {
	if v < 100 {
		return fmt.Sprintf("%.2f", v)
	}
	s := fmt.Sprintf("%.0f", v)
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// WriteFile writes the report to path: JSON when path ends in ".json";
// otherwise Markdown, replacing the generated section of an existing file
// (or appending one) so that hand-written text around it survives.
func (r *Report) WriteFile(path string) error {
	if strings.HasSuffix(path, ".json") {
		var b bytes.Buffer
		if err := r.WriteJSON(&b); err != nil {
			return err
		}
		return os.WriteFile(path, b.Bytes(), 0o644)
	}
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	return os.WriteFile(path, []byte(MergeSection(string(old), r.Markdown())), 0o644)
}

// MergeSection puts section (which starts with BeginMarker and ends with
// EndMarker) in doc: in place of an existing generated section, or at the
// end. A begin marker without its end marker is an error in the file that
// MergeSection does not guess around: it appends.
func MergeSection(doc, section string) string {
	if i := strings.Index(doc, BeginMarker); i >= 0 {
		if j := strings.Index(doc[i:], EndMarker); j >= 0 {
			end := i + j + len(EndMarker)
			if end < len(doc) && doc[end] == '\n' {
				end++
			}
			return doc[:i] + section + doc[end:]
		}
	}
	if doc != "" && !strings.HasSuffix(doc, "\n\n") {
		if strings.HasSuffix(doc, "\n") {
			doc += "\n"
		} else {
			doc += "\n\n"
		}
	}
	return doc + section
}
