package query

import (
	"bytes"
	"math/rand"
	"reflect"
	"testing"

	"github.com/latticedb/lattice/internal/valuetest"
	"github.com/latticedb/lattice/value"
)

func TestBounds(t *testing.T) {
	tests := []struct {
		filter string
		path   string
		ok     bool
		want   Bounds
	}{
		{`{"a":5}`, "a", true, Bounds{Points: []any{int64(5)}}},
		{`{"a":{"$eq":"x"}}`, "a", true, Bounds{Points: []any{"x"}}},
		{`{"a":{"b":1}}`, "a", true, Bounds{Points: []any{map[string]any{"b": int64(1)}}}},
		{`{"a":[3,1]}`, "a", true, Bounds{Points: []any{int64(3), []any{int64(3), int64(1)}}}},
		{`{"a":{"$in":[3,1,3.0]}}`, "a", true, Bounds{Points: []any{int64(1), int64(3)}}},
		{`{"a":{"$gt":5}}`, "a", true, Bounds{IsRange: true, Min: int64(5), HasMin: true}},
		{`{"a":{"$gte":5}}`, "a", true, Bounds{IsRange: true, Min: int64(5), HasMin: true, MinInclusive: true}},
		{`{"a":{"$lt":"m"}}`, "a", true, Bounds{IsRange: true, Max: "m", HasMax: true}},
		{`{"a":{"$lte":"m"}}`, "a", true, Bounds{IsRange: true, Max: "m", HasMax: true, MaxInclusive: true}},
		// points are preferred to ranges, fewer points first
		{`{"a":{"$gt":1,"$in":[2,3]}}`, "a", true, Bounds{Points: []any{int64(2), int64(3)}}},
		{`{"$and":[{"a":{"$in":[2,3]}},{"a":7}]}`, "a", true, Bounds{Points: []any{int64(7)}}},
		// ranges are not intersected (array fields)
		{`{"a":{"$gt":1,"$lt":5}}`, "a", true, Bounds{IsRange: true, Min: int64(1), HasMin: true}},
		{`{"a.b":5,"c":1}`, "a.b", true, Bounds{Points: []any{int64(5)}}},
		{`{"$and":[{"c":1},{"$and":[{"a":2}]}]}`, "a", true, Bounds{Points: []any{int64(2)}}},
		// no usable bounds
		{`{"a":5}`, "b", false, Bounds{}},
		{`{"a":null}`, "a", false, Bounds{}},
		{`{"a":[]}`, "a", false, Bounds{}},
		{`{"a":{"$in":[1,null]}}`, "a", false, Bounds{}},
		{`{"a":{"$gte":null}}`, "a", false, Bounds{}},
		{`{"a":{"$gt":[1]}}`, "a", false, Bounds{}},
		{`{"a":{"$ne":5}}`, "a", false, Bounds{}},
		{`{"a":{"$nin":[5]}}`, "a", false, Bounds{}},
		{`{"a":{"$not":{"$eq":5}}}`, "a", false, Bounds{}},
		{`{"a":{"$regex":"^x"}}`, "a", false, Bounds{}},
		{`{"a":{"$exists":true}}`, "a", false, Bounds{}},
		{`{"a":{"$elemMatch":{"$eq":1}}}`, "a", false, Bounds{}},
		{`{"$or":[{"a":1},{"a":2}]}`, "a", false, Bounds{}},
		{`{"$nor":[{"a":1}]}`, "a", false, Bounds{}},
		{`{"b":{"$elemMatch":{"a":1}}}`, "a", false, Bounds{}},
	}
	for _, tt := range tests {
		f, err := ParseFilter(obj(t, tt.filter))
		if err != nil {
			t.Fatal(err)
		}
		got, ok := f.Bounds(tt.path)
		if ok != tt.ok || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s Bounds(%q) = %+v, %v; want %+v, %v", tt.filter, tt.path, got, ok, tt.want, tt.ok)
		}
	}
	var nilFilter *Filter
	if _, ok := nilFilter.Bounds("a"); ok {
		t.Error("nil filter has no bounds")
	}
}

func TestSingleValueBounds(t *testing.T) {
	tests := []struct {
		filter string
		want   Bounds
	}{
		{`{"a":{"$gt":1,"$lt":5}}`, Bounds{IsRange: true, Min: int64(1), HasMin: true, Max: int64(5), HasMax: true}},
		{`{"a":{"$gte":1,"$gt":1.0,"$lte":9}}`, Bounds{IsRange: true, Min: 1.0, HasMin: true, Max: int64(9), HasMax: true, MaxInclusive: true}},
		{`{"$and":[{"a":{"$gte":2}},{"a":{"$gte":3}}]}`, Bounds{IsRange: true, Min: int64(3), HasMin: true, MinInclusive: true}},
		{`{"a":{"$gte":2,"$lte":2}}`, Bounds{Points: []any{int64(2)}}},
		{`{"a":{"$gt":2,"$lte":2}}`, Bounds{}},
		{`{"a":{"$gt":5,"$lt":1}}`, Bounds{}},
		{`{"a":{"$gt":5,"$lt":"z"}}`, Bounds{}},
		{`{"a":{"$in":[1,5,9],"$gt":2}}`, Bounds{Points: []any{int64(5), int64(9)}}},
		{`{"a":{"$in":[1,5,9],"$lt":2}}`, Bounds{Points: []any{int64(1)}}},
		{`{"$and":[{"a":{"$in":[1,5]}},{"a":{"$in":[5,6]}}]}`, Bounds{Points: []any{int64(5)}}},
		{`{"$and":[{"a":1},{"a":2}]}`, Bounds{}},
	}
	for _, tt := range tests {
		f, err := ParseFilter(obj(t, tt.filter))
		if err != nil {
			t.Fatal(err)
		}
		got, ok := f.SingleValueBounds("a")
		if !ok || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s SingleValueBounds = %+v, %v; want %+v", tt.filter, got, ok, tt.want)
		}
	}
	f, _ := ParseFilter(obj(t, `{"a":{"$ne":1}}`))
	if _, ok := f.SingleValueBounds("a"); ok {
		t.Error("no usable bounds expected")
	}
}

func TestBoundsContains(t *testing.T) {
	r := Bounds{IsRange: true, Min: int64(1), HasMin: true, Max: 5.5, HasMax: true, MaxInclusive: true}
	for v, want := range map[any]bool{int64(1): false, 1.5: true, int64(5): true, 5.5: true, int64(6): false, "3": false, nil: false} {
		if got := r.Contains(v); got != want {
			t.Errorf("Contains(%v) = %v, want %v", v, got, want)
		}
	}
	half := Bounds{IsRange: true, Min: "b", HasMin: true, MinInclusive: true}
	if !half.Contains("zzz") || half.Contains("a") || half.Contains(int64(99)) || half.Contains(true) {
		t.Error("half-open string range must stay within strings")
	}
	pts := Bounds{Points: []any{int64(1), "x"}}
	if !pts.Contains(1.0) || !pts.Contains("x") || pts.Contains(int64(2)) {
		t.Error("points")
	}
	if (Bounds{}).Contains(nil) {
		t.Error("empty bounds contain nothing")
	}
}

// TestBoundsSuperset checks the contract the engine relies on: every
// document that matches has an index key (per Lookup) within the bounds.
func TestBoundsSuperset(t *testing.T) {
	filters := []string{
		`{"a":5}`, `{"a":[5,6]}`, `{"a":{"$in":[5,"x",[1]]}}`, `{"a":{"$gt":4}}`,
		`{"a":{"$lte":"m"}}`, `{"a":{"$gt":1,"$lt":5}}`, `{"a":{"$gte":{"b":1}}}`,
		`{"a":{"b":1}}`, `{"$and":[{"a":{"$gt":1}},{"a":{"$lt":9}}]}`,
	}
	docs := []string{
		`{"a":5}`, `{"a":5.0}`, `{"a":[5,6]}`, `{"a":[[5,6]]}`, `{"a":[0,10]}`, `{"a":"x"}`,
		`{"a":["x","q"]}`, `{"a":[[1]]}`, `{"a":[1]}`, `{"a":{"b":1}}`, `{"a":[{"b":1}]}`,
		`{"a":{"b":2}}`, `{"a":"a"}`, `{"a":[3]}`, `{"a":null}`, `{}`, `{"a":[]}`, `{"a":2}`,
	}
	for _, fs := range filters {
		f, err := ParseFilter(obj(t, fs))
		if err != nil {
			t.Fatal(err)
		}
		b, ok := f.Bounds("a")
		if !ok {
			t.Fatalf("%s: no bounds", fs)
		}
		for _, ds := range docs {
			doc := obj(t, ds)
			if !f.Match(doc) {
				continue
			}
			if !anyKeyIn(b, value.Lookup(doc, "a")) {
				t.Errorf("%s matches %s but no index key is in %+v", fs, ds, b)
			}
		}
	}
}

// anyKeyIn indexes values as Lookup documents and checks both Contains and
// KeyRange (with a document id suffix after each key).
func anyKeyIn(b Bounds, vals []any) bool {
	var keys []any
	for _, v := range vals {
		if arr, ok := v.([]any); ok {
			keys = append(keys, arr...)
		} else {
			keys = append(keys, v)
		}
	}
	for _, k := range keys {
		if !b.Contains(k) {
			continue
		}
		if b.IsRange {
			start, end := b.KeyRange()
			key := append(value.EncodeKey(k), "doc-id"...)
			if bytes.Compare(key, start) < 0 || bytes.Compare(key, end) >= 0 {
				return false
			}
		}
		return true
	}
	return false
}

func TestKeyRange(t *testing.T) {
	b := Bounds{IsRange: true, Min: int64(5), HasMin: true}
	start, end := b.KeyRange()
	in := func(v any) bool {
		k := append(value.EncodeKey(v), 0xFF, 0xFF)
		return bytes.Compare(k, start) >= 0 && bytes.Compare(k, end) < 0
	}
	if in(int64(5)) || !in(5.5) || !in(int64(1)<<62) || in("a") || in(true) || in(int64(4)) {
		t.Error("exclusive numeric lower bound")
	}
	b = Bounds{IsRange: true, Max: "m", HasMax: true, MaxInclusive: true}
	start, end = b.KeyRange()
	if !in("m") || !in("") || in("ma") || in(int64(1)) || in(map[string]any{}) {
		t.Error("inclusive string upper bound")
	}
	if s, e := (Bounds{Points: []any{int64(1)}}).KeyRange(); s != nil || e != nil {
		t.Error("points have no key range")
	}
}

// TestBoundsProperty checks on random documents and filters that Bounds
// (and SingleValueBounds, for documents without arrays) never exclude a
// matching document.
func TestBoundsProperty(t *testing.T) {
	r := rand.New(rand.NewSource(valuetest.Seed(t)))
	ops := []string{"$eq", "$in", "$gt", "$gte", "$lt", "$lte"}
	scalar := func() any {
		for {
			v := valuetest.Rand(r, 1)
			if err := value.ValidateValue(v, "", 0, value.ErrInvalidValue); err != nil {
				continue // e.g. invalid UTF-8
			}
			switch v := v.(type) {
			case []any, map[string]any:
				if r.Intn(4) == 0 {
					return v
				}
			default:
				return v
			}
		}
	}
	for range 3000 {
		cond := map[string]any{}
		for range 1 + r.Intn(3) {
			op := ops[r.Intn(len(ops))]
			if op == "$in" {
				cond[op] = []any{scalar(), scalar()}
			} else {
				cond[op] = scalar()
			}
		}
		f, err := ParseFilter(map[string]any{"a": cond})
		if err != nil {
			t.Fatal(err)
		}
		b, ok := f.Bounds("a")
		sb, sok := f.SingleValueBounds("a")
		if ok != sok {
			t.Fatalf("%v: Bounds ok %v, SingleValueBounds ok %v", cond, ok, sok)
		}
		if !ok {
			continue
		}
		for range 20 {
			var a any = scalar()
			if r.Intn(3) == 0 {
				a = []any{scalar(), scalar()}
			}
			doc := map[string]any{"a": a}
			if !f.Match(doc) {
				continue
			}
			if !anyKeyIn(b, value.Lookup(doc, "a")) {
				t.Fatalf("%v matches %#v outside Bounds %+v", cond, doc, b)
			}
			if _, isArr := a.([]any); !isArr && !anyKeyIn(sb, value.Lookup(doc, "a")) {
				t.Fatalf("%v matches %#v outside SingleValueBounds %+v", cond, doc, sb)
			}
		}
	}
}

func TestEquality(t *testing.T) {
	cases := []struct {
		filter map[string]any
		path   string
		ok     bool
	}{
		{map[string]any{"a": 5}, "a", true},
		{map[string]any{"a": map[string]any{"$eq": "x"}}, "a", true},
		{map[string]any{"a": nil}, "", false},
		{map[string]any{"a": []any{1}}, "", false},
		{map[string]any{"a.b": 1}, "", false},
		{map[string]any{"a": 1, "b": 2}, "", false},
		{map[string]any{"a": map[string]any{"$gt": 1}}, "", false},
		{map[string]any{"a": map[string]any{"$eq": 1, "$ne": 2}}, "", false},
		{map[string]any{"$or": []any{map[string]any{"a": 1}}}, "", false},
		{map[string]any{"$and": []any{map[string]any{"a": 1}}}, "", false},
		{map[string]any{}, "", false},
	}
	for _, c := range cases {
		f, err := ParseFilter(c.filter)
		if err != nil {
			t.Fatal(err)
		}
		path, _, ok := f.Equality()
		if ok != c.ok || path != c.path {
			t.Errorf("%v: got %q %v", c.filter, path, ok)
		}
	}
}
