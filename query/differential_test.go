package query

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latticedb/lattice/value"
)

// The differential test runs generated filters, updates and sorts through
// this package and through mingo (npm), an independent implementation of
// the MongoDB query language run by node, and compares the answers.
//
//	npm ci --prefix query/testdata/mingo   # once, needs npm
//	go test -run TestDifferentialMingo ./query/
//
// Environment:
//
//	LATTICE_DIFF_CASES=n   number of cases (default 600 with seed 1; when
//	                       set, a fresh seed per run: the long run uses
//	                       e.g. LATTICE_DIFF_CASES=200000)
//	LATTICE_DIFF_SEED=n    replay one run (the seed is printed)
//	CI=true                fail instead of skipping when node or mingo is
//	                       missing
//
// mingo is not MongoDB: where it departs from MongoDB's documented
// semantics the case is either rewritten into an equivalent form mingo
// gets right (mingoFilter) or not compared (mingoDeviates), and each such
// rule says why. Where Lattice departs deliberately, the package doc says
// so under "Differences from MongoDB" and the generator avoids the case.
func TestDifferentialMingo(t *testing.T) {
	dir, err := filepath.Abs(filepath.Join("testdata", "mingo"))
	if err != nil {
		t.Fatal(err)
	}
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(dir, "node_modules", "mingo", "package.json"))
	}
	if err != nil {
		msg := fmt.Sprintf("differential test needs node and mingo (npm ci --prefix query/testdata/mingo): %v", err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	// The short run is the same every time (CI must not flake on a rare
	// case); a long run draws a fresh seed unless one is given.
	seed, n := uint64(1), 600
	if s := os.Getenv("LATTICE_DIFF_CASES"); s != "" {
		if n, err = strconv.Atoi(s); err != nil {
			t.Fatalf("LATTICE_DIFF_CASES: %v", err)
		}
		seed = uint64(time.Now().UnixNano())
	}
	if s := os.Getenv("LATTICE_DIFF_SEED"); s != "" {
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("LATTICE_DIFF_SEED: %v", err)
		}
	}
	t.Logf("differential seed %d, %d cases (replay: LATTICE_DIFF_SEED=%d)", seed, n, seed)
	g := &diffGen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	cases := make([]diffCase, n)
	for i := range cases {
		cases[i] = g.next()
	}
	results := runMingo(t, node, dir, cases)
	stats := map[string]int{}
	failures := 0
	for i, c := range cases {
		if msg := c.compare(results[i], stats); msg != "" {
			failures++
			if failures <= 20 {
				in, _ := json.Marshal(c.mingoInput())
				t.Errorf("case %d (seed %d) diverges: %s\n  case: %s", i, seed, msg, in)
			}
		}
	}
	t.Logf("outcomes: %v", stats)
	if failures > 0 {
		t.Errorf("%d of %d cases diverge (replay: LATTICE_DIFF_SEED=%d)", failures, n, seed)
	}
}

// diffCase is one generated case: a filter over docs, an update of doc[0],
// or a sort of docs.
type diffCase struct {
	kind   string // "filter", "update" or "sort"
	filter map[string]any
	update map[string]any
	sort   []SortKey
	docs   []map[string]any
}

type mingoResult struct {
	Match []bool          `json:"match"`
	Doc   json.RawMessage `json:"doc"`
	Order []int           `json:"order"`
	Error string          `json:"error"`
}

func (c diffCase) mingoInput() map[string]any {
	switch c.kind {
	case "filter":
		f, _ := mingoFilter(c.filter)
		return map[string]any{"kind": "filter", "filter": f, "docs": c.docs}
	case "update":
		return map[string]any{"kind": "update", "update": c.update, "doc": c.docs[0]}
	}
	var spec [][]any
	for _, k := range c.sort {
		spec = append(spec, []any{k.Path, k.Dir})
	}
	return map[string]any{"kind": "sort", "sort": spec, "docs": c.docs}
}

func runMingo(t *testing.T, node, dir string, cases []diffCase) []mingoResult {
	t.Helper()
	var in bytes.Buffer
	enc := json.NewEncoder(&in)
	for _, c := range cases {
		if err := enc.Encode(c.mingoInput()); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(node, filepath.Join(dir, "run.js"))
	cmd.Dir = dir
	cmd.Stdin = &in
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node run.js: %v\n%s", err, stderr.String())
	}
	var res []mingoResult
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var r mingoResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("bad answer from run.js: %v: %s", err, sc.Text())
		}
		res = append(res, r)
	}
	if len(res) != len(cases) {
		t.Fatalf("run.js answered %d of %d cases\n%s", len(res), len(cases), stderr.String())
	}
	return res
}

// compare checks Lattice against mingo's answer r, counting the outcome in
// stats, and describes a divergence ("" when none).
func (c diffCase) compare(r mingoResult, stats map[string]int) string {
	switch c.kind {
	case "filter":
		f, err := ParseFilter(c.filter)
		if err != nil {
			stats["filter: lattice error"]++
			return ""
		}
		if r.Error != "" {
			stats["filter: mingo error"]++
			return ""
		}
		var diffs []string
		for i, d := range c.docs {
			if got := f.Match(d); got != r.Match[i] {
				if why := mingoDeviates(c.filter, d); why != "" {
					stats["filter: mingo deviates: "+why]++
					continue
				}
				b, _ := json.Marshal(d)
				diffs = append(diffs, fmt.Sprintf("doc %s: lattice %v, mingo %v", b, got, r.Match[i]))
			}
		}
		if len(diffs) > 0 {
			return strings.Join(diffs, "; ")
		}
		stats["filter: agree"]++
	case "update":
		u, err := ParseUpdate(c.update)
		if err != nil {
			stats["update: lattice parse error"]++
			return ""
		}
		got, err := u.Apply(c.docs[0], time.Unix(0, 0))
		if err != nil {
			// mingo does nothing where MongoDB fails ($inc on a string,
			// $push on a number, a path through a scalar): not compared.
			stats["update: lattice error"]++
			return ""
		}
		if r.Error != "" {
			return "mingo fails: " + r.Error
		}
		want, err := value.DecodeJSON(r.Doc)
		if err != nil {
			return "bad mingo document: " + err.Error()
		}
		if !value.Equal(got, want) {
			if why := mingoUpdateDeviates(c.update, c.docs[0], got, want); why != "" {
				stats["update: mingo deviates: "+why]++
				return ""
			}
			b, _ := json.Marshal(got)
			return fmt.Sprintf("lattice %s, mingo %s", b, r.Doc)
		}
		stats["update: agree"]++
	case "sort":
		o := &Options{Sort: c.sort}
		out, err := o.Apply(c.docs)
		if err != nil {
			return "lattice sort error: " + err.Error()
		}
		if r.Error != "" {
			stats["sort: mingo error"]++
			return ""
		}
		got := make([]int, len(out))
		for i, d := range out {
			got[i] = int(d["_id"].(int64))
		}
		if !slices.Equal(got, r.Order) {
			if why := mingoSortDeviates(c.sort, c.docs); why != "" {
				stats["sort: mingo deviates: "+why]++
				return ""
			}
			return fmt.Sprintf("order: lattice %v, mingo %v", got, r.Order)
		}
		stats["sort: agree"]++
	}
	return ""
}
