package query

import (
	"slices"

	"github.com/latticedb/lattice/value"
)

// Bounds describes the values an index on one path must be scanned for so
// that every document matching a filter is found. It is a superset: the
// caller must still check Filter.Match on each candidate.
//
// When IsRange is false the bounds are a set of points: a matching
// document has an index key equal (Equal) to one of Points, which are
// sorted by Compare and distinct; no points means no document can match.
// When IsRange is true the bounds are an interval of values of a single
// type class (that of Min or Max): comparison operators only match values
// of the operand's class, so "> 5" means "a number greater than 5".
type Bounds struct {
	// Points lists the candidate key values when IsRange is false.
	Points []any
	// IsRange selects the interval form.
	IsRange bool
	// Min and Max are the interval ends, present when HasMin/HasMax.
	Min, Max any
	// HasMin and HasMax report which ends are bounded; a missing end
	// extends to the end of the type class.
	HasMin, HasMax bool
	// MinInclusive and MaxInclusive report whether the ends are included.
	MinInclusive, MaxInclusive bool
}

// Contains reports whether an index key value v lies within the bounds.
func (b Bounds) Contains(v any) bool {
	if !b.IsRange {
		for _, p := range b.Points {
			if value.Equal(v, p) {
				return true
			}
		}
		return false
	}
	if b.HasMin {
		if value.ClassOf(v) != value.ClassOf(b.Min) {
			return false
		}
		c := value.Compare(v, b.Min)
		if c < 0 || (c == 0 && !b.MinInclusive) {
			return false
		}
	}
	if b.HasMax {
		if value.ClassOf(v) != value.ClassOf(b.Max) {
			return false
		}
		c := value.Compare(v, b.Max)
		if c > 0 || (c == 0 && !b.MaxInclusive) {
			return false
		}
	}
	return true
}

// KeyRange returns, for interval bounds, the half-open range [start, end)
// of EncodeKey space to scan: every key that starts with EncodeKey(v) for
// a v that Contains accepts lies inside it (so keys may carry a suffix
// such as a document id), and nothing outside the type class does. For
// point bounds it returns nil, nil: look up EncodeKey(p) for each point.
func (b Bounds) KeyRange() (start, end []byte) {
	if !b.IsRange {
		return nil, nil
	}
	class := value.ClassNull
	switch {
	case b.HasMin:
		class = value.ClassOf(b.Min)
	case b.HasMax:
		class = value.ClassOf(b.Max)
	}
	tag := value.ClassTag(class)
	start, end = []byte{tag}, []byte{tag + 1}
	if b.HasMin {
		start = value.EncodeKey(b.Min)
		if !b.MinInclusive {
			start = value.PrefixEnd(start)
		}
	}
	if b.HasMax {
		end = value.EncodeKey(b.Max)
		if b.MaxInclusive {
			end = value.PrefixEnd(end)
		}
	}
	return start, end
}

// Bounds returns the bounds that the filter's top-level conjunction (its
// fields, implicit AND, and top-level $and) puts on path, for an index
// that stores one key per value Lookup reaches and one per element of each
// array value (see Lookup). It reports false when no usable constraint
// exists: the path is only constrained inside $or, $nor, $not, or by $ne,
// $nin, $exists, $regex, $size, $elemMatch, or by equality or comparison
// with null (those match missing fields, which the index need not hold),
// or by comparison with an array.
//
// Only a single operator is used: point sets ($eq, implicit equality,
// $in) are preferred, the fewest points first, then the first interval.
// Intervals are not intersected, because on array fields each operator may
// be satisfied by a different element ({"a": {"$gt": 1, "$lt": 5}} matches
// [0, 10]); use SingleValueBounds when the path never holds arrays.
func (f *Filter) Bounds(path string) (Bounds, bool) {
	var best Bounds
	found := false
	for _, b := range f.pathBounds(path) {
		switch {
		case !found:
		case !b.IsRange && (best.IsRange || len(b.Points) < len(best.Points)):
		default:
			continue
		}
		best, found = b, true
	}
	return best, found
}

// SingleValueBounds is Bounds with every usable constraint on path
// intersected, which is tighter but correct only when no document holds
// an array at path or along it (a "multikey" path in MongoDB's terms): the
// caller must know that, for example by tracking whether any indexed
// document produced an array for the path. Contradictory constraints yield
// empty point bounds.
func (f *Filter) SingleValueBounds(path string) (Bounds, bool) {
	all := f.pathBounds(path)
	if len(all) == 0 {
		return Bounds{}, false
	}
	b := all[0]
	for _, c := range all[1:] {
		b = intersect(b, c)
	}
	return b, true
}

// pathBounds returns the usable bounds of each operator on path.
func (f *Filter) pathBounds(path string) []Bounds {
	if f == nil {
		return nil
	}
	var out []Bounds
	for _, n := range f.conj {
		if n.path != path {
			continue
		}
		for _, o := range n.ops {
			if b, ok := opBounds(o); ok {
				out = append(out, b)
			}
		}
	}
	return out
}

func opBounds(o opArg) (Bounds, bool) {
	switch o.op {
	case "$eq":
		pts, ok := eqPoints(nil, o.arg)
		return Bounds{Points: sortPoints(pts)}, ok
	case "$in":
		arr := o.arg.([]any)
		pts := make([]any, 0, len(arr))
		for _, x := range arr {
			if isRegexMember(x) { // matches strings no point set covers
				return Bounds{}, false
			}
			var ok bool
			if pts, ok = eqPoints(pts, x); !ok {
				return Bounds{}, false
			}
		}
		return Bounds{Points: sortPoints(pts)}, true
	case "$gt", "$gte", "$lt", "$lte":
		switch o.arg.(type) {
		case nil, []any:
			return Bounds{}, false
		}
		b := Bounds{IsRange: true}
		if o.op == "$gt" || o.op == "$gte" {
			b.Min, b.HasMin, b.MinInclusive = o.arg, true, o.op == "$gte"
		} else {
			b.Max, b.HasMax, b.MaxInclusive = o.arg, true, o.op == "$lte"
		}
		return b, true
	}
	return Bounds{}, false
}

// eqPoints adds the index keys under which a value equal to x (or an
// array containing x) is stored. An array operand matches an equal array,
// indexed under its first element, or an element equal to it.
func eqPoints(pts []any, x any) ([]any, bool) {
	switch a := x.(type) {
	case nil:
		return nil, false
	case []any:
		if len(a) == 0 {
			return nil, false
		}
		return append(pts, a[0], a), true
	}
	return append(pts, x), true
}

// sortPoints sorts points by Compare and drops repeated ones, in
// O(n log n): a large $in must not plan in quadratic time (it runs under
// the view's read lock).
func sortPoints(pts []any) []any {
	slices.SortFunc(pts, value.Compare)
	return slices.CompactFunc(pts, value.Equal)
}

func rangeClass(b Bounds) int {
	if b.HasMin {
		return value.ClassOf(b.Min)
	}
	return value.ClassOf(b.Max)
}

// intersect returns bounds containing the values contained by both a and b.
func intersect(a, b Bounds) Bounds {
	switch {
	case !a.IsRange && !b.IsRange:
		var pts []any
		for _, p := range a.Points {
			if b.Contains(p) {
				pts = append(pts, p)
			}
		}
		return Bounds{Points: pts}
	case !a.IsRange:
		return filterPoints(a, b)
	case !b.IsRange:
		return filterPoints(b, a)
	}
	if (a.HasMin || a.HasMax) && (b.HasMin || b.HasMax) && rangeClass(a) != rangeClass(b) {
		return Bounds{}
	}
	out := a
	if b.HasMin {
		c := 1
		if out.HasMin {
			c = value.Compare(b.Min, out.Min)
		}
		if c > 0 {
			out.Min, out.HasMin, out.MinInclusive = b.Min, true, b.MinInclusive
		} else if c == 0 {
			out.MinInclusive = out.MinInclusive && b.MinInclusive
		}
	}
	if b.HasMax {
		c := -1
		if out.HasMax {
			c = value.Compare(b.Max, out.Max)
		}
		if c < 0 {
			out.Max, out.HasMax, out.MaxInclusive = b.Max, true, b.MaxInclusive
		} else if c == 0 {
			out.MaxInclusive = out.MaxInclusive && b.MaxInclusive
		}
	}
	if out.HasMin && out.HasMax {
		switch c := value.Compare(out.Min, out.Max); {
		case c > 0:
			return Bounds{}
		case c == 0 && out.MinInclusive && out.MaxInclusive:
			return Bounds{Points: []any{out.Min}}
		case c == 0:
			return Bounds{}
		}
	}
	return out
}

func filterPoints(pts, r Bounds) Bounds {
	var out []any
	for _, p := range pts.Points {
		if r.Contains(p) {
			out = append(out, p)
		}
	}
	return Bounds{Points: out}
}

// Equality reports whether the whole filter is one equality condition
// ({path: v} or {path: {"$eq": v}}) on a top-level field with a scalar,
// non-null v. For such a filter a document matches exactly when the field
// equals v or is an array holding v, so an index keyed by the field's value
// and its array elements answers it without re-checking Match.
func (f *Filter) Equality() (path string, v any, ok bool) {
	if f == nil || len(f.conj) != 1 || len(f.root) != 1 {
		return "", nil, false
	}
	n := f.conj[0]
	if node(n) != f.root[0] || len(n.parts) != 1 || len(n.ops) != 1 || n.ops[0].op != "$eq" {
		return "", nil, false
	}
	switch n.ops[0].arg.(type) {
	case string, int64, float64, bool:
		return n.path, n.ops[0].arg, true
	}
	return "", nil, false
}
