package value

import (
	"fmt"
	"strconv"
	"strings"
)

// MissingT marks a path branch that reaches no value. It compares as null.
type MissingT struct{}

// Missing is the value Branches reports for a path that reaches nothing.
var Missing any = MissingT{}

// MaxPathDepth is the most components a dot path may have: a path one
// longer would name a value nested deeper than MaxDepth.
const MaxPathDepth = MaxDepth - 1

// SplitPath validates a dot path and returns its components. Components
// must be non-empty, valid field names apart from '.' (they may be
// numeric), and must not start with '$'; there are at most MaxPathDepth of
// them (a longer path is refused, not truncated).
func SplitPath(path string) ([]string, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: empty path", ErrBadPath)
	}
	if n := strings.Count(path, ".") + 1; n > MaxPathDepth {
		return nil, fmt.Errorf("%w: %d components, at most %d are allowed", ErrBadPath, n, MaxPathDepth)
	}
	parts := strings.Split(path, ".")
	for _, p := range parts {
		if p == "" {
			return nil, fmt.Errorf("%w: empty component in %q", ErrBadPath, path)
		}
		if msg := checkFieldName(p); msg != "" {
			return nil, fmt.Errorf("%w: %s in %q", ErrBadPath, msg, path)
		}
	}
	return parts, nil
}

// ArrayIndex parses a path component as an array index: decimal digits
// without sign or leading zero.
func ArrayIndex(s string) (int, bool) {
	if s == "" || len(s) > 9 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// Lookup returns every value reached by the dot path in doc, using
// MongoDB's array semantics: a numeric component indexes an array; any
// other component, when it meets an array, is applied to each element that
// is an object (other elements are skipped). Arrays reached at the end of
// the path are returned whole, not flattened: a matcher or an index
// considers both the array and its elements. Missing fields contribute
// nothing, so the result is empty when the path reaches no value.
//
// An index on path should store, for each v in Lookup(doc, path), each
// element of v when v is an array and v itself otherwise. That is the
// contract Filter.Bounds relies on.
func Lookup(doc map[string]any, path string) []any {
	parts := strings.Split(path, ".")
	var out []any
	for _, v := range Branches(doc, parts, nil) {
		if v != Missing {
			out = append(out, v)
		}
	}
	return out
}

// Branches is Lookup that also reports each branch that ends at a missing
// field or at a scalar as the missing marker, which matches null.
func Branches(v any, parts []string, out []any) []any {
	if len(parts) == 0 {
		return append(out, v)
	}
	switch c := v.(type) {
	case map[string]any:
		child, ok := c[parts[0]]
		if !ok {
			return append(out, Missing)
		}
		return Branches(child, parts[1:], out)
	case []any:
		if idx, ok := ArrayIndex(parts[0]); ok {
			if idx < len(c) {
				return Branches(c[idx], parts[1:], out)
			}
			return append(out, Missing)
		}
		for _, e := range c {
			if m, ok := e.(map[string]any); ok {
				out = Branches(m, parts, out)
			}
		}
		return out
	}
	return append(out, Missing)
}

// Get returns the value at the dot path in doc without array expansion:
// every component must name a field of an object, or index an array with
// a numeric component. It reports false when the path reaches no value.
func Get(doc map[string]any, path string) (any, bool) {
	var cur any = doc
	for p := range strings.SplitSeq(path, ".") {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[p]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			idx, ok := ArrayIndex(p)
			if !ok || idx >= len(c) {
				return nil, false
			}
			cur = c[idx]
		default:
			return nil, false
		}
	}
	return cur, true
}
