package crdt

import (
	"bytes"
	"encoding/json"
	"math"
	"sort"
	"strings"

	"github.com/latticedb/lattice/value"
)

// Entry is one live key of a database and its current value, as go-ds-crdt
// materialises it.
type Entry struct {
	Key   string
	Value []byte
}

// Doc is the CRDT state of one document: its incarnation and every key
// below it. It is built from entries with Assemble and turned into JSON with
// Materialize. A Doc is immutable once assembled.
type Doc struct {
	Coll, ID string
	// Marker is the incarnation shown (the live one of highest Gen, ties to
	// the larger Inc) and its base: every live creator's base of that
	// incarnation merged field by field.
	Marker Marker
	Exists bool                   // a live base (or legacy marker) is present
	Fields map[string]*FieldState // keys of the current incarnation, by top-level field
	// Paths are the keys of nested paths ("a.b") of the current
	// incarnation, by path: as Fields, for paths.
	Paths map[string]*FieldState
	// Graves are the deleted incarnations a replica has seen buried and not
	// yet superseded, by incarnation: their lineage length. An insert
	// derives its incarnation from them.
	Graves map[string]uint64
	Raw    map[string][]byte // every live key of the document (any incarnation) and its value
}

// FieldState is what a document holds for one top-level field beyond its
// base value.
type FieldState struct {
	Reg      *Register
	RegRaw   []byte                        // the encoded register, its identity for epochs
	Counters map[string]map[string]any     // epoch -> replica -> contribution
	Sets     map[string]map[string]SetElem // epoch -> element key suffix (hash, or hash-n for a duplicate) -> element
}

// field returns the state of a top-level field, or of a nested path.
func (d *Doc) field(name string) *FieldState {
	m := &d.Fields
	if strings.Contains(name, ".") {
		m = &d.Paths
	}
	if *m == nil {
		*m = make(map[string]*FieldState)
	}
	f := (*m)[name]
	if f == nil {
		f = &FieldState{}
		(*m)[name] = f
	}
	return f
}

// creation is one creator's base of an incarnation.
type creation struct {
	gen  uint64
	base map[string]any
}

type parsedEntry struct {
	k   Key
	val []byte
}

// Assemble builds a document's state from its live keys: its bases (and a
// legacy marker, if present), graves, and every other key below it, with
// their values. Keys that do not decode are kept in Raw (so a delete removes
// them) but otherwise skipped, and counted in the second result: a corrupt
// or hostile key never hides the rest of the document.
func Assemble(coll, id string, raw map[string][]byte) (*Doc, int) {
	d := &Doc{Coll: coll, ID: id, Raw: raw}
	if d.Raw == nil {
		d.Raw = map[string][]byte{}
	}
	bad := 0
	var incs map[string][]creation
	addBase := func(inc string, c creation) {
		if incs == nil {
			incs = make(map[string][]creation, 1)
		}
		incs[inc] = append(incs[inc], c)
	}
	var rest []parsedEntry
	for key, val := range raw {
		k, err := ParseKey(key)
		if err != nil || k.Coll != coll || k.ID != id {
			bad++
			continue
		}
		switch k.Kind {
		case KindDoc:
			m, err := DecodeMarker(val)
			if err != nil {
				bad++
				continue
			}
			addBase(m.Inc, creation{gen: m.Gen, base: m.Base})
		case KindBase:
			gen, base, err := DecodeBase(val)
			if err != nil || k.Inc == "" {
				bad++
				continue
			}
			addBase(k.Inc, creation{gen: gen, base: base})
		case KindGrave:
			gen, err := DecodeGrave(val)
			if err != nil {
				bad++
				continue
			}
			if d.Graves == nil {
				d.Graves = make(map[string]uint64, 1)
			}
			d.Graves[k.Inc] = gen
		default:
			rest = append(rest, parsedEntry{k, val})
		}
	}
	for inc, cs := range incs {
		gen := cs[0].gen
		for _, c := range cs[1:] {
			gen = max(gen, c.gen)
		}
		if !d.Exists || gen > d.Marker.Gen || gen == d.Marker.Gen && inc > d.Marker.Inc {
			d.Marker, d.Exists = Marker{Inc: inc, Gen: gen}, true
		}
	}
	if !d.Exists {
		return d, bad
	}
	d.Marker.Base = mergeBases(incs[d.Marker.Inc])
	for _, e := range rest {
		k, val := e.k, e.val
		if k.Inc != d.Marker.Inc {
			continue // another incarnation's garbage
		}
		switch k.Kind {
		case KindField:
			r, err := DecodeRegister(val)
			if err != nil || (r.Parent != "") != strings.Contains(k.Field, ".") {
				bad++
				continue
			}
			f := d.field(k.Field)
			f.Reg, f.RegRaw = &r, val
		case KindCounter:
			n, err := DecodeNumber(val)
			if err != nil {
				bad++
				continue
			}
			f := d.field(k.Field)
			if f.Counters == nil {
				f.Counters = make(map[string]map[string]any)
			}
			if f.Counters[k.Epoch] == nil {
				f.Counters[k.Epoch] = make(map[string]any)
			}
			f.Counters[k.Epoch][k.Sub] = n
		case KindSetElem:
			e, err := DecodeSetElem(val)
			if err != nil || ValueHash(e.Value) != subHash(k.Sub) {
				bad++
				continue
			}
			f := d.field(k.Field)
			if f.Sets == nil {
				f.Sets = make(map[string]map[string]SetElem)
			}
			if f.Sets[k.Epoch] == nil {
				f.Sets[k.Epoch] = make(map[string]SetElem)
			}
			f.Sets[k.Epoch][k.Sub] = e
		}
	}
	return d, bad
}

// mergeBases merges the bases concurrent creators wrote for one
// incarnation: every field any of them has, and for a field several have,
// the value whose JSON encoding is byte-wise larger (the register rule's
// tie-break: a creation carries no DAG height of its own). A single base is
// returned as is.
func mergeBases(cs []creation) map[string]any {
	if len(cs) == 1 {
		return cs[0].base
	}
	out := map[string]any{}
	enc := map[string][]byte{}
	for _, c := range cs {
		for k, v := range c.base {
			e, err := json.Marshal(v)
			if err != nil {
				continue
			}
			if cur, ok := enc[k]; !ok || bytes.Compare(e, cur) > 0 {
				out[k], enc[k] = v, e
			}
		}
	}
	return out
}

// With returns the state the document has after mutations are applied
// locally: a Put makes its value current (a local write always has the
// highest priority), a Delete removes the key. d is not modified.
func (d *Doc) With(muts []Mutation) *Doc {
	prefix := DocPrefix(d.Coll, d.ID)
	raw := make(map[string][]byte, len(d.Raw)+len(muts))
	for k, v := range d.Raw {
		raw[k] = v
	}
	for _, m := range muts {
		if m.Key != prefix && !hasPathPrefix(m.Key, prefix) {
			continue
		}
		if m.Delete {
			delete(raw, m.Key)
		} else {
			raw[m.Key] = m.Value
		}
	}
	nd, _ := Assemble(d.Coll, d.ID, raw)
	return nd
}

func hasPathPrefix(k, prefix string) bool {
	return len(k) > len(prefix) && k[:len(prefix)] == prefix && k[len(prefix)] == '/'
}

// Materialize returns the JSON document a Doc stands for, or nil when the
// document does not exist. The result may share memory with the Doc (a
// document never updated since its insert is its base): callers must not
// modify it; value.Clone it first.
func (d *Doc) Materialize() map[string]any {
	if !d.Exists {
		return nil
	}
	if len(d.Fields) == 0 && len(d.Paths) == 0 {
		return d.Marker.Base
	}
	out := value.Clone(d.Marker.Base).(map[string]any)
	d.applyFields(out)
	if len(d.Paths) > 0 {
		d.applyPaths(out)
	}
	return out
}

// applyFields applies the registers of top-level fields to out.
func (d *Doc) applyFields(out map[string]any) {
	for name, f := range d.Fields {
		if name == "_id" || f.Reg == nil {
			continue
		}
		switch f.Reg.Kind {
		case RegValue:
			out[name] = value.Clone(f.Reg.Value)
		case RegUnset:
			delete(out, name)
		case RegCounter:
			// Counted from the base, whichever creators' it merges.
			out[name] = f.counterValue(d.Marker.Base[name])
		case RegSet:
			out[name] = setElements(f.Sets[f.Reg.Epoch])
		}
	}
}

// counterValue is the value of a counter register: its base (or, for a
// nil base, from, when it is a number) plus every contribution, summed in
// replica order so float rounding is the same everywhere.
func (f *FieldState) counterValue(from any) any {
	sum := f.Reg.Value
	if sum == nil {
		sum = int64(0)
		if _, ok := asNumber(from); ok {
			sum = from
		}
	}
	contrib := f.Counters[f.Reg.Epoch]
	reps := make([]string, 0, len(contrib))
	for r := range contrib {
		reps = append(reps, r)
	}
	sort.Strings(reps)
	for _, r := range reps {
		sum = addNumbers(sum, contrib[r])
	}
	return sum
}

// ShownPaths returns the identity of every path (top-level fields
// included) whose register the document shows: a nested path's register
// hidden by an assignment of an ancestor is not in it.
func (d *Doc) ShownPaths() map[string]string {
	if !d.Exists {
		return map[string]string{}
	}
	out := value.Clone(d.Marker.Base).(map[string]any)
	d.applyFields(out)
	return d.applyPaths(out)
}

// regIdentity is the identity a register gives the paths below its own.
func regIdentity(raw []byte) string { return epochOf("reg:" + string(raw)) }

// baseIdentity is the identity of paths no register covers.
func (d *Doc) baseIdentity() string { return epochOf("base:" + d.Marker.Inc) }

// applyPaths applies the registers of nested paths to out, shallowest
// first, and returns the identity of every path that holds a register
// shown (top-level fields included). A path register shows only when its
// parent is the identity of its nearest ancestor shown (or the base when
// none is): a later or concurrent assignment of an ancestor hides it, and
// it only applies where the path leads through objects (creating the
// missing ones, as the writer saw them).
func (d *Doc) applyPaths(out map[string]any) map[string]string {
	shown := map[string]string{}
	for name, f := range d.Fields {
		if f.Reg != nil {
			shown[name] = regIdentity(f.RegRaw)
		}
	}
	paths := make([]string, 0, len(d.Paths))
	for p := range d.Paths {
		paths = append(paths, p)
	}
	sort.Slice(paths, func(i, j int) bool {
		di, dj := strings.Count(paths[i], "."), strings.Count(paths[j], ".")
		if di != dj {
			return di < dj
		}
		return paths[i] < paths[j]
	})
	for _, p := range paths {
		ps := d.Paths[p]
		if ps.Reg == nil || ps.Reg.Parent != d.parentIdentity(p, shown) {
			continue
		}
		parts := strings.Split(p, ".")
		m, ok := out, true
		for _, seg := range parts[:len(parts)-1] {
			next, exists := m[seg]
			if !exists {
				// The writer saw the path lead through objects.
				nm := map[string]any{}
				m[seg], m = nm, nm
				continue
			}
			nm, isMap := next.(map[string]any)
			if !isMap {
				ok = false
				break
			}
			m = nm
		}
		if !ok {
			continue
		}
		last := parts[len(parts)-1]
		switch ps.Reg.Kind {
		case RegValue:
			m[last] = value.Clone(ps.Reg.Value)
		case RegUnset:
			delete(m, last)
		case RegCounter:
			m[last] = ps.counterValue(m[last])
		case RegSet:
			m[last] = setElements(ps.Sets[ps.Reg.Epoch])
		}
		shown[p] = regIdentity(ps.RegRaw)
	}
	return shown
}

// parentIdentity is the identity of the nearest proper ancestor of path p
// that shows a register, or the base's.
func (d *Doc) parentIdentity(p string, shown map[string]string) string {
	for i := len(p) - 1; i > 0; i-- {
		if p[i] == '.' {
			if id, ok := shown[p[:i]]; ok {
				return id
			}
		}
	}
	return d.baseIdentity()
}

// asNumber reports whether v is a number, as a float64.
func asNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	case int:
		return float64(x), true
	}
	return 0, false
}

// addNumbers adds two numbers, staying int64 unless either is a float or the
// sum overflows.
func addNumbers(a, b any) any {
	ai, aInt := a.(int64)
	bi, bInt := b.(int64)
	if aInt && bInt {
		s := ai + bi
		if (s > ai) == (bi > 0) {
			return s
		}
	}
	af, _ := asNumber(a)
	bf, _ := asNumber(b)
	s := af + bf
	if math.IsInf(s, 0) || math.IsNaN(s) {
		return af // refuse to store a non-JSON number; keep the old value
	}
	return s
}

// subNumbers returns a-b with the same typing rules as addNumbers.
func subNumbers(a, b any) any {
	switch x := b.(type) {
	case int64:
		if x != math.MinInt64 {
			return addNumbers(a, -x)
		}
		return addNumbers(a, -float64(x))
	case float64:
		return addNumbers(a, -x)
	}
	return a
}
