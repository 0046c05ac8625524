package query

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/latticedb/lattice/value"
	"pgregory.net/rapid"
)

// genMixed draws a canonical value of any type class, small enough that
// equal values are frequent: ints and floats that collide (1 and 1.0),
// null, strings, booleans, small arrays and objects.
func genMixed(depth int) *rapid.Generator[any] {
	return rapid.Custom(func(t *rapid.T) any {
		kind := rapid.IntRange(0, 7).Draw(t, "kind")
		if depth <= 0 && kind >= 6 {
			kind = 0
		}
		switch kind {
		case 0:
			return int64(rapid.IntRange(-3, 3).Draw(t, "int"))
		case 1:
			return float64(rapid.IntRange(-6, 6).Draw(t, "half")) / 2
		case 2:
			return nil
		case 3:
			return rapid.SampledFrom([]string{"", "a", "b", "ab", "\x00"}).Draw(t, "str")
		case 4:
			return rapid.Bool().Draw(t, "bool")
		case 5:
			return rapid.SampledFrom([]any{int64(1 << 53), float64(1 << 53), int64(1<<53 + 1), int64(-1 << 63), float64(-1 << 63)}).Draw(t, "big")
		case 6:
			return rapid.SliceOfN(genMixed(depth-1), 0, 3).Draw(t, "arr")
		}
		m := map[string]any{}
		for _, k := range rapid.SliceOfNDistinct(rapid.SampledFrom([]string{"a", "b", "c"}), 0, 2, rapid.ID).Draw(t, "keys") {
			m[k] = genMixed(depth-1).Draw(t, "v")
		}
		return m
	})
}

// TestInHashedMatchesLinear checks that the hashed set $in uses for large
// lists answers exactly as comparing with each member does: type
// bracketing, int/float equality, null and missing, arrays and objects.
func TestInHashedMatchesLinear(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		members := rapid.SliceOfN(genMixed(2), inHashMin, 3*inHashMin).Draw(t, "members")
		hashed := inFunc(members, nil)
		for _, v := range append(rapid.SliceOfN(genMixed(2), 1, 10).Draw(t, "probes"), value.Missing) {
			want := slices.ContainsFunc(members, func(x any) bool { return value.Equal(v, x) })
			if got := hashed(v); got != want {
				t.Fatalf("$in %v on %#v: hashed %v, linear %v", members, v, got, want)
			}
		}
	})
}

// TestInLargeMatchesFilter runs a large $in and $nin through ParseFilter
// on array and missing fields.
func TestInLargeMatchesFilter(t *testing.T) {
	in := `[0,1,2,3,4,5,6,7,8,null,"x",[1,2],{"a":1}]`
	for _, tc := range []struct {
		doc       string
		in, notIn bool
	}{
		{`{"a":7.0}`, true, false},
		{`{"a":9}`, false, true},
		{`{}`, true, false},
		{`{"a":[9,"x"]}`, true, false},
		{`{"a":[1,2]}`, true, false},
		{`{"a":[[1,2]]}`, true, false},
		{`{"a":{"a":1.0}}`, true, false},
		{`{"a":"7"}`, false, true},
		{`{"a":[]}`, false, true},
	} {
		for op, want := range map[string]bool{"$in": tc.in, "$nin": tc.notIn} {
			f, err := ParseFilter(obj(t, `{"a":{"`+op+`":`+in+`}}`))
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Match(obj(t, tc.doc)); got != want {
				t.Errorf("%s on %s: got %v, want %v", op, tc.doc, got, want)
			}
		}
	}
}

func TestSortKeyCap(t *testing.T) {
	var opts []Option
	for i := range MaxSortKeys {
		opts = append(opts, Sort(fmt.Sprintf("k%d", i), 1))
	}
	if _, err := NewOptions(opts...); err != nil {
		t.Fatalf("%d sort keys: %v", MaxSortKeys, err)
	}
	_, err := NewOptions(append(opts, Sort("one.too.many", -1))...)
	checkErr(t, err, ErrBadOption, "sort has 33 keys", "at most 32")
	_, err = (&Options{Sort: make([]SortKey, 2000)}).Apply(nil)
	checkErr(t, err, ErrBadOption, "2000 keys")
}

func TestSortMemoryBound(t *testing.T) {
	in := make([]map[string]any, 100)
	for i := range in {
		in[i] = map[string]any{"_id": int64(i), "a": int64(i % 7)}
	}
	per := sortEntryBytes(1)
	// Without a limit every document's keys are held: refused past the bound.
	o, err := NewOptions(Sort("a", 1), MaxSortBytes(50*per))
	if err != nil {
		t.Fatal(err)
	}
	_, err = o.Apply(in)
	checkErr(t, err, ErrSortTooLarge, "100 documents", "add a limit")
	// With skip+limit within the bound a top-k sort needs no more.
	o, err = NewOptions(Sort("a", 1), Skip(5), Limit(10), MaxSortBytes(50*per))
	if err != nil {
		t.Fatal(err)
	}
	out, err := o.Apply(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 10 {
		t.Fatalf("got %d documents", len(out))
	}
	_, err = NewOptions(MaxSortBytes(-1))
	checkErr(t, err, ErrBadOption, "max sort bytes")
	_, err = NewOptions(MaxTime(-1))
	checkErr(t, err, ErrBadOption, "max time")
	if !errors.Is(err, ErrBadOption) {
		t.Fatal(err)
	}
}

// TestTopKMatchesFullSort checks that the heap used with a limit returns
// exactly what a stable full sort followed by skip and limit returns.
func TestTopKMatchesFullSort(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(0, 40).Draw(t, "n")
		docs := make([]map[string]any, n)
		for i := range docs {
			d := map[string]any{"_id": int64(i)}
			for _, k := range []string{"a", "b"} {
				if rapid.Bool().Draw(t, "has") {
					d[k] = genMixed(1).Draw(t, k)
				}
			}
			docs[i] = d
		}
		var spec []SortKey
		for _, k := range rapid.SliceOfNDistinct(rapid.SampledFrom([]string{"a", "b", "a.a"}), 1, 3, rapid.ID).Draw(t, "keys") {
			spec = append(spec, SortKey{k, rapid.SampledFrom([]int{1, -1}).Draw(t, "dir")})
		}
		skip := int64(rapid.IntRange(0, 10).Draw(t, "skip"))
		limit := int64(rapid.IntRange(1, 10).Draw(t, "limit"))
		got, err := (&Options{Sort: spec, Skip: skip, Limit: limit}).Apply(docs)
		if err != nil {
			t.Fatal(err)
		}
		full, err := (&Options{Sort: spec}).Apply(docs)
		if err != nil {
			t.Fatal(err)
		}
		want := full[min(skip, int64(len(full))):]
		want = want[:min(limit, int64(len(want)))]
		if !slices.Equal(ids(got), ids(want)) {
			t.Fatalf("sort %v skip %d limit %d: top-k %v, full sort %v", spec, skip, limit, ids(got), ids(want))
		}
	})
}
