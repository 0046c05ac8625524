package query

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/latticedb/lattice/value"
)

// Op is one operation of an Update, as reported by Update.Ops.
type Op struct {
	// Operator is the update operator, such as "$set".
	Operator string
	// Path is the dot path the operator applies to.
	Path string
	// Value is the operand: the value for $set, $min, $max, $inc and $mul;
	// the items for $push and $addToSet (a []any when $each was used, the
	// single value otherwise); the target path (a string) for $rename; the
	// value or condition for $pull; the operand given for $unset; "date" or
	// "timestamp" for $currentDate.
	Value any
}

// Update is a parsed update document. It is immutable and safe for
// concurrent use.
type Update struct {
	ops  []*updateOp
	work *meter // regex work of $pull conditions
}

// updateOp is one parsed operation.
type updateOp struct {
	Op
	parts []string

	// $push and $addToSet
	items    []any
	position *int
	slice    *int
	sort     *pushSort

	// $pull
	pullValue pred // operator form, tested on each element
	pullQuery node // document form, matched against object elements
	pullEq    bool // plain value: remove equal elements

	// $rename
	target []string
}

// pushSort is the $sort modifier of $push: Dir for whole elements, or Keys
// for object elements.
type pushSort struct {
	dir  int
	keys []SortKey
}

var updateOperators = map[string]bool{
	"$set": true, "$unset": true, "$inc": true, "$mul": true, "$min": true,
	"$max": true, "$rename": true, "$push": true, "$pull": true,
	"$addToSet": true, "$currentDate": true,
}

// ParseUpdate parses a MongoDB-style update document such as
// {"$set": {"a": 1}, "$inc": {"n": 2}}; see the package documentation for
// the operators. The document is normalized first (see Normalize).
//
// It rejects an empty update (ErrEmptyUpdate), a top-level field that is
// not an operator (ErrReplacement: it is a replacement document, use
// ReplaceOne), unknown operators or modifiers (ErrUnknownOperator),
// operands of the wrong shape (ErrBadOperand), malformed paths
// (ErrBadPath), any path under _id (ErrImmutableID), and two paths, across
// all operators and including $rename targets, that are equal or where one
// is a prefix of the other (ErrConflict). More than MaxUpdateOps
// operations, more than MaxEachItems elements in one $each, or a $pull
// $regex past MaxRegexLength or MaxRegexProgram are refused with ErrLimit
// before any other work. Options bound the regex work of $pull conditions
// as ParseFilter's do.
func ParseUpdate(u map[string]any, opts ...FilterOption) (*Update, error) {
	if len(u) == 0 {
		return nil, fmt.Errorf("%w: an update needs at least one operator such as $set", ErrEmptyUpdate)
	}
	n, err := value.Normalize(u)
	if err != nil {
		return nil, err
	}
	doc := n.(map[string]any)
	keys := value.SortedKeys(doc)
	for _, k := range keys {
		if !strings.HasPrefix(k, "$") {
			return nil, fmt.Errorf("%w: field %q is not an update operator; this is a replacement document, use ReplaceOne", ErrReplacement, k)
		}
	}
	if err := checkUpdateSize(doc); err != nil {
		return nil, err
	}
	upd := &Update{work: newMeter(opts)}
	for _, op := range keys {
		if !updateOperators[op] {
			return nil, fmt.Errorf("%w %q in update", ErrUnknownOperator, op)
		}
		fields, ok := doc[op].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%w: %s needs a document of fields, got %s", ErrBadOperand, op, value.TypeName(doc[op]))
		}
		if len(fields) == 0 {
			return nil, fmt.Errorf("%w: %s is empty; give it fields such as {%q: {\"a\": 1}}", ErrBadOperand, op, op)
		}
		for _, path := range value.SortedKeys(fields) {
			o, err := parseUpdateOp(op, path, fields[path], upd.work)
			if err != nil {
				return nil, err
			}
			upd.ops = append(upd.ops, o)
		}
	}
	if err := checkConflicts(upd.ops); err != nil {
		return nil, err
	}
	return upd, nil
}

func checkUpdatePath(op, path string) ([]string, error) {
	parts, err := value.SplitPath(path)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, op)
	}
	if parts[0] == "_id" {
		return nil, fmt.Errorf("%w: %s at %q", ErrImmutableID, op, path)
	}
	return parts, nil
}

func parseUpdateOp(op, path string, arg any, w *meter) (*updateOp, error) {
	parts, err := checkUpdatePath(op, path)
	if err != nil {
		return nil, err
	}
	o := &updateOp{Op: Op{Operator: op, Path: path, Value: arg}, parts: parts}
	checkValue := func(v any) error {
		if err := value.ValidateValue(v, path, len(parts), ErrBadOperand); err != nil {
			return fmt.Errorf("%w (in %s)", err, op)
		}
		return nil
	}
	switch op {
	case "$set", "$min", "$max":
		return o, checkValue(arg)
	case "$unset":
		return o, nil
	case "$inc", "$mul":
		if value.ClassOf(arg) != value.ClassNumber {
			return nil, fmt.Errorf("%w: %s needs a number at %q, got %s", ErrBadOperand, op, path, value.TypeName(arg))
		}
		return o, nil
	case "$currentDate":
		return o, parseCurrentDate(o, arg)
	case "$rename":
		target, ok := arg.(string)
		if !ok {
			return nil, fmt.Errorf("%w: $rename needs a target path string at %q, got %s", ErrBadOperand, path, value.TypeName(arg))
		}
		if o.target, err = checkUpdatePath(op, target); err != nil {
			return nil, err
		}
		if conflict(path, target) {
			return nil, fmt.Errorf("%w: $rename source %q and target %q are on the same path", ErrBadOperand, path, target)
		}
		return o, nil
	case "$push", "$addToSet":
		if err := parseEach(o, arg); err != nil {
			return nil, err
		}
		for _, it := range o.items {
			if err := checkValue(it); err != nil {
				return nil, err
			}
		}
		return o, nil
	}
	return o, parsePull(o, arg, w)
}

func parseCurrentDate(o *updateOp, arg any) error {
	switch a := arg.(type) {
	case bool:
		if a {
			o.Value = "date"
			return nil
		}
	case map[string]any:
		t, ok := a["$type"].(string)
		if len(a) == 1 && ok && (t == "date" || t == "timestamp") {
			o.Value = t
			return nil
		}
	}
	return fmt.Errorf("%w: $currentDate needs true or {\"$type\": \"date\"|\"timestamp\"} at %q, got %s", ErrBadOperand, o.Path, describe(arg))
}

// parseEach parses the operand of $push or $addToSet: a single value, or a
// document with $each and (for $push) $position, $slice and $sort.
func parseEach(o *updateOp, arg any) error {
	m, ok := arg.(map[string]any)
	if !ok {
		o.items = []any{arg}
		return nil
	}
	isMods, err := operatorDoc(m, o.Path)
	if err != nil {
		return fmt.Errorf("%w (in %s)", err, o.Operator)
	}
	if !isMods {
		o.items = []any{arg}
		return nil
	}
	each, ok := m["$each"]
	if !ok {
		for k := range m {
			return fmt.Errorf("%w: %s: modifier %s needs $each at %q", ErrBadOperand, o.Operator, k, o.Path)
		}
	}
	items, ok := each.([]any)
	if !ok {
		return fmt.Errorf("%w: %s: $each needs an array at %q, got %s", ErrBadOperand, o.Operator, o.Path, value.TypeName(each))
	}
	o.items, o.Value = items, items
	for _, k := range value.SortedKeys(m) {
		v := m[k]
		switch {
		case k == "$each":
		case o.Operator == "$push" && (k == "$position" || k == "$slice"):
			n, ok := intArg(v)
			if !ok {
				return fmt.Errorf("%w: $push: %s needs an integer at %q, got %s", ErrBadOperand, k, o.Path, describe(v))
			}
			if k == "$position" {
				o.position = &n
			} else {
				o.slice = &n
			}
		case o.Operator == "$push" && k == "$sort":
			s, err := parsePushSort(v, o.Path)
			if err != nil {
				return err
			}
			o.sort = s
		default:
			return fmt.Errorf("%w %q in %s at %q", ErrUnknownOperator, k, o.Operator, o.Path)
		}
	}
	return nil
}

func parsePushSort(v any, path string) (*pushSort, error) {
	if d, ok := intArg(v); ok && (d == 1 || d == -1) {
		return &pushSort{dir: d}, nil
	}
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		return nil, fmt.Errorf("%w: $push: $sort needs 1, -1 or a document of field directions at %q, got %s", ErrBadOperand, path, describe(v))
	}
	s := &pushSort{}
	for _, k := range value.SortedKeys(m) {
		d, ok := intArg(m[k])
		if !ok || (d != 1 && d != -1) {
			return nil, fmt.Errorf("%w: $push: $sort direction for %q must be 1 or -1 at %q", ErrBadOperand, k, path)
		}
		if _, err := value.SplitPath(k); err != nil {
			return nil, fmt.Errorf("%w (in $push $sort at %q)", err, path)
		}
		s.keys = append(s.keys, SortKey{Path: k, Dir: d})
	}
	return s, nil
}

// parsePull parses the $pull operand: an operator expression tested on each
// element ({"$gte": 5}), a query matched against object elements
// ({"score": {"$lt": 3}}), or a value removed wherever an element equals it.
func parsePull(o *updateOp, arg any, w *meter) error {
	m, ok := arg.(map[string]any)
	if !ok {
		o.pullEq = true
		return nil
	}
	logical := false
	for k := range m {
		logical = logical || isLogical(k)
	}
	if !logical {
		isOps, err := operatorDoc(m, o.Path)
		if err != nil {
			return fmt.Errorf("%w (in $pull)", err)
		}
		if isOps {
			o.pullValue, _, err = parseOps(m, o.Path, false, w)
			return err
		}
	}
	q, err := parseDoc(m, o.Path, nil, w)
	o.pullQuery = q
	return err
}

// conflict reports whether two update paths are equal or one is a prefix
// of the other.
func conflict(a, b string) bool {
	return a == b || strings.HasPrefix(b, a+".") || strings.HasPrefix(a, b+".")
}

// checkConflicts finds two paths that conflict in time linear in the
// total length of the paths: a set holds every path, and each path looks
// up its proper prefixes (cut at each dot) in it. Two equal paths, or a
// path and one of its prefixes, are a conflict; the pair reported is the
// first in sorted order.
func checkConflicts(ops []*updateOp) error {
	var paths []string
	for _, o := range ops {
		paths = append(paths, o.Path)
		if o.Operator == "$rename" {
			paths = append(paths, strings.Join(o.target, "."))
		}
	}
	slices.Sort(paths)
	set := make(map[string]bool, len(paths))
	for i, p := range paths {
		if i > 0 && paths[i-1] == p {
			return fmt.Errorf("%w at %q and %q", ErrConflict, p, p)
		}
		set[p] = true
	}
	for _, p := range paths {
		for i := 0; i < len(p); i++ {
			if p[i] == '.' && set[p[:i]] {
				return fmt.Errorf("%w at %q and %q", ErrConflict, p[:i], p)
			}
		}
	}
	return nil
}

// checkUpdateSize refuses an update over MaxUpdateOps operations or with
// a $each over MaxEachItems elements, before anything else is done with
// it.
func checkUpdateSize(doc map[string]any) error {
	n := 0
	for op, fields := range doc {
		m, ok := fields.(map[string]any)
		if !ok {
			continue
		}
		n += len(m)
		if op != "$push" && op != "$addToSet" {
			continue
		}
		for path, arg := range m {
			mods, ok := arg.(map[string]any)
			if !ok {
				continue
			}
			if each, ok := mods["$each"].([]any); ok && len(each) > MaxEachItems {
				return fmt.Errorf("%w: %s $each at %q has %d elements, the limit is %d (MaxEachItems)", ErrLimit, op, path, len(each), MaxEachItems)
			}
		}
	}
	if n > MaxUpdateOps {
		return fmt.Errorf("%w: the update has %d operations, the limit is %d (MaxUpdateOps)", ErrLimit, n, MaxUpdateOps)
	}
	return nil
}

// Ops returns the operations of the update sorted by operator, then path.
// Values are copies.
func (u *Update) Ops() []Op {
	out := make([]Op, len(u.ops))
	for i, o := range u.ops {
		out[i] = Op{Operator: o.Operator, Path: o.Path, Value: value.Clone(o.Value)}
	}
	return out
}

// EachOp calls fn with each operation, in the order of Ops: its operator,
// path and operand (as Op has them; the operand is not copied, and fn must
// not modify it). It lets packages beneath query, such as crdt, take a
// parsed update without importing query.
func (u *Update) EachOp(fn func(operator, path string, operand any)) {
	for _, o := range u.ops {
		fn(o.Operator, o.Path, o.Value)
	}
}

// Apply returns a new document: a deep copy of doc (normalized, see
// Normalize) with the update applied; doc itself is never modified, so an
// error leaves nothing half applied. now is used by $currentDate.
//
// Operations run in the order of Ops; their paths never overlap. Dot paths
// create missing intermediate objects (a numeric component creates an
// object field, except on an existing array where it indexes and, past the
// end, pads with nulls), and traversing a scalar or indexing an array with
// a non-numeric component is an error wrapping ErrTypeMismatch, except for
// $unset, $pull and $rename sources, which then do nothing. The result must
// be a valid document (see ValidateDocument).
func (u *Update) Apply(doc map[string]any, now time.Time) (map[string]any, error) {
	if doc == nil {
		doc = map[string]any{}
	}
	n, err := value.Normalize(doc)
	if err != nil {
		return nil, err
	}
	out := n.(map[string]any)
	for _, o := range u.ops {
		if err := o.apply(out, now); err != nil {
			return nil, err
		}
		if err := u.work.stopped(); err != nil {
			return nil, fmt.Errorf("%w (in %s at %q)", err, o.Operator, o.Path)
		}
	}
	if err := value.ValidateDocument(out); err != nil {
		return nil, err
	}
	return out, nil
}

// ApplyUpsert builds the document an upsert inserts when no document
// matches filter: it seeds a new document with the equality constraints
// of the filter's top-level conjunction (implicit equality and $eq, also
// under a top-level $and; dot paths become nested objects), then applies
// update (which may be nil). Two seeded equalities on overlapping paths
// with different values are an error wrapping ErrConflict. The caller
// assigns an _id when the result has none.
func ApplyUpsert(filter *Filter, update *Update, now time.Time) (map[string]any, error) {
	doc := map[string]any{}
	type seed struct {
		path string
		val  any
	}
	var seeds []seed
	if filter != nil {
		for _, n := range filter.conj {
			for _, o := range n.ops {
				if o.op != "$eq" {
					continue
				}
				dup := false
				for _, s := range seeds {
					if s.path == n.path && value.Equal(s.val, o.arg) {
						dup = true
					} else if conflict(s.path, n.path) {
						return nil, fmt.Errorf("%w: upsert filter has equalities at %q and %q", ErrConflict, s.path, n.path)
					}
				}
				if dup {
					continue
				}
				seeds = append(seeds, seed{n.path, o.arg})
				setSeed(doc, n.parts, value.Clone(o.arg))
			}
		}
	}
	if update == nil {
		if err := value.ValidateDocument(doc); err != nil {
			return nil, err
		}
		return doc, nil
	}
	return update.Apply(doc, now)
}

// setSeed sets a nested value, creating objects; seeds never overlap.
func setSeed(doc map[string]any, parts []string, v any) {
	cur := doc
	for _, p := range parts[:len(parts)-1] {
		next, ok := cur[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			cur[p] = next
		}
		cur = next
	}
	cur[parts[len(parts)-1]] = v
}
