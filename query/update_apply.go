package query

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/latticedb/lattice/value"
)

// maxPad bounds how far past the end of an array an update may write.
const maxPad = 10000

// leafFn computes the new value of the field an operation targets. keep
// false removes the field (or sets an array element to null).
type leafFn func(old any, exists bool) (nv any, keep bool, err error)

func (o *updateOp) apply(doc map[string]any, now time.Time) error {
	switch o.Operator {
	case "$rename":
		return o.rename(doc)
	case "$unset", "$pull":
		_, err := o.modify(doc, 0, false, o.leaf(now))
		return err
	}
	_, err := o.modify(doc, 0, true, o.leaf(now))
	return err
}

func (o *updateOp) leaf(now time.Time) leafFn {
	switch o.Operator {
	case "$set":
		return func(any, bool) (any, bool, error) { return value.Clone(o.Value), true, nil }
	case "$unset":
		return func(any, bool) (any, bool, error) { return nil, false, nil }
	case "$inc", "$mul":
		return o.arith
	case "$min", "$max":
		return func(old any, exists bool) (any, bool, error) {
			c := value.Compare(o.Value, old)
			if !exists || (o.Operator == "$min" && c < 0) || (o.Operator == "$max" && c > 0) {
				return value.Clone(o.Value), true, nil
			}
			return old, true, nil
		}
	case "$currentDate":
		var v any = now.UTC().Format(value.TimeFormat)
		if o.Value == "timestamp" {
			v = now.UnixMilli()
		}
		return func(any, bool) (any, bool, error) { return v, true, nil }
	case "$push", "$addToSet":
		return func(old any, exists bool) (any, bool, error) {
			arr, err := o.array(old, exists)
			if err != nil {
				return nil, false, err
			}
			if o.Operator == "$push" {
				return o.push(arr), true, nil
			}
			return o.addToSet(arr), true, nil
		}
	}
	// $pull
	return func(old any, exists bool) (any, bool, error) {
		if !exists {
			return nil, false, nil
		}
		arr, err := o.array(old, exists)
		if err != nil {
			return nil, false, err
		}
		out := make([]any, 0, len(arr))
		for _, e := range arr {
			if !o.pulls(e) {
				out = append(out, e)
			}
		}
		return out, true, nil
	}
}

// addToSet appends to arr each item not equal to an element already
// there (or to an earlier item), in order. Equality is Equal's: the
// elements are hashed by EncodeKey, whose bytes are equal exactly when
// Compare reports equality, so the cost is linear in the sizes of arr
// and the items, not their product.
func (o *updateOp) addToSet(arr []any) []any {
	seen := make(map[string]struct{}, len(arr)+len(o.items))
	var buf []byte
	for _, e := range arr {
		buf = value.AppendKey(buf[:0], e)
		seen[string(buf)] = struct{}{}
	}
	for _, it := range o.items {
		buf = value.AppendKey(buf[:0], it)
		if _, ok := seen[string(buf)]; ok {
			continue
		}
		seen[string(buf)] = struct{}{}
		arr = append(arr, value.Clone(it))
	}
	return arr
}

// array returns a copy of the array field old (empty when missing).
func (o *updateOp) array(old any, exists bool) ([]any, error) {
	if !exists {
		return []any{}, nil
	}
	arr, ok := old.([]any)
	if !ok {
		return nil, fmt.Errorf("%w: %s: field %q is not an array, it holds %s", ErrTypeMismatch, o.Operator, o.Path, value.TypeName(old))
	}
	return slices.Clone(arr), nil
}

func (o *updateOp) pulls(e any) bool {
	switch {
	case o.pullEq:
		return value.Equal(e, o.Value)
	case o.pullValue != nil:
		return o.pullValue.test([]any{e})
	}
	m, ok := e.(map[string]any)
	return ok && o.pullQuery.match(m)
}

func (o *updateOp) push(arr []any) []any {
	pos := len(arr)
	if o.position != nil {
		pos = *o.position
		if pos < 0 {
			pos = max(len(arr)+pos, 0)
		}
		pos = min(pos, len(arr))
	}
	items := make([]any, len(o.items))
	for i, it := range o.items {
		items[i] = value.Clone(it)
	}
	arr = slices.Insert(arr, pos, items...)
	if o.sort != nil {
		s := o.sort
		slices.SortStableFunc(arr, func(a, b any) int {
			if s.keys == nil {
				return s.dir * value.Compare(a, b)
			}
			for _, k := range s.keys {
				am, _ := a.(map[string]any)
				bm, _ := b.(map[string]any)
				if c := value.Compare(sortValue(am, k), sortValue(bm, k)); c != 0 {
					return k.Dir * c
				}
			}
			return 0
		})
	}
	if o.slice != nil {
		n := *o.slice
		switch {
		case n >= 0 && n < len(arr):
			arr = arr[:n]
		case n < 0 && -n < len(arr):
			arr = arr[len(arr)+n:]
		}
	}
	return arr
}

// arith implements $inc and $mul.
func (o *updateOp) arith(old any, exists bool) (any, bool, error) {
	if !exists {
		if o.Operator == "$inc" {
			return o.Value, true, nil
		}
		if _, ok := o.Value.(int64); ok {
			return int64(0), true, nil
		}
		return float64(0), true, nil
	}
	if value.ClassOf(old) != value.ClassNumber {
		return nil, false, fmt.Errorf("%w: %s: field %q holds %s, not a number", ErrTypeMismatch, o.Operator, o.Path, value.TypeName(old))
	}
	ai, af, aInt := value.ToNumber(old)
	bi, bf, bInt := value.ToNumber(o.Value)
	if aInt && bInt {
		if r, ok := intArith(o.Operator, ai, bi); ok {
			return r, true, nil
		}
	}
	if aInt {
		af = float64(ai)
	}
	if bInt {
		bf = float64(bi)
	}
	r := af + bf
	if o.Operator == "$mul" {
		r = af * bf
	}
	if math.IsInf(r, 0) || math.IsNaN(r) {
		return nil, false, fmt.Errorf("%w: %s: result for field %q is not a finite number", ErrOverflow, o.Operator, o.Path)
	}
	return r, true, nil
}

// intArith adds or multiplies int64 values, reporting false on overflow.
func intArith(op string, a, b int64) (int64, bool) {
	if op == "$inc" {
		s := a + b
		if (s > a) != (b > 0) {
			return 0, false
		}
		return s, true
	}
	if a == 0 || b == 0 {
		return 0, true
	}
	p := a * b
	if p/b != a || (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) {
		return 0, false
	}
	return p, true
}

func (o *updateOp) prefix(i int) string {
	return strings.Join(o.parts[:i+1], ".")
}

// modify applies fn to the field at o.parts[i:] below container cur (an
// object or an array) and returns cur, reallocated if an array grew. With
// create unset, missing or untraversable intermediates make it a no-op.
func (o *updateOp) modify(cur any, i int, create bool, fn leafFn) (any, error) {
	key := o.parts[i]
	last := i == len(o.parts)-1
	switch c := cur.(type) {
	case map[string]any:
		old, exists := c[key]
		if last {
			nv, keep, err := fn(old, exists)
			switch {
			case err != nil:
				return nil, err
			case keep:
				c[key] = nv
			case exists:
				delete(c, key)
			}
			return c, nil
		}
		if !exists {
			if !create {
				return c, nil
			}
			old = map[string]any{}
		}
		child, err := o.descend(old, i, create, fn)
		if err != nil {
			return nil, err
		}
		c[key] = child
		return c, nil
	case []any:
		idx, ok := value.ArrayIndex(key)
		if !ok {
			if !create {
				return c, nil
			}
			return nil, fmt.Errorf("%w: %s: cannot use the part %q of %q to traverse the array at %q", ErrTypeMismatch, o.Operator, key, o.Path, o.prefix(i-1))
		}
		exists := idx < len(c)
		if last {
			var old any
			if exists {
				old = c[idx]
			}
			nv, keep, err := fn(old, exists)
			if err != nil {
				return nil, err
			}
			if !keep {
				if exists {
					c[idx] = nil // as MongoDB: unsetting an element leaves null
				}
				return c, nil
			}
			if c, err = o.pad(c, idx); err != nil {
				return nil, err
			}
			c[idx] = nv
			return c, nil
		}
		if !exists {
			if !create {
				return c, nil
			}
			var err error
			if c, err = o.pad(c, idx); err != nil {
				return nil, err
			}
			c[idx] = map[string]any{}
		}
		child, err := o.descend(c[idx], i, create, fn)
		if err != nil {
			return nil, err
		}
		c[idx] = child
		return c, nil
	}
	return nil, fmt.Errorf("%w: %s: cannot traverse %s at %q", ErrTypeMismatch, o.Operator, value.TypeName(cur), o.Path)
}

// descend continues modify into child, the value at o.parts[i].
func (o *updateOp) descend(child any, i int, create bool, fn leafFn) (any, error) {
	switch child.(type) {
	case map[string]any, []any:
		return o.modify(child, i+1, create, fn)
	}
	if !create {
		return child, nil
	}
	return nil, fmt.Errorf("%w: %s: cannot create field %q in %q, which holds %s", ErrTypeMismatch, o.Operator, o.parts[i+1], o.prefix(i), value.TypeName(child))
}

// pad extends arr with nulls so that idx is a valid index.
func (o *updateOp) pad(arr []any, idx int) ([]any, error) {
	if idx < len(arr) {
		return arr, nil
	}
	if idx-len(arr) > maxPad {
		return nil, fmt.Errorf("%w: %s: index %d is more than %d past the end of the array (length %d) at %q", value.ErrBadPath, o.Operator, idx, maxPad, len(arr), o.Path)
	}
	return append(arr, make([]any, idx+1-len(arr))...), nil
}

// rename moves the value at o.parts to o.target. Neither path may traverse
// an array; a missing source is a no-op.
func (o *updateOp) rename(doc map[string]any) error {
	parent := doc
	for i, p := range o.parts[:len(o.parts)-1] {
		switch next := parent[p].(type) {
		case map[string]any:
			parent = next
		case []any:
			return fmt.Errorf("%w: $rename: source %q traverses the array at %q", ErrTypeMismatch, o.Path, o.prefix(i))
		default:
			return nil
		}
	}
	last := o.parts[len(o.parts)-1]
	val, ok := parent[last]
	if !ok {
		return nil
	}
	target := strings.Join(o.target, ".")
	dst := doc
	for i, p := range o.target[:len(o.target)-1] {
		switch next := dst[p].(type) {
		case map[string]any:
			dst = next
		case nil:
			if _, exists := dst[p]; exists {
				return fmt.Errorf("%w: $rename: cannot create field %q in %q, which holds null", ErrTypeMismatch, o.target[i+1], strings.Join(o.target[:i+1], "."))
			}
			created := map[string]any{}
			dst[p] = created
			dst = created
		case []any:
			return fmt.Errorf("%w: $rename: target %q traverses the array at %q", ErrTypeMismatch, target, strings.Join(o.target[:i+1], "."))
		default:
			return fmt.Errorf("%w: $rename: cannot create field %q in %q, which holds %s", ErrTypeMismatch, o.target[i+1], strings.Join(o.target[:i+1], "."), value.TypeName(next))
		}
	}
	delete(parent, last)
	dst[o.target[len(o.target)-1]] = val
	return nil
}
