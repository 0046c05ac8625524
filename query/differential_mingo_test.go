package query

import (
	"slices"
	"strings"

	"github.com/latticedb/lattice/value"
)

// mingo 7.2.7 departs from MongoDB's documented semantics in the ways
// below, each seen in TestDifferentialMingo and checked against MongoDB's
// documentation. A divergence they explain is counted, not failed; one
// they do not explain fails the test.

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
			if v, ok := value.Get(doc, path); !ok || !isArray(v) {
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
					if v, ok := value.Get(doc, path); ok && hasNonObject(v) {
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
		if _, ok := value.ArrayIndex(p); ok && i > 0 {
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
		path := value.JoinPath(prefix, k)
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
			if arr, ok := value.Get(doc, path); ok {
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
			cur, ok := value.Get(doc, path)
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
			cur, exists := value.Get(doc, path)
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
			cur, _ := value.Get(doc, path)
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
			if value.Equal(a[i], a[j]) {
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
