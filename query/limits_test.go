package query

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latticedb/lattice/value"
)

// An update over MaxUpdateOps operations is refused by name before any
// other work (a $set of 100k fields pinned a core for minutes in conflict
// checking before it reached the write path).
func TestUpdateOpsLimit(t *testing.T) {
	fields := map[string]any{}
	for i := range MaxUpdateOps + 1 {
		fields[fmt.Sprintf("f%d", i)] = int64(i)
	}
	_, err := ParseUpdate(map[string]any{"$set": fields})
	checkErr(t, err, ErrLimit, "MaxUpdateOps", fmt.Sprint(MaxUpdateOps+1))

	delete(fields, "f0")
	if _, err := ParseUpdate(map[string]any{"$set": fields}); err != nil {
		t.Fatalf("an update of exactly MaxUpdateOps operations: %v", err)
	}
	// Operations are counted over all operators.
	_, err = ParseUpdate(map[string]any{"$set": fields, "$inc": map[string]any{"n": int64(1)}})
	checkErr(t, err, ErrLimit, "MaxUpdateOps")
}

// A $push or $addToSet $each over MaxEachItems elements is refused by name.
func TestEachLimit(t *testing.T) {
	items := make([]any, MaxEachItems+1)
	for i := range items {
		items[i] = int64(i)
	}
	for _, op := range []string{"$addToSet", "$push"} {
		_, err := ParseUpdate(map[string]any{op: map[string]any{"tags": map[string]any{"$each": items}}})
		checkErr(t, err, ErrLimit, op, "MaxEachItems", `"tags"`)
	}
	if _, err := ParseUpdate(map[string]any{"$addToSet": map[string]any{"tags": map[string]any{"$each": items[:MaxEachItems]}}}); err != nil {
		t.Fatal(err)
	}
}

// The linear conflict check finds exactly the conflicts of the pairwise
// definition, on paths chosen to sort between a path and its children
// ("a-b" sorts between "a" and "a.b").
func TestConflictsMatchPairwise(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	parts := []string{"a", "b", "a-", "a0", "ab"}
	for range 2000 {
		var ops []*updateOp
		for range 1 + rng.IntN(5) {
			var p []string
			for range 1 + rng.IntN(3) {
				p = append(p, parts[rng.IntN(len(parts))])
			}
			ops = append(ops, &updateOp{Op: Op{Operator: "$set", Path: strings.Join(p, ".")}})
		}
		want := false
		for i := range ops {
			for j := i + 1; j < len(ops); j++ {
				want = want || conflict(ops[i].Path, ops[j].Path)
			}
		}
		err := checkConflicts(ops)
		if got := err != nil; got != want {
			paths := []string{}
			for _, o := range ops {
				paths = append(paths, o.Path)
			}
			t.Fatalf("paths %q: conflict %v, want %v (%v)", paths, got, want, err)
		}
		if err != nil && !errors.Is(err, ErrConflict) {
			t.Fatal(err)
		}
	}
}

// $addToSet by hashing gives what the pairwise definition gives: items
// equal (by Equal: 1 and 1.0, objects in any key order) to an element or
// to an earlier item are not added.
func TestAddToSetMatchesPairwise(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	pool := []any{int64(1), float64(1), float64(1.5), "1", nil, true, false, []any{}, []any{int64(1)},
		[]any{float64(1)}, map[string]any{"a": int64(1), "b": "x"}, map[string]any{"b": "x", "a": float64(1)},
		map[string]any{}, "", int64(1) << 60, int64(1)<<60 + 1}
	pick := func() []any {
		out := make([]any, rng.IntN(6))
		for i := range out {
			out[i] = pool[rng.IntN(len(pool))]
		}
		return out
	}
	for range 5000 {
		arr, items := pick(), pick()
		want := slices.Clone(arr)
		for _, it := range items {
			if !slices.ContainsFunc(want, func(e any) bool { return value.Equal(e, it) }) {
				want = append(want, it)
			}
		}
		o := &updateOp{Op: Op{Operator: "$addToSet"}, items: items}
		got := o.addToSet(slices.Clone(arr))
		if !value.Equal(got, want) || len(got) != len(want) {
			t.Fatalf("$addToSet %v to %v: got %v, want %v", items, arr, got, want)
		}
	}
}

// A $regex pattern over MaxRegexLength bytes, or one whose program is over
// MaxRegexProgram instructions, is refused by name, in filters, $in lists
// and $pull conditions.
func TestRegexSizeLimits(t *testing.T) {
	long := strings.Repeat("a", MaxRegexLength+1)
	_, err := ParseFilter(map[string]any{"s": map[string]any{"$regex": long}})
	checkErr(t, err, ErrLimit, "MaxRegexLength", `"s"`)
	_, err = ParseFilter(map[string]any{"s": map[string]any{"$in": []any{map[string]any{"$regex": long}}}})
	checkErr(t, err, ErrLimit, "MaxRegexLength")
	_, err = ParseUpdate(map[string]any{"$pull": map[string]any{"s": map[string]any{"$regex": long}}})
	checkErr(t, err, ErrLimit, "MaxRegexLength")

	// 36 bytes, about 6,000 instructions.
	big := "[a-z]{1,1000}[0-9]{1,1000}[a-z]{1,1000}"
	_, err = ParseFilter(map[string]any{"s": map[string]any{"$regex": big}})
	checkErr(t, err, ErrLimit, "MaxRegexProgram", "instructions")

	if _, err := ParseFilter(map[string]any{"s": map[string]any{"$regex": "^ab+c$", "$options": "i"}}); err != nil {
		t.Fatal(err)
	}
}

// A match metered through the reader (a subject too large to run
// unmetered) answers as the direct match does, anchors, word boundaries,
// multi-line mode and invalid UTF-8 included.
func TestMeteredRegexMatchesDirect(t *testing.T) {
	pats := []string{"foo", "^foo", "foo$", `\bfoo\b`, "(?m)^foo$", "(?s)a.*z", "[α-ω]+x", `\Bo`, "^$", "a{3,}b", "(?i)FOO\\d"}
	subjects := []string{"", "foo", "xfoo", "foo\nbar", "bar\nfoo\n", "a\xffz", "αβγx", "aaab", "FOO7", "go foo."}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		var b strings.Builder
		for range rng.IntN(200) {
			b.WriteString([]string{"f", "o", "a", "b", "z", " ", "\n", "α", "\xff", "FOO1"}[rng.IntN(10)])
		}
		subjects = append(subjects, b.String())
	}
	for _, p := range pats {
		r, err := compilePattern(p, p, "s", newMeter(nil))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range subjects {
			mr := &meteredReader{s: s, r: r}
			if got, want := r.re.MatchReader(mr), r.re.MatchString(s); got != want {
				t.Errorf("%q on %q: metered %v, direct %v", p, s, got, want)
			}
		}
	}
}

// pathological is a pattern and subject whose unmetered match runs for
// seconds: a program of ~850 instructions, all live, over 256 KiB.
func pathological() (string, string) {
	return "(a{1,20}){1,20}c", strings.Repeat("a", 256<<10)
}

// A long match stops when its filter's work budget runs out, and the
// filter says why; with a budget it stays within, it answers.
func TestRegexWorkBudget(t *testing.T) {
	pat, s := pathological()
	f, err := ParseFilter(map[string]any{"s": map[string]any{"$regex": pat}}, RegexWork(10<<20))
	if err != nil {
		t.Fatal(err)
	}
	if f.Match(map[string]any{"s": s}) {
		t.Fatal("a match stopped by its budget matched")
	}
	checkErr(t, f.Err(), ErrLimit, "RegexWork")
	// Once stopped, it stays stopped, even for cheap matches.
	if f.Match(map[string]any{"s": "ac"}) {
		t.Fatal("a stopped filter matched")
	}

	g, err := ParseFilter(map[string]any{"s": map[string]any{"$regex": "a+c$"}}, RegexWork(10<<20))
	if err != nil {
		t.Fatal(err)
	}
	if !g.Match(map[string]any{"s": strings.Repeat("a", 100<<10) + "c"}) || g.Err() != nil {
		t.Fatalf("a match within budget: %v", g.Err())
	}
}

// A long match polls its Interrupt and stops when it fails, however large
// the one string it runs on; $pull conditions in updates do too.
func TestRegexInterrupt(t *testing.T) {
	pat, s := pathological()
	stop := errors.New("deadline")
	polls := 0
	interrupt := func() error {
		polls++
		if polls > 3 {
			return stop
		}
		return nil
	}
	f, err := ParseFilter(map[string]any{"s": map[string]any{"$regex": pat}}, RegexWork(0), Interrupt(interrupt))
	if err != nil {
		t.Fatal(err)
	}
	if f.Match(map[string]any{"s": s}) {
		t.Fatal("an interrupted match matched")
	}
	if !errors.Is(f.Err(), stop) || polls != 4 {
		t.Fatalf("Err %v after %d polls", f.Err(), polls)
	}

	u, err := ParseUpdate(map[string]any{"$pull": map[string]any{"l": map[string]any{"$regex": pat}}}, RegexWork(10<<20))
	if err != nil {
		t.Fatal(err)
	}
	_, err = u.Apply(map[string]any{"l": []any{s}}, time.Time{})
	checkErr(t, err, ErrLimit, "$pull", `"l"`)
}

// Many small matches, each too small to be metered, poll the interrupt
// too, without spending the work budget.
func TestRegexInterruptSmallMatches(t *testing.T) {
	stop := errors.New("deadline")
	polls := 0
	interrupt := func() error {
		if polls++; polls > 1 {
			return stop
		}
		return nil
	}
	f, err := ParseFilter(map[string]any{"s": map[string]any{"$regex": "b+c"}}, RegexWork(1), Interrupt(interrupt))
	if err != nil {
		t.Fatal(err)
	}
	doc := map[string]any{"s": strings.Repeat("a", 1000) + "bc"}
	n := 0
	for f.Err() == nil && n < 1_000_000 {
		if !f.Match(doc) && f.Err() == nil {
			t.Fatal("a small match failed")
		}
		n++
	}
	if !errors.Is(f.Err(), stop) || polls != 2 {
		t.Fatalf("after %d matches: Err %v, %d polls", n, f.Err(), polls)
	}
}

// BenchmarkAddToSetEach adds MaxEachItems elements, half of them new, to
// a set of 10,000: linear by hashing (it was a pairwise scan).
func BenchmarkAddToSetEach(b *testing.B) {
	arr := make([]any, 10000)
	for i := range arr {
		arr[i] = fmt.Sprintf("e%d", i)
	}
	items := make([]any, MaxEachItems)
	for i := range items {
		items[i] = fmt.Sprintf("e%d", 2*i+9000)
	}
	u, err := ParseUpdate(map[string]any{"$addToSet": map[string]any{"s": map[string]any{"$each": items}}})
	if err != nil {
		b.Fatal(err)
	}
	doc := map[string]any{"s": arr}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := u.Apply(doc, time.Time{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseUpdateWide parses a $set of MaxUpdateOps nested fields:
// the conflict check is linear (it was pairwise).
func BenchmarkParseUpdateWide(b *testing.B) {
	fields := map[string]any{}
	for i := range MaxUpdateOps {
		fields[fmt.Sprintf("a.f%d", i)] = int64(i)
	}
	u := map[string]any{"$set": fields}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseUpdate(u); err != nil {
			b.Fatal(err)
		}
	}
}
