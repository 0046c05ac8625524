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
)

// The differential test runs generated filters, updates and sorts through
// this package and through mingo (npm), an independent implementation of
// the MongoDB query language run by node, and compares the answers.
//
//	npm ci --prefix engine/query/testdata/mingo   # once, needs npm
//	go test -run TestDifferentialMingo ./engine/query/
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
		msg := fmt.Sprintf("differential test needs node and mingo (npm ci --prefix engine/query/testdata/mingo): %v", err)
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
		want, err := DecodeJSON(r.Doc)
		if err != nil {
			return "bad mingo document: " + err.Error()
		}
		if !Equal(got, want) {
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

// mingoFilter rewrites a filter for mingo, replacing constructs mingo
// answers unlike MongoDB with equivalent ones it answers right. It reports
// false when a rewrite would collide with an operator already present (the
// case is then sent as it is and a divergence is not counted).
//
// MongoDB brackets comparisons by type and null is the only value of its
// bracket (a missing field compares as null), so {$gte: null} and
// {$lte: null} mean {$eq: null} and {$gt: null} and {$lt: null} match
// nothing ({$in: []}); mingo 7.2.7 does not let $gte/$lte null match a
// missing field.
func mingoFilter(v any) (any, bool) {
	clean := true
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			if e == nil {
				nk, ne := k, e
				switch k {
				case "$gte", "$lte":
					nk = "$eq"
				case "$gt", "$lt":
					nk, ne = "$in", []any{}
				}
				if _, taken := x[nk]; nk != k && !taken {
					k, e = nk, ne
				} else if nk != k {
					clean = false
				}
			}
			r, ok := mingoFilter(e)
			clean = clean && ok
			out[k] = r
		}
		return out, clean
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			r, ok := mingoFilter(e)
			clean = clean && ok
			out[i] = r
		}
		return out, clean
	}
	return v, true
}

// mingoDeviates names a known mingo departure from MongoDB that explains a
// filter divergence on doc, or returns "". Each rule is a difference seen
// in this test and checked against MongoDB's documented semantics.
func mingoDeviates(filter map[string]any, doc map[string]any) string {
	if _, clean := mingoFilter(filter); !clean {
		return "null comparison not rewritable"
	}
	for _, f := range topFields(filter, nil) {
		// MongoDB applies a field name to the elements of one array level
		// only ({"a.y": 1} does not reach {"a": [[{"y": 1}]]}, and
		// {"a": 1} does not match {"a": [[1]]}); mingo descends further.
		if v, ok := doc[f]; ok && hasNestedArray(v) {
			return "arrays nested in arrays on the path"
		}
	}
	var why string
	walkOps(filter, "", func(path, op string, arg any) {
		switch op {
		case "$gt", "$gte", "$lt", "$lte":
			// MongoDB orders objects pair by pair, comparing the values'
			// types before the field names, and arrays lexicographically
			// ($lt: [true] holds for [-1] and []); mingo does neither.
			switch arg.(type) {
			case map[string]any, []any:
				why = "ordering of objects and arrays"
			}
		case "$eq", "$in", "$nin", "$ne", "$all":
			// mingo makes a path that reaches nothing through an array
			// equal to [] and does not find [] in $in/$nin lists; MongoDB
			// needs an array value equal to [].
			if hasEmptyArray(arg) && why == "" {
				why = "equality with an empty array"
			}
			// MongoDB's $in/$nin match an array field equal to an array
			// member ({$nin: [[0]]} excludes [0]); mingo only tests the
			// field's elements.
			if list, ok := arg.([]any); ok && (op == "$in" || op == "$nin") && slices.ContainsFunc(list, isArray) && why == "" {
				why = "whole-array member of $in/$nin"
			}
		}
		throughArray := false
		if strings.Contains(path, ".") && !strings.HasSuffix(path, elemMarker) {
			v, ok := doc[strings.SplitN(path, ".", 2)[0]]
			throughArray = ok && hasArray(v)
		}
		if why != "" {
			return
		}
		switch {
		case throughArray && (op == "$elemMatch" || op == "$size" || ((op == "$eq" || op == "$ne") && isArray(arg))):
			// MongoDB's $elemMatch and $size need the value at the path to
			// be an array; mingo gathers the values a dotted path reaches
			// through an array into one ({"a.y": {$size: 0}} on [{}],
			// {"a.x": [3]} on [{"x": 3}]).
			why = "values gathered through an array"
		case throughArray && hasNumericAfterField(path):
			// In MongoDB a numeric component indexes only an array met at
			// that point ({"a.x.0": null} holds for [{"x": 3}]); mingo
			// indexes the values gathered so far.
			why = "positional component after an array"
		case throughArray && (arg == nil || op == "$in" || op == "$nin") && hasNull(arg):
			// MongoDB's null matches a path that an element of an array
			// does not reach ({"a.x": null} holds for [true, {"y": 1}]);
			// mingo only looks at the elements that reach it.
			why = "null on a path through an array"
		case op == "$all" && strings.HasSuffix(path, elemMarker):
			// Inside $elemMatch, MongoDB tests $all against each element
			// as a value ({$all: [true]} holds for true); mingo needs an
			// array.
			why = "$all on a value that is not an array"
		case op == "$all":
			// MongoDB's $all is the $and of equalities, so {$all: [""]}
			// matches "" and {$all: [null]} a missing field, and an array
			// member may equal the whole field ({$all: [[null]]} holds for
			// [null]); mingo needs an array and tests only its elements.
			if v, ok := Get(doc, path); !ok || !isArray(v) {
				why = "$all on a value that is not an array"
			} else if list, ok := arg.([]any); ok && slices.ContainsFunc(list, isArray) {
				why = "whole-array member of $all"
			}
		case op == "$elemMatch":
			// MongoDB's $elemMatch with a query only matches object
			// elements; mingo also tests other elements and lets missing
			// fields escape $nin/$ne null.
			if sub, ok := arg.(map[string]any); ok {
				if isOps, _ := operatorDoc(sub, path); !isOps {
					if v, ok := Get(doc, path); ok && hasNonObject(v) {
						why = "$elemMatch query on elements that are not objects"
					} else if hasNull(sub) {
						why = "$elemMatch query with null"
					}
				}
			}
		}
	})
	return why
}

func isArray(v any) bool { _, ok := v.([]any); return ok }

// hasNumericAfterField reports whether path has an array index component
// after a field name.
func hasNumericAfterField(path string) bool {
	parts := strings.Split(path, ".")
	for i, p := range parts {
		if _, ok := arrayIndex(p); ok && i > 0 {
			return true
		}
	}
	return false
}

// hasNull reports whether v is or holds null.
func hasNull(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case []any:
		return slices.ContainsFunc(x, hasNull)
	case map[string]any:
		for _, e := range x {
			if hasNull(e) {
				return true
			}
		}
	}
	return false
}

// hasNonObject reports whether v is an array with an element that is not
// an object.
func hasNonObject(v any) bool {
	arr, ok := v.([]any)
	return ok && slices.ContainsFunc(arr, func(e any) bool { _, ok := e.(map[string]any); return !ok })
}

// elemMarker ends the path walkOps reports for the operators of a value
// $elemMatch, which apply to each element.
const elemMarker = ".$elem"

// walkOps calls fn for each operator of a filter with its path; implicit
// equality is reported as $eq.
func walkOps(f map[string]any, prefix string, fn func(path, op string, arg any)) {
	for k, v := range f {
		if isLogical(k) {
			subs, _ := v.([]any)
			for _, sub := range subs {
				if m, ok := sub.(map[string]any); ok {
					walkOps(m, prefix, fn)
				}
			}
			continue
		}
		path := joinPath(prefix, k)
		m, ok := v.(map[string]any)
		if isOps, _ := operatorDoc(m, path); !ok || !isOps {
			fn(path, "$eq", v)
			continue
		}
		walkExpr(path, m, fn)
	}
}

func walkExpr(path string, m map[string]any, fn func(path, op string, arg any)) {
	for op, arg := range m {
		fn(path, op, arg)
		sub, ok := arg.(map[string]any)
		if !ok {
			continue
		}
		switch op {
		case "$not":
			walkExpr(path, sub, fn)
		case "$elemMatch":
			if isOps, _ := operatorDoc(sub, path); isOps {
				walkExpr(strings.TrimSuffix(path, elemMarker)+elemMarker, sub, fn)
			} else {
				walkOps(sub, path, fn)
			}
		}
	}
}

// hasEmptyArray reports whether v is or holds an empty array.
func hasEmptyArray(v any) bool {
	switch x := v.(type) {
	case []any:
		if len(x) == 0 {
			return true
		}
		return slices.ContainsFunc(x, hasEmptyArray)
	case map[string]any:
		for _, e := range x {
			if hasEmptyArray(e) {
				return true
			}
		}
	}
	return false
}

// topFields lists the first components of the paths a filter names.
func topFields(f map[string]any, out []string) []string {
	for k, v := range f {
		if isLogical(k) {
			subs, _ := v.([]any)
			for _, s := range subs {
				if m, ok := s.(map[string]any); ok {
					out = topFields(m, out)
				}
			}
			continue
		}
		out = append(out, strings.SplitN(k, ".", 2)[0])
	}
	return out
}

// hasNestedArray reports whether v holds an array directly inside an array.
func hasNestedArray(v any) bool {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			if _, ok := e.([]any); ok {
				return true
			}
			if hasNestedArray(e) {
				return true
			}
		}
	case map[string]any:
		for _, e := range x {
			if hasNestedArray(e) {
				return true
			}
		}
	}
	return false
}

// mingoUpdateDeviates names a known mingo departure from MongoDB that
// explains an update divergence, or returns "".
func mingoUpdateDeviates(update, doc map[string]any, lattice, mingo any) string {
	if fields, ok := update["$addToSet"].(map[string]any); ok {
		for path, arg := range fields {
			// MongoDB adds each distinct value of $each once; mingo adds
			// repeated values again.
			if m, ok := arg.(map[string]any); ok {
				if each, ok := m["$each"].([]any); ok && hasDuplicates(each) {
					return "$addToSet $each with repeated values"
				}
			}
			// MongoDB leaves an array's existing elements in place (even
			// repeated ones, as $push leaves them) and appends; mingo
			// de-duplicates the whole array or adds nothing.
			if arr, ok := Get(doc, path); ok {
				if a, ok := arr.([]any); ok && hasDuplicates(a) {
					return "$addToSet on an array holding repeated values"
				}
			}
		}
	}
	for _, op := range []string{"$min", "$max"} {
		fields, _ := update[op].(map[string]any)
		for path, arg := range fields {
			// MongoDB's $min and $max compare whole values in BSON order
			// (any string is below any array, objects compare value types
			// before field names); mingo leaves arrays alone and orders
			// objects by name.
			cur, ok := Get(doc, path)
			if ok && (isArray(cur) || isArray(arg)) {
				return "$min/$max with an array"
			}
			_, curObj := cur.(map[string]any)
			if _, argObj := arg.(map[string]any); ok && curObj && argObj {
				return "$min/$max ordering of objects"
			}
		}
	}
	if fields, ok := update["$push"].(map[string]any); ok {
		for path, arg := range fields {
			m, ok := arg.(map[string]any)
			if !ok {
				continue
			}
			cur, exists := Get(doc, path)
			// MongoDB applies $sort, $slice and $position when $push
			// creates the array; mingo ignores them on a new field.
			if !exists && len(m) > 1 {
				return "$push modifiers on a new field"
			}
			// MongoDB sorts arrays after objects (BSON order); mingo puts
			// them first.
			if m["$sort"] != nil && (hasArray(m["$each"]) || hasArray(cur)) {
				return "$push $sort with array elements"
			}
		}
	}
	if fields, ok := update["$pull"].(map[string]any); ok {
		for path, arg := range fields {
			// MongoDB matches a $pull query ({"x": 1}, also {}) against
			// object elements only; mingo also removes scalars ({"y": null}
			// removes nulls, {} everything).
			cur, _ := Get(doc, path)
			if m, ok := arg.(map[string]any); ok {
				isOps, _ := operatorDoc(m, path)
				if !isOps && hasNonObject(cur) {
					return "$pull query on elements that are not objects"
				}
				// Documented difference (package doc): a $pull operator
				// expression tests each element as one value; MongoDB
				// also tests the elements of an element that is an array.
				if isOps && hasNestedArray(cur) {
					return "documented: $pull expressions do not expand nested arrays"
				}
			} else if hasNestedArray(cur) {
				// MongoDB removes elements equal to a $pull value (no
				// traversal); mingo also removes arrays containing it.
				return "$pull value against array elements"
			}
		}
	}
	return ""
}

// hasDuplicates reports whether two elements of a are Equal.
func hasDuplicates(a []any) bool {
	for i := range a {
		for j := i + 1; j < len(a); j++ {
			if Equal(a[i], a[j]) {
				return true
			}
		}
	}
	return false
}

// mingoSortDeviates names a known mingo departure from MongoDB that
// explains a sort divergence, or returns "".
func mingoSortDeviates(spec []SortKey, docs []map[string]any) string {
	for _, k := range spec {
		for _, d := range docs {
			v, ok := d[strings.SplitN(k.Path, ".", 2)[0]]
			if !ok {
				continue
			}
			// MongoDB sorts by the smallest element of an array for an
			// ascending key and the largest for a descending one, and a
			// path through an array of scalars or an empty array reaches
			// null; mingo 7.2.7 orders arrays otherwise.
			if hasArray(v) {
				return "arrays on a sort path"
			}
			// MongoDB compares objects pair by pair, the values' types
			// before the field names; mingo compares the names first.
			if _, isObj := v.(map[string]any); isObj {
				return "ordering of objects"
			}
		}
	}
	return ""
}

// hasArray reports whether v is or holds an array.
func hasArray(v any) bool {
	switch x := v.(type) {
	case []any:
		return true
	case map[string]any:
		for _, e := range x {
			if hasArray(e) {
				return true
			}
		}
	}
	return false
}

// diffGen generates cases from a seeded source.
type diffGen struct {
	r *rand.Rand
}

func (g *diffGen) pick(n int) int { return g.r.IntN(n) }

func (g *diffGen) chance(p float64) bool { return g.r.Float64() < p }

// scalar returns a scalar of a random type class; numbers collide across
// int and float (1 and 1.0), strings differ in case and length.
func (g *diffGen) scalar() any {
	switch g.pick(6) {
	case 0, 1:
		return int64(g.pick(5) - 1)
	case 2:
		return float64(g.pick(9)-2) / 2
	case 3:
		return []string{"", "a", "ab", "b", "B", "ba"}[g.pick(6)]
	case 4:
		return g.chance(0.5)
	}
	return nil
}

// value returns a scalar, an array or an object (keys x and y, in sorted
// order, so MongoDB's field order and this package's agree).
func (g *diffGen) value(depth int) any {
	switch k := g.pick(10); {
	case depth > 0 && k < 2:
		n := g.pick(4)
		arr := make([]any, n)
		for i := range arr {
			arr[i] = g.value(depth - 1)
		}
		return arr
	case depth > 0 && k < 4:
		m := map[string]any{}
		for _, f := range []string{"x", "y"} {
			if g.chance(0.6) {
				m[f] = g.value(depth - 1)
			}
		}
		return m
	}
	return g.scalar()
}

func (g *diffGen) docs() []map[string]any {
	n := 8 + g.pick(8)
	out := make([]map[string]any, n)
	for i := range out {
		d := map[string]any{"_id": int64(i)}
		for _, f := range []string{"a", "b", "c"} {
			if g.chance(0.75) {
				d[f] = g.value(2)
			}
		}
		out[i] = d
	}
	return out
}

var diffPaths = []string{"a", "a", "b", "b", "c", "a.x", "a.y", "b.x", "a.0", "b.1", "a.x.y", "a.0.x", "a.x.0"}

func (g *diffGen) path() string { return diffPaths[g.pick(len(diffPaths))] }

func (g *diffGen) list(min, max int) []any {
	n := min + g.pick(max-min+1)
	out := make([]any, n)
	for i := range out {
		out[i] = g.value(1)
	}
	return out
}

// opExpr returns an operator expression for one field.
func (g *diffGen) opExpr(depth int) map[string]any {
	m := map[string]any{}
	for range 1 + g.pick(2) {
		switch g.pick(13) {
		case 0:
			m["$eq"] = g.value(1)
		case 1:
			m["$ne"] = g.value(1)
		case 2, 3:
			m[[]string{"$gt", "$gte", "$lt", "$lte"}[g.pick(4)]] = g.value(1)
		case 4:
			if g.chance(0.3) {
				m["$in"] = g.list(inHashMin, inHashMin+6) // the hashed path
			} else {
				m["$in"] = g.list(0, 4)
			}
		case 5:
			m["$nin"] = g.list(0, inHashMin+4)
		case 6:
			m["$all"] = g.list(1, 3)
		case 7:
			m["$exists"] = g.chance(0.5)
		case 8:
			m["$regex"] = []string{"^a", "b$", "a", "^$", "A", "^b.?"}[g.pick(6)]
			if g.chance(0.3) {
				m["$options"] = "i"
			}
		case 9:
			m["$size"] = int64(g.pick(4))
		case 10:
			if depth > 0 {
				sub := g.opExpr(depth - 1)
				delete(sub, "$not")
				m["$not"] = sub
			}
		case 11, 12:
			if depth > 0 {
				if g.chance(0.5) {
					sub := g.opExpr(0)
					delete(sub, "$exists") // $elemMatch on values takes no $exists in MongoDB
					delete(sub, "$size")
					if len(sub) > 0 {
						m["$elemMatch"] = sub
					}
				} else {
					m["$elemMatch"] = map[string]any{[]string{"x", "y"}[g.pick(2)]: g.cond(0)}
				}
			}
		}
	}
	if len(m) == 0 {
		m["$eq"] = g.value(1)
	}
	return m
}

// cond returns a field condition: a value (implicit equality) or an
// operator expression.
func (g *diffGen) cond(depth int) any {
	if g.chance(0.3) {
		v := g.value(1)
		if _, ok := v.(map[string]any); ok && g.chance(0.5) {
			return g.scalar()
		}
		return v
	}
	return g.opExpr(depth)
}

func (g *diffGen) filter(depth int) map[string]any {
	f := map[string]any{}
	for range 1 + g.pick(2) {
		if depth > 0 && g.chance(0.2) {
			op := []string{"$and", "$or", "$nor"}[g.pick(3)]
			var subs []any
			for range 1 + g.pick(3) {
				subs = append(subs, g.filter(depth-1))
			}
			f[op] = subs
			continue
		}
		f[g.path()] = g.cond(1)
	}
	return f
}

var diffUpdatePaths = []string{"a", "b", "c", "d", "a.x", "b.x", "a.0", "b.1", "e.f"}

func (g *diffGen) update() map[string]any {
	u := map[string]any{}
	var used []string
	free := func(p string) bool {
		for _, q := range used {
			if conflict(p, q) {
				return false
			}
		}
		return true
	}
	for range 1 + g.pick(3) {
		p := diffUpdatePaths[g.pick(len(diffUpdatePaths))]
		if !free(p) {
			continue
		}
		op, arg := g.updateOp()
		if op == "$rename" {
			target := []string{"z", "b", "e.g", "c"}[g.pick(4)]
			if !free(target) || conflict(p, target) {
				continue
			}
			used = append(used, target)
			arg = target
		}
		used = append(used, p)
		fields, _ := u[op].(map[string]any)
		if fields == nil {
			fields = map[string]any{}
			u[op] = fields
		}
		fields[p] = arg
	}
	if len(u) == 0 {
		u["$set"] = map[string]any{"d": g.value(1)}
	}
	return u
}

func (g *diffGen) updateOp() (string, any) {
	switch g.pick(11) {
	case 0:
		return "$set", g.value(2)
	case 1:
		return "$unset", ""
	case 2:
		return "$inc", g.scalarNumber()
	case 3:
		return "$mul", g.scalarNumber()
	case 4:
		return []string{"$min", "$max"}[g.pick(2)], g.value(1)
	case 5:
		return "$rename", ""
	case 6, 7:
		if g.chance(0.5) {
			return "$push", g.value(1)
		}
		m := map[string]any{"$each": g.list(0, 3)}
		if g.chance(0.3) {
			m["$position"] = int64(g.pick(5) - 2)
		}
		if g.chance(0.3) {
			m["$slice"] = int64(g.pick(7) - 3)
		}
		if g.chance(0.3) {
			m["$sort"] = int64([]int{1, -1}[g.pick(2)])
		}
		return "$push", m
	case 8:
		switch g.pick(3) {
		case 0:
			return "$pull", g.value(1)
		case 1:
			return "$pull", map[string]any{[]string{"$gte", "$lt", "$eq", "$ne", "$in"}[g.pick(5)]: g.scalar()}
		}
		return "$pull", map[string]any{[]string{"x", "y"}[g.pick(2)]: g.scalar()}
	}
	if g.chance(0.5) {
		return "$addToSet", g.value(1)
	}
	return "$addToSet", map[string]any{"$each": g.list(0, 4)}
}

func (g *diffGen) scalarNumber() any {
	if g.chance(0.5) {
		return int64(g.pick(7) - 3)
	}
	return float64(g.pick(9)-4) / 2
}

func (g *diffGen) next() diffCase {
	docs := g.docs()
	switch k := g.pick(10); {
	case k < 6:
		return diffCase{kind: "filter", filter: g.filter(2), docs: docs}
	case k < 9:
		d := docs[g.pick(len(docs))]
		if g.chance(0.3) { // arrays with duplicates, as $push leaves them
			d["a"] = []any{int64(1), int64(1), "a", int64(1), nil, nil}
		}
		return diffCase{kind: "update", update: g.update(), docs: []map[string]any{d}}
	}
	var spec []SortKey
	for _, p := range []string{"a", "b", "a.x", "c"} {
		if len(spec) < 2 && g.chance(0.4) {
			spec = append(spec, SortKey{p, []int{1, -1}[g.pick(2)]})
		}
	}
	if len(spec) == 0 {
		spec = []SortKey{{"a", 1}}
	}
	spec = append(spec, SortKey{"_id", 1}) // a total order: no ties to break
	return diffCase{kind: "sort", sort: spec, docs: docs}
}
