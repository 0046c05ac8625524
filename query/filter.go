package query

import (
	"fmt"
	"math"
	"strings"

	"github.com/latticedb/lattice/value"
)

// Filter is a parsed query filter. The zero value and a nil *Filter match
// every document. A Filter is immutable and safe for concurrent use, except
// that its regex work budget (see RegexWork) is shared by every Match on
// it: parse one Filter per query.
type Filter struct {
	root andNode
	// conj is the top-level conjunction: the fields of the filter document
	// and, recursively, of the documents under a top-level $and.
	conj []*fieldNode
	work *meter
}

// ParseFilter parses a MongoDB-style filter document; see the package
// documentation for the operators. A nil or empty filter matches every
// document. The filter is normalized first (see Normalize), so Go integers
// and nested maps of any string-keyed map type are accepted. Errors wrap
// ErrUnknownOperator, ErrBadOperand, ErrBadPath or ErrInvalidValue and name
// the operator and path; patterns past MaxRegexLength or MaxRegexProgram
// wrap ErrLimit.
//
// Options bound the filter's regex work (RegexWork, DefaultRegexWork by
// default) and let a caller's deadline stop a long match (Interrupt). A
// match stopped that way is no match, and Err says why: a caller that
// scans checks Err and fails the query rather than return a partial
// answer.
func ParseFilter(f map[string]any, opts ...FilterOption) (*Filter, error) {
	flt := &Filter{work: newMeter(opts)}
	if len(f) == 0 {
		return flt, nil
	}
	n, err := value.Normalize(f)
	if err != nil {
		return nil, err
	}
	root, err := parseDoc(n.(map[string]any), "", &flt.conj, flt.work)
	if err != nil {
		return nil, err
	}
	flt.root = root
	return flt, nil
}

// Match reports whether doc satisfies the filter.
func (f *Filter) Match(doc map[string]any) bool {
	if f == nil {
		return true
	}
	return f.root.match(doc)
}

// Err reports why the filter stopped matching, or nil: a regex match ran
// past the filter's RegexWork (an error wrapping ErrLimit) or its
// Interrupt returned an error (wrapped as returned). Once set it stays
// set, and every later Match reports false.
func (f *Filter) Err() error {
	if f == nil {
		return nil
	}
	return f.work.stopped()
}

// node is a predicate over a whole document.
type node interface {
	match(doc map[string]any) bool
}

type andNode []node

func (n andNode) match(doc map[string]any) bool {
	for _, c := range n {
		if !c.match(doc) {
			return false
		}
	}
	return true
}

type orNode []node

func (n orNode) match(doc map[string]any) bool {
	for _, c := range n {
		if c.match(doc) {
			return true
		}
	}
	return false
}

type norNode []node

func (n norNode) match(doc map[string]any) bool {
	return !orNode(n).match(doc)
}

// opArg is one operator of a field condition with its operand; implicit
// equality is recorded as $eq.
type opArg struct {
	op  string
	arg any
}

// fieldNode applies a predicate to the branches a path reaches.
type fieldNode struct {
	path  string
	parts []string
	ops   []opArg
	pred  pred
}

func (n *fieldNode) match(doc map[string]any) bool {
	return n.pred.test(value.Branches(doc, n.parts, nil))
}

// pred is a predicate over the values a path reaches in one document (the
// missing marker stands for a branch that reaches nothing).
type pred interface {
	test(bs []any) bool
}

// valuePred holds when f holds for some branch value or, if expand is set
// and the value is an array, for one of its elements.
type valuePred struct {
	f      func(v any) bool
	expand bool
}

func (p valuePred) test(bs []any) bool {
	for _, b := range bs {
		if p.f(b) {
			return true
		}
		if arr, ok := b.([]any); ok && p.expand {
			for _, e := range arr {
				if p.f(e) {
					return true
				}
			}
		}
	}
	return false
}

type notPred struct{ p pred }

func (p notPred) test(bs []any) bool { return !p.p.test(bs) }

type allPred []pred

func (p allPred) test(bs []any) bool {
	for _, q := range p {
		if !q.test(bs) {
			return false
		}
	}
	return true
}

type existsPred bool

func (p existsPred) test(bs []any) bool {
	found := false
	for _, b := range bs {
		if b != value.Missing {
			found = true
			break
		}
	}
	return found == bool(p)
}

type sizePred int

func (p sizePred) test(bs []any) bool {
	for _, b := range bs {
		if arr, ok := b.([]any); ok && len(arr) == int(p) {
			return true
		}
	}
	return false
}

// elemMatchPred holds when some branch is an array with an element that
// satisfies value (operator form) or query (sub-document form).
type elemMatchPred struct {
	value pred
	query node
}

func (p elemMatchPred) test(bs []any) bool {
	for _, b := range bs {
		arr, ok := b.([]any)
		if !ok {
			continue
		}
		for _, e := range arr {
			if p.matchElem(e) {
				return true
			}
		}
	}
	return false
}

func (p elemMatchPred) matchElem(e any) bool {
	if p.value != nil {
		return p.value.test([]any{e})
	}
	m, ok := e.(map[string]any)
	return ok && p.query.match(m)
}

func eqFunc(x any) func(any) bool {
	return func(v any) bool { return value.Equal(v, x) }
}

// inHashMin is the size from which $in and $nin look values up in a hashed
// set instead of comparing with each member.
const inHashMin = 8

// inFunc implements the membership test of $in and $nin: a value equal to
// one of xs or a string matched by one of res. Small lists are scanned;
// larger ones become a set keyed by EncodeKey, whose bytes are equal
// exactly when Compare reports equality (int64(1) and float64(1) share a
// key, null and a missing field too), so both forms agree.
func inFunc(xs []any, res []*regex) func(any) bool {
	eq := inValues(xs)
	if len(res) == 0 {
		return eq
	}
	return func(v any) bool {
		if eq(v) {
			return true
		}
		s, ok := v.(string)
		if !ok {
			return false
		}
		for _, re := range res {
			if re.MatchString(s) {
				return true
			}
		}
		return false
	}
}

func inValues(xs []any) func(any) bool {
	if len(xs) < inHashMin {
		return func(v any) bool {
			for _, x := range xs {
				if value.Equal(v, x) {
					return true
				}
			}
			return false
		}
	}
	set := make(map[string]struct{}, len(xs))
	for _, x := range xs {
		set[string(value.EncodeKey(x))] = struct{}{}
	}
	return func(v any) bool {
		var buf [32]byte
		_, ok := set[string(value.AppendKey(buf[:0], v))]
		return ok
	}
}

// cmpFunc implements $gt, $gte, $lt and $lte: only values of the operand's
// type class compare (a missing field compares as null).
func cmpFunc(op string, x any) func(any) bool {
	cx := value.ClassOf(x)
	return func(v any) bool {
		if value.ClassOf(v) != cx {
			return false
		}
		c := value.Compare(v, x)
		switch op {
		case "$gt":
			return c > 0
		case "$gte":
			return c >= 0
		case "$lt":
			return c < 0
		}
		return c <= 0
	}
}

func isLogical(k string) bool {
	return k == "$and" || k == "$or" || k == "$nor"
}

// parseDoc parses a filter document. ctx prefixes paths in error messages
// (inside $elemMatch). When conj is not nil the fields are appended to it.
func parseDoc(m map[string]any, ctx string, conj *[]*fieldNode, w *meter) (andNode, error) {
	var out andNode
	for _, k := range value.SortedKeys(m) {
		v := m[k]
		if strings.HasPrefix(k, "$") {
			if !isLogical(k) {
				where := "top level"
				if ctx != "" {
					where = fmt.Sprintf("%q", ctx)
				}
				return nil, fmt.Errorf("%w %q at %s", ErrUnknownOperator, k, where)
			}
			n, err := parseLogical(k, v, ctx, conj, w)
			if err != nil {
				return nil, err
			}
			out = append(out, n)
			continue
		}
		n, err := parseField(k, v, ctx, w)
		if err != nil {
			return nil, err
		}
		if conj != nil {
			*conj = append(*conj, n)
		}
		out = append(out, n)
	}
	return out, nil
}

func parseLogical(op string, v any, ctx string, conj *[]*fieldNode, w *meter) (node, error) {
	arr, ok := v.([]any)
	if !ok || len(arr) == 0 {
		return nil, fmt.Errorf("%w: %s needs a non-empty array of filter documents, got %s", ErrBadOperand, op, value.TypeName(v))
	}
	if op != "$and" {
		conj = nil // a disjunction constrains no field for planning
	}
	children := make([]node, len(arr))
	for i, e := range arr {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%w: %s element %d must be a filter document, got %s", ErrBadOperand, op, i, value.TypeName(e))
		}
		n, err := parseDoc(m, ctx, conj, w)
		if err != nil {
			return nil, err
		}
		children[i] = n
	}
	switch op {
	case "$and":
		return andNode(children), nil
	case "$or":
		return orNode(children), nil
	}
	return norNode(children), nil
}

func parseField(path string, v any, ctx string, w *meter) (*fieldNode, error) {
	errPath := value.JoinPath(ctx, path)
	parts, err := value.SplitPath(path)
	if err != nil {
		return nil, err
	}
	n := &fieldNode{path: path, parts: parts}
	if m, ok := v.(map[string]any); ok {
		isOps, err := operatorDoc(m, errPath)
		if err != nil {
			return nil, err
		}
		if isOps {
			n.pred, n.ops, err = parseOps(m, errPath, true, w)
			if err != nil {
				return nil, err
			}
			return n, nil
		}
	}
	n.pred = valuePred{f: eqFunc(v), expand: true}
	n.ops = []opArg{{"$eq", v}}
	return n, nil
}

// operatorDoc reports whether m is an operator expression (all keys start
// with '$'); mixing operators and field names is an error.
func operatorDoc(m map[string]any, errPath string) (bool, error) {
	var op, field string
	for k := range m {
		if strings.HasPrefix(k, "$") {
			op = k
		} else {
			field = k
		}
	}
	if op != "" && field != "" {
		return false, fmt.Errorf("%w: operator %q mixed with field %q at %q", ErrBadOperand, op, field, errPath)
	}
	return op != "", nil
}

// parseOps parses an operator expression such as {"$gt": 1, "$lt": 5}.
// expand selects MongoDB's implicit array traversal for comparisons (off
// for the element predicates of $elemMatch and $pull).
func parseOps(m map[string]any, path string, expand bool, w *meter) (pred, []opArg, error) {
	var preds allPred
	var ops []opArg
	for _, op := range value.SortedKeys(m) {
		arg := m[op]
		p, err := parseOp(op, arg, m, path, expand, w)
		if err != nil {
			return nil, nil, err
		}
		if p == nil { // $options, consumed by $regex
			continue
		}
		preds = append(preds, p)
		ops = append(ops, opArg{op, arg})
	}
	if len(preds) == 1 {
		return preds[0], ops, nil
	}
	return preds, ops, nil
}

func parseOp(op string, arg any, m map[string]any, path string, expand bool, w *meter) (pred, error) {
	switch op {
	case "$eq":
		return valuePred{eqFunc(arg), expand}, nil
	case "$ne":
		return notPred{valuePred{eqFunc(arg), expand}}, nil
	case "$gt", "$gte", "$lt", "$lte":
		return valuePred{cmpFunc(op, arg), expand}, nil
	case "$in", "$nin", "$all":
		arr, err := valueList(op, arg, path)
		if err != nil {
			return nil, err
		}
		switch op {
		case "$in", "$nin":
			vals, res, err := splitRegexMembers(op, arr, path, w)
			if err != nil {
				return nil, err
			}
			in := valuePred{inFunc(vals, res), expand}
			if op == "$nin" {
				return notPred{in}, nil
			}
			return in, nil
		}
		if len(arr) == 0 {
			return allPred{valuePred{f: func(any) bool { return false }}}, nil
		}
		all := make(allPred, len(arr))
		for i, x := range arr {
			all[i] = valuePred{eqFunc(x), expand}
		}
		return all, nil
	case "$exists":
		switch a := arg.(type) {
		case bool:
			return existsPred(a), nil
		case int64:
			return existsPred(a != 0), nil
		case float64:
			return existsPred(a != 0), nil
		}
		return nil, fmt.Errorf("%w: $exists needs a boolean at %q, got %s", ErrBadOperand, path, value.TypeName(arg))
	case "$regex":
		re, err := compileRegex(arg, m["$options"], path, w)
		if err != nil {
			return nil, err
		}
		return valuePred{func(v any) bool {
			s, ok := v.(string)
			return ok && re.MatchString(s)
		}, expand}, nil
	case "$options":
		if _, ok := m["$regex"]; !ok {
			return nil, fmt.Errorf("%w: $options needs $regex at %q", ErrBadOperand, path)
		}
		return nil, nil
	case "$size":
		n, ok := intArg(arg)
		if !ok || n < 0 {
			return nil, fmt.Errorf("%w: $size needs a non-negative integer at %q, got %s", ErrBadOperand, path, describe(arg))
		}
		return sizePred(n), nil
	case "$not":
		sub, ok := arg.(map[string]any)
		if !ok || len(sub) == 0 {
			return nil, fmt.Errorf("%w: $not needs an operator document such as {\"$gt\": 1} or {\"$regex\": \"p\"} at %q, got %s", ErrBadOperand, path, describe(arg))
		}
		isOps, err := operatorDoc(sub, path)
		if err != nil {
			return nil, err
		}
		if !isOps {
			return nil, fmt.Errorf("%w: $not needs operators, not a document with fields, at %q", ErrBadOperand, path)
		}
		p, _, err := parseOps(sub, path, expand, w)
		if err != nil {
			return nil, err
		}
		return notPred{p}, nil
	case "$elemMatch":
		return parseElemMatch(arg, path, w)
	}
	return nil, fmt.Errorf("%w %q at %q", ErrUnknownOperator, op, path)
}

func parseElemMatch(arg any, path string, w *meter) (pred, error) {
	sub, ok := arg.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: $elemMatch needs a document at %q, got %s", ErrBadOperand, path, value.TypeName(arg))
	}
	logical := false
	for k := range sub {
		logical = logical || isLogical(k)
	}
	if !logical {
		isOps, err := operatorDoc(sub, path)
		if err != nil {
			return nil, err
		}
		if isOps {
			p, _, err := parseOps(sub, path, false, w)
			if err != nil {
				return nil, err
			}
			return elemMatchPred{value: p}, nil
		}
	}
	q, err := parseDoc(sub, path, nil, w)
	if err != nil {
		return nil, err
	}
	return elemMatchPred{query: q}, nil
}

// valueList checks the array operand of $in, $nin and $all.
func valueList(op string, arg any, path string) ([]any, error) {
	arr, ok := arg.([]any)
	if !ok {
		return nil, fmt.Errorf("%w: %s needs an array at %q, got %s", ErrBadOperand, op, path, value.TypeName(arg))
	}
	for _, x := range arr {
		if m, ok := x.(map[string]any); ok {
			if op != "$all" && isRegexMember(m) {
				continue
			}
			for k := range m {
				if strings.HasPrefix(k, "$") {
					return nil, fmt.Errorf("%w: %s cannot contain operator %q at %q", ErrBadOperand, op, k, path)
				}
			}
		}
	}
	return arr, nil
}

// isRegexMember reports whether x is a regular expression member of $in
// or $nin, written {"$regex": pattern} or {"$regex": pattern, "$options":
// flags} where MongoDB takes /pattern/flags.
func isRegexMember(x any) bool {
	m, ok := x.(map[string]any)
	if !ok {
		return false
	}
	_, re := m["$regex"]
	_, opts := m["$options"]
	return re && (len(m) == 1 || (len(m) == 2 && opts))
}

// splitRegexMembers separates the values of an $in or $nin list from its
// regular expressions, compiled.
func splitRegexMembers(op string, arr []any, path string, w *meter) ([]any, []*regex, error) {
	var vals []any
	var res []*regex
	for _, x := range arr {
		if !isRegexMember(x) {
			vals = append(vals, x)
			continue
		}
		m := x.(map[string]any)
		re, err := compileRegex(m["$regex"], m["$options"], path, w)
		if err != nil {
			return nil, nil, fmt.Errorf("%w (in %s)", err, op)
		}
		res = append(res, re)
	}
	return vals, res, nil
}

// compileRegex compiles a $regex pattern with $options i, m and s. The x
// option has no RE2 equivalent and is rejected.
func compileRegex(pattern, options any, path string, w *meter) (*regex, error) {
	pat, ok := pattern.(string)
	if !ok {
		return nil, fmt.Errorf("%w: $regex needs a string pattern at %q, got %s", ErrBadOperand, path, value.TypeName(pattern))
	}
	flags := ""
	if options != nil {
		opts, ok := options.(string)
		if !ok {
			return nil, fmt.Errorf("%w: $options needs a string at %q, got %s", ErrBadOperand, path, value.TypeName(options))
		}
		for _, r := range opts {
			switch r {
			case 'i', 'm', 's':
				if !strings.ContainsRune(flags, r) {
					flags += string(r)
				}
			case 'x':
				return nil, fmt.Errorf("%w: $regex: option \"x\" (extended) is not supported at %q", ErrBadOperand, path)
			default:
				return nil, fmt.Errorf("%w: $regex: unknown option %q at %q", ErrBadOperand, string(r), path)
			}
		}
	}
	if flags != "" {
		pat = "(?" + flags + ")" + pat
	}
	return compilePattern(pat, pattern.(string), path, w)
}

// intArg returns v as an int when it is an integral number of moderate size.
func intArg(v any) (int, bool) {
	switch n := v.(type) {
	case int64:
		if n >= math.MinInt32 && n <= math.MaxInt32 {
			return int(n), true
		}
	case float64:
		if n == math.Trunc(n) && n >= math.MinInt32 && n <= math.MaxInt32 {
			return int(n), true
		}
	}
	return 0, false
}

// describe renders a value for an error message.
func describe(v any) string {
	switch v.(type) {
	case map[string]any, []any:
		return value.TypeName(v)
	case string:
		return fmt.Sprintf("%q", v)
	case nil:
		return "null"
	}
	return fmt.Sprint(v)
}
