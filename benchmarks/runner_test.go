package benchmarks

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/internal/leaktest"
)

func TestMain(m *testing.M) {
	leaktest.VerifyTestMain(m)
}

func TestMergeSection(t *testing.T) {
	section := BeginMarker + "\nnew\n" + EndMarker + "\n"
	for _, tc := range []struct{ name, doc, want string }{
		{"empty file", "", section},
		{"no section yet", "# Title\n\ntext\n", "# Title\n\ntext\n\n" + section},
		{"no final newline", "text", "text\n\n" + section},
		{"replaces the section, keeps the rest", "a\n\n" + BeginMarker + "\nold\nlines\n" + EndMarker + "\n\nb\n", "a\n\n" + section + "\nb\n"},
		{"begin without end: appends", "a\n" + BeginMarker + "\nold\n", "a\n" + BeginMarker + "\nold\n\n" + section},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, MergeSection(tc.doc, section))
		})
	}
}

func TestNumber(t *testing.T) {
	require.Equal(t, "4.32", number(4.3211))
	require.Equal(t, "999", number(999))
	require.Equal(t, "1,000", number(1000))
	require.Equal(t, "1,234,568", number(1234567.8))
}

// A real scenario through the runner: its metric is read, judged against
// its goal, and written into an existing Markdown file without touching
// the hand-written text around the generated section.
func TestRunWritesReport(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a benchmark")
	}
	var started, ended []string
	rep, err := Run(Options{
		Quick: true, Filter: regexp.MustCompile(`^FindByID$`), BenchTime: 50 * time.Millisecond,
		Progress: func(s Scenario, r *Result) {
			if r == nil {
				started = append(started, s.Name)
			} else {
				ended = append(ended, s.Name)
			}
		},
	})
	require.NoError(t, err)
	require.Equal(t, []string{"FindByID"}, started)
	require.Equal(t, []string{"FindByID"}, ended)
	require.Len(t, rep.Results, 1)
	r := rep.Results[0]
	require.Empty(t, r.Error)
	require.Positive(t, r.N)
	require.Positive(t, r.Value, "the scenario's queries/s metric")
	require.InDelta(t, 1e9/float64(r.NsPerOp), r.Value, r.Value*0.5, "queries/s and ns/op describe the same run")
	require.NotNil(t, r.Met)
	require.Equal(t, r.Value >= 100000, *r.Met)
	require.Empty(t, rep.Ratios, "no layer ratio without both InsertOne and RawCRDTPut")
	require.False(t, rep.Failed())

	dir := t.TempDir()
	md := filepath.Join(dir, "BENCHMARKS.md")
	require.NoError(t, os.WriteFile(md, []byte("# Benchmarks\n\nanalysis\n"), 0o644))
	require.NoError(t, rep.WriteFile(md))
	require.NoError(t, rep.WriteFile(md)) // a second run replaces, not appends
	b, err := os.ReadFile(md)
	require.NoError(t, err)
	doc := string(b)
	require.True(t, strings.HasPrefix(doc, "# Benchmarks\n\nanalysis\n\n"+BeginMarker))
	require.Equal(t, 1, strings.Count(doc, BeginMarker))
	require.Contains(t, doc, "| FindByID | over 10,000 documents | "+number(r.Value)+" queries/s | ≥ 100,000: ")

	js := filepath.Join(dir, "bench.json")
	require.NoError(t, rep.WriteFile(js))
	b, err = os.ReadFile(js)
	require.NoError(t, err)
	var back Report
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, rep.Results[0].Value, back.Results[0].Value)
}

// A scenario that fails is reported, not fatal to the run.
func TestRunRecordsFailure(t *testing.T) {
	r := run(Scenario{Name: "Broken", Metric: "docs/s", Goal: 1, Bench: func(b *testing.B) { b.Fatal("no disk") }})
	require.Contains(t, r.Error, "^BenchmarkBroken$")
	require.Nil(t, r.Met)
}

// The goals --check enforces: a scenario on the wrong side of its goal
// (higher or lower is better), and the ratios of time per document against
// go-ds-crdt (InsertOne <= 1.5x a Put, InsertMany <= 1.0x its batch).
func TestMissedGoals(t *testing.T) {
	met, missed := true, false
	rs := []Result{
		{Name: "InsertOne", Metric: "docs/s", Value: 1000, Goal: 2000, Met: &missed},
		{Name: "RawCRDTPut", Metric: "docs/s", Value: 2000},
		{Name: "InsertMany", Metric: "docs/s", Value: 60000, Goal: 50000, Met: &met},
		{Name: "RawCRDTBatch", Metric: "docs/s", Value: 50000},
		{Name: "LateJoin2k", Metric: "s-to-join", Value: 1.5, Goal: 1, Lower: true, Met: &missed},
	}
	rep := Report{Results: rs, Ratios: ratios(rs)}
	require.Len(t, rep.Ratios, 2)
	require.Equal(t, "InsertOne / RawCRDTPut (time per document)", rep.Ratios[0].Name)
	require.InDelta(t, 2.0, rep.Ratios[0].Value, 1e-9)
	require.False(t, rep.Ratios[0].Met)
	require.InDelta(t, 50000.0/60000, rep.Ratios[1].Value, 1e-9)
	require.True(t, rep.Ratios[1].Met)
	require.Equal(t, []string{
		"InsertOne: 1000 docs/s against a goal of 2000",
		"LateJoin2k: 1.5 s-to-join against a goal of 1",
		"InsertOne / RawCRDTPut (time per document): 2.00x against a goal of 1.5x",
	}, rep.Missed())

	// A side that failed gives no ratio rather than a wrong one.
	rs[3] = Result{Name: "RawCRDTBatch", Error: "failed"}
	require.Len(t, ratios(rs), 1)
	one := Report{Results: rs[2:3], Ratios: ratios(rs[2:3])}
	require.Empty(t, one.Missed())
}
