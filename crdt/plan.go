package crdt

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/latticedb/lattice/value"
)

// Update is a parsed update document, as package query's *Update is: the
// planners apply it and plan keys for each of its operations. crdt takes it
// through this interface so that it depends on the value model only.
type Update interface {
	// Apply returns the document with the update applied, without
	// modifying doc; now is the time $currentDate uses.
	Apply(doc map[string]any, now time.Time) (map[string]any, error)
	// EachOp calls fn with each operation in order: its operator ("$set",
	// ...), its dot path and its operand ($rename's is the target path).
	EachOp(fn func(operator, path string, operand any))
}

// Op is one operation of an Update.
type Op struct {
	Operator string
	Path     string
	Value    any
}

// opsOf lists an update's operations.
func opsOf(upd Update) []Op {
	var ops []Op
	upd.EachOp(func(operator, path string, operand any) {
		ops = append(ops, Op{Operator: operator, Path: path, Value: operand})
	})
	return ops
}

// Mutation is one key change a write makes: a Put of Value, or a Delete.
type Mutation struct {
	Key    string
	Value  []byte
	Delete bool
}

// Writer identifies the replica planning a write and the entropy it uses.
type Writer struct {
	Replica string    // this replica's stable identity (its peer ID)
	Nonce   string    // unique per write; see NewNonce
	Now     time.Time // for $currentDate
}

// Plan is the outcome of planning a write against a document.
type Plan struct {
	Doc       map[string]any // the document after the write, nil when deleted
	Mutations []Mutation
	Modified  bool // whether the visible document changed
	// State is the document's CRDT state after the write when the planner
	// knows it without re-assembling (inserts); nil otherwise.
	State *Doc
	// Size is the encoded size of the document's marker for inserts and
	// replaces, the bound on what a document costs to store.
	Size int
}

// PlanInsert plans the creation of a document that cur (its current state)
// says does not exist: one base key holding the whole document, whatever its
// size. doc must already be canonical and carry its _id; the plan keeps it
// (it must not be modified afterwards).
//
// The incarnation is not fresh: it is derived from the graves cur holds, so
// every replica that creates the _id having seen the same deletions (none,
// usually) creates the same incarnation, and concurrent creations merge
// field by field. A creation after a delete has seen its grave, so it never
// shares the deleted incarnation's keys.
func PlanInsert(cur *Doc, doc map[string]any, w Writer) (Plan, error) {
	if cur.Exists {
		return Plan{}, ErrExists
	}
	inc, gen := creationInc(cur.Graves)
	return planBase(cur, inc, gen, doc, w)
}

// creationInc derives the incarnation a creation starts from the graves its
// creator has seen: "0" for a document never deleted, otherwise a hash of the
// buried incarnations, one generation beyond the longest of them.
func creationInc(graves map[string]uint64) (string, uint64) {
	if len(graves) == 0 {
		return "0", 0
	}
	incs := make([]string, 0, len(graves))
	var gen uint64
	for inc, g := range graves {
		incs = append(incs, inc)
		gen = max(gen, g)
	}
	sort.Strings(incs)
	sum := sha256.Sum256([]byte(strings.Join(incs, "/")))
	return "c" + hex.EncodeToString(sum[:8]), gen + 1
}

// planBase plans writing doc as this writer's base of incarnation inc.
func planBase(cur *Doc, inc string, gen uint64, doc map[string]any, w Writer) (Plan, error) {
	if w.Nonce == "" || Escape(w.Nonce) != w.Nonce {
		return Plan{}, fmt.Errorf("%w: nonce %q", ErrBadValue, w.Nonce)
	}
	v, err := EncodeBase(gen, doc)
	if err != nil {
		return Plan{}, err
	}
	key := BaseKey(cur.Coll, cur.ID, inc, w.Nonce)
	p := Plan{
		Doc:       doc,
		Mutations: []Mutation{{Key: key, Value: v}},
		Modified:  true,
		Size:      len(v),
	}
	if len(cur.Raw) == 0 {
		m := Marker{Inc: inc, Gen: gen, Base: doc}
		p.State = &Doc{Coll: cur.Coll, ID: cur.ID, Marker: m, Exists: true, Raw: map[string][]byte{key: v}}
	}
	return p, nil
}

// PlanUpsert plans the creation of a document by an update with upsert: the
// insert of seed (the filter's equality fields and the _id), then upd
// applied to it as PlanUpdate applies updates, so that concurrent upserts
// merge like concurrent updates ($inc of a missing field is a counter whose
// increments add up, $addToSet a set). The plan's Doc is what
// package query's ApplyUpsert makes of the same filter and update; its Size is the
// seed's base.
func PlanUpsert(cur *Doc, seed map[string]any, upd Update, w Writer) (Plan, error) {
	ins, err := PlanInsert(cur, seed, w)
	if err != nil {
		return Plan{}, err
	}
	st := ins.State
	if st == nil {
		st = cur.With(ins.Mutations)
	}
	p, err := PlanUpdate(st, upd, w)
	if err != nil {
		return Plan{}, err
	}
	p.Mutations = append(ins.Mutations, p.Mutations...)
	p.Modified, p.Size, p.State = true, ins.Size, nil
	return p, nil
}

// PlanReplace plans replacing an existing document wholesale: a new
// incarnation (a fresh nonce, one generation beyond the current one, so it
// wins over any incarnation it replaced that is still live somewhere), and
// deletes of every key the document has. Concurrent updates to the old
// incarnation no longer show.
func PlanReplace(cur *Doc, doc map[string]any, w Writer) (Plan, error) {
	if !cur.Exists {
		return Plan{}, ErrNoDocument
	}
	p, err := planBase(cur, w.Nonce, cur.Marker.Gen+1, doc, w)
	if err != nil {
		return Plan{}, err
	}
	for _, k := range sortedKeys(cur.Raw) {
		p.Mutations = append(p.Mutations, Mutation{Key: k, Delete: true})
	}
	p.Modified = !value.Equal(cur.Materialize(), doc)
	p.State = nil // the deletes change Raw: re-assemble
	return p, nil
}

// PlanDelete plans deleting a document: every key it has is removed, and
// every incarnation with a live base gets a grave, so that a later insert
// starts an incarnation of its own.
func PlanDelete(cur *Doc) Plan {
	p := Plan{Modified: cur.Exists}
	graves := map[string]uint64{}
	for key, val := range cur.Raw {
		k, err := ParseKey(key)
		if err != nil {
			continue
		}
		switch k.Kind {
		case KindBase:
			if gen, _, err := DecodeBase(val); err == nil {
				graves[k.Inc] = max(graves[k.Inc], gen)
			}
		case KindDoc:
			if m, err := DecodeMarker(val); err == nil {
				graves[m.Inc] = max(graves[m.Inc], m.Gen)
			}
		}
	}
	put := map[string]bool{}
	for _, inc := range sortedKeysAny(graves) {
		k := GraveKey(cur.Coll, cur.ID, inc)
		put[k] = true
		p.Mutations = append(p.Mutations, Mutation{Key: k, Value: EncodeGrave(graves[inc])})
	}
	for _, k := range sortedKeys(cur.Raw) {
		if !put[k] {
			p.Mutations = append(p.Mutations, Mutation{Key: k, Delete: true})
		}
	}
	return p
}

// PlanUpdate plans applying update operators to an existing document.
//
// Each touched top-level field becomes one of:
//   - a counter increment, for $inc of a number or missing field;
//   - add-wins set element puts, for $addToSet of an array or missing field;
//   - set element deletes, for $pull of a field that is already a set;
//   - otherwise a register write of the field's new value (or an unset).
//
// The update either plans completely or returns an error and plans nothing.
func PlanUpdate(cur *Doc, upd Update, w Writer) (Plan, error) {
	if !cur.Exists {
		return Plan{}, ErrNoDocument
	}
	if w.Nonce == "" || Escape(w.Nonce) != w.Nonce {
		return Plan{}, fmt.Errorf("%w: nonce %q", ErrBadValue, w.Nonce)
	}
	old := cur.Materialize()
	next, err := upd.Apply(old, w.Now)
	if err != nil {
		return Plan{}, err
	}
	p := Plan{Doc: next}

	// Group operators by the top-level field they touch.
	byField := map[string][]Op{}
	for _, op := range opsOf(upd) {
		byField[topField(op.Path)] = append(byField[topField(op.Path)], op)
		if op.Operator == "$rename" {
			if to, ok := op.Value.(string); ok {
				byField[topField(to)] = append(byField[topField(to)], op)
			}
		}
	}
	fields := make([]string, 0, len(byField))
	for f := range byField {
		fields = append(fields, f)
	}
	sort.Strings(fields)

	inc := cur.Marker.Inc
	var keys rawKeys            // cur.Raw's keys, sorted on demand
	var shown map[string]string // identities of the paths shown, computed on demand
	held := false               // a conversion found contributions or elements under its epoch
	for _, name := range fields {
		ops := byField[name]
		newVal, has := next[name]
		oldVal, hadOld := old[name]
		single := len(ops) == 1 && ops[0].Path == name
		unchanged := has == hadOld && (!has || value.Equal(oldVal, newVal) && sameKind(oldVal, newVal))
		if !unchanged {
			p.Modified = true
		}
		if nestedPaths(name, ops, old, next) {
			if shown == nil {
				shown = cur.ShownPaths()
			}
			muts, err := planPaths(cur, &keys, ops, old, next, shown, w, &held)
			if err != nil {
				return Plan{}, err
			}
			p.Mutations = append(p.Mutations, muts...)
			continue
		}
		// A re-add to a set changes nothing visible but must still write:
		// add-wins means it survives a concurrent $pull of the element.
		readd := single && ops[0].Operator == "$addToSet" && has
		if unchanged && !readd {
			continue
		}
		fs := cur.Fields[name]
		if fs == nil {
			fs = &FieldState{}
		}
		switch {
		case single && ops[0].Operator == "$inc" && has:
			muts, err := planIncrement(cur, name, "", fs, oldVal, newVal, w, &held)
			if err != nil {
				return Plan{}, err
			}
			p.Mutations = append(p.Mutations, muts...)
		case single && ops[0].Operator == "$addToSet" && has:
			muts, err := planSetAdd(cur, name, "", fs, newVal, ops[0].Value, w, &held)
			if err != nil {
				return Plan{}, err
			}
			p.Mutations = append(p.Mutations, muts...)
		case single && ops[0].Operator == "$pull" && has && fs.Reg != nil && fs.Reg.Kind == RegSet:
			p.Mutations = append(p.Mutations, planSetRemove(cur, name, fs, newVal)...)
		default:
			r := Register{Kind: RegUnset, Nonce: w.Nonce}
			if has {
				r = Register{Kind: RegValue, Nonce: w.Nonce, Value: newVal}
			}
			b, err := EncodeRegister(r)
			if err != nil {
				return Plan{}, err
			}
			p.Mutations = append(p.Mutations, Mutation{Key: FieldKey(cur.Coll, cur.ID, inc, name), Value: b})
			p.Mutations = append(p.Mutations, collectGarbage(cur, &keys, name)...)
		}
	}
	if held {
		// The new counter or set shows what its epoch already held, which
		// the operators alone do not know of: the document is what the
		// replica will show.
		p.Doc = value.Clone(cur.With(p.Mutations).Materialize()).(map[string]any)
		p.Modified = p.Modified || !value.Equal(old, p.Doc)
	}
	return p, nil
}

// nestedPaths reports whether each of a top-level field's operators writes
// one nested path ("a.b", not "a") leading through objects only, before and
// after: those are written as keys of their own, so concurrent writes of
// different paths both survive. Otherwise (arrays on the way, $rename) the
// field is written whole.
func nestedPaths(name string, ops []Op, old, next map[string]any) bool {
	for _, op := range ops {
		if op.Operator == "$rename" || op.Path == name {
			return false
		}
		parts := strings.Split(op.Path, ".")
		for i := 1; i < len(parts); i++ {
			if v, ok := lookupPath(next, parts[:i]); !ok || !isObject(v) {
				return false
			}
			if v, ok := lookupPath(old, parts[:i]); ok && !isObject(v) {
				return false
			}
		}
	}
	return true
}

func isObject(v any) bool {
	_, ok := v.(map[string]any)
	return ok
}

// lookupPath follows parts through objects.
func lookupPath(doc map[string]any, parts []string) (any, bool) {
	var cur any = doc
	for _, p := range parts {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[p]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// planPaths plans each operator's nested path as PlanUpdate plans a
// top-level field ($inc a counter, $addToSet and set $pull an add-wins set,
// anything else a register), under the identity of the nearest ancestor
// shown as parent.
func planPaths(cur *Doc, keys *rawKeys, ops []Op, old, next map[string]any, shown map[string]string, w Writer, held *bool) ([]Mutation, error) {
	var muts []Mutation
	for _, op := range ops {
		path := op.Path
		parts := strings.Split(path, ".")
		newVal, has := lookupPath(next, parts)
		oldVal, hadOld := lookupPath(old, parts)
		unchanged := has == hadOld && (!has || value.Equal(oldVal, newVal) && sameKind(oldVal, newVal))
		if unchanged && !(op.Operator == "$addToSet" && has) {
			continue
		}
		parent := cur.parentIdentity(path, shown)
		fs := cur.Paths[path]
		if fs == nil {
			fs = &FieldState{}
		} else if fs.Reg != nil && fs.Reg.Parent != parent {
			// hidden by an ancestor's assignment: as if never written
			fs = &FieldState{Counters: fs.Counters, Sets: fs.Sets}
		}
		var m []Mutation
		var err error
		switch {
		case op.Operator == "$inc" && has:
			m, err = planIncrement(cur, path, parent, fs, oldVal, newVal, w, held)
		case op.Operator == "$addToSet" && has:
			m, err = planSetAdd(cur, path, parent, fs, newVal, op.Value, w, held)
		case op.Operator == "$pull" && has && fs.Reg != nil && fs.Reg.Kind == RegSet:
			m = planSetRemove(cur, path, fs, newVal)
		default:
			r := Register{Kind: RegUnset, Nonce: w.Nonce, Parent: parent}
			if has {
				r.Kind, r.Value = RegValue, newVal
			}
			var b []byte
			if b, err = EncodeRegister(r); err == nil {
				m = append(m, Mutation{Key: FieldKey(cur.Coll, cur.ID, cur.Marker.Inc, path), Value: b})
				m = append(m, collectGarbage(cur, keys, path)...)
			}
		}
		if err != nil {
			return nil, err
		}
		muts = append(muts, m...)
	}
	return muts, nil
}

// sameKind tells int64 from float64 so a $set of 1.0 over 1 still writes.
func sameKind(a, b any) bool {
	_, ai := a.(int64)
	_, bi := b.(int64)
	return ai == bi
}

// prevIdentity names the state a conversion starts from: the current
// register, or the document's base when the field was never written (for
// a nested path, the base under the parent it is written under).
func prevIdentity(cur *Doc, fs *FieldState, parent string) string {
	if fs.RegRaw != nil {
		return "reg:" + string(fs.RegRaw)
	}
	if parent != "" {
		return "base:" + cur.Marker.Inc + "/" + parent
	}
	return "base:" + cur.Marker.Inc
}

// conversionEpoch names the epoch a conversion of a field (or nested
// path) into a counter or set starts: derived from the state converted
// from, so concurrent converters of one state agree and share
// contributions. It also reports whether contributions or elements are
// already under that epoch: those of a concurrent converter whose register
// this replica has not seen yet, or leftovers of a register a delete
// removed while a concurrent creation kept the incarnation alive. Either
// way the new counter or set shows them.
func conversionEpoch(cur *Doc, fs *FieldState, parent string) (string, bool) {
	epoch := epochOf(prevIdentity(cur, fs, parent))
	return epoch, len(fs.Counters[epoch]) > 0 || len(fs.Sets[epoch]) > 0
}

func planIncrement(cur *Doc, name, parent string, fs *FieldState, oldVal, newVal any, w Writer, held *bool) ([]Mutation, error) {
	var muts []Mutation
	var epoch string
	if fs.Reg != nil && fs.Reg.Kind == RegCounter {
		epoch = fs.Reg.Epoch
	} else {
		// Convert the field into a counter whose base is its current value.
		var ok bool
		epoch, ok = conversionEpoch(cur, fs, parent)
		*held = *held || ok
		// From a register, the counter starts at its value; from the base,
		// it counts from the base (nil), which concurrent creations of the
		// incarnation may still change.
		var base any
		if fs.RegRaw != nil {
			base = int64(0)
			if _, ok := asNumber(oldVal); ok {
				base = oldVal
			}
		}
		b, err := EncodeRegister(Register{Kind: RegCounter, Nonce: epoch, Epoch: epoch, Value: base, Parent: parent})
		if err != nil {
			return nil, err
		}
		muts = append(muts, Mutation{Key: FieldKey(cur.Coll, cur.ID, cur.Marker.Inc, name), Value: b})
	}
	var before any = int64(0)
	if _, ok := asNumber(oldVal); ok {
		before = oldVal
	}
	delta := subNumbers(newVal, before)
	var mine any = int64(0)
	if c := fs.Counters[epoch]; c != nil && c[w.Replica] != nil {
		mine = c[w.Replica]
	}
	v, err := EncodeValue(addNumbers(mine, delta))
	if err != nil {
		return nil, err
	}
	muts = append(muts, Mutation{Key: CounterKey(cur.Coll, cur.ID, cur.Marker.Inc, name, epoch, w.Replica), Value: v})
	return muts, nil
}

// planSetAdd writes the elements a $addToSet asked for (operand, which is
// one value or the items of $each), even those already present (add wins
// over a concurrent $pull), and on conversion to a set every element of the
// new array, duplicates included, numbered in the array's order. An element
// already in the set keeps its place; a new one goes after every element
// its writer has seen.
func planSetAdd(cur *Doc, name, parent string, fs *FieldState, newVal, operand any, w Writer, held *bool) ([]Mutation, error) {
	arr, ok := newVal.([]any)
	if !ok {
		return nil, fmt.Errorf("%w: $addToSet produced a non-array", ErrBadValue)
	}
	var muts []Mutation
	var epoch string
	existing := map[string]SetElem{}
	converting := !(fs.Reg != nil && fs.Reg.Kind == RegSet)
	if !converting {
		epoch = fs.Reg.Epoch
		existing = fs.Sets[epoch]
	} else {
		var ok bool
		epoch, ok = conversionEpoch(cur, fs, parent)
		*held = *held || ok
		b, err := EncodeRegister(Register{Kind: RegSet, Nonce: epoch, Epoch: epoch, Parent: parent})
		if err != nil {
			return nil, err
		}
		muts = append(muts, Mutation{Key: FieldKey(cur.Coll, cur.ID, cur.Marker.Inc, name), Value: b})
	}
	requested := map[string]bool{ValueHash(operand): true}
	if items, ok := operand.([]any); ok {
		for _, it := range items {
			requested[ValueHash(it)] = true
		}
	}
	next := maxOrd(existing)
	occurrences := map[string]int{}
	for i, v := range arr {
		h := ValueHash(v)
		occ := occurrences[h]
		occurrences[h]++
		if occ > 0 && !converting {
			continue // a duplicate the set already holds under its own key
		}
		sub := elemSub(h, occ)
		e, had := existing[sub]
		switch {
		case had && !requested[h]:
			continue // untouched
		case had:
			e.Value = v // re-added: same place, written again
		case converting:
			// Numbered by position, so concurrent converters of one
			// array write the same elements; what this write adds also
			// names its replica, as additions to a set do.
			e = SetElem{Value: v, Ord: uint64(i) + 1}
			if requested[h] && occ == 0 {
				e.Replica = w.Replica
			}
		default:
			next++
			e = SetElem{Value: v, Ord: next, Replica: w.Replica}
		}
		b, err := EncodeSetElem(e)
		if err != nil {
			return nil, err
		}
		muts = append(muts, Mutation{Key: SetElemKey(cur.Coll, cur.ID, cur.Marker.Inc, name, epoch, sub), Value: b})
	}
	return muts, nil
}

// planSetRemove deletes the elements (every occurrence) a $pull removed.
func planSetRemove(cur *Doc, name string, fs *FieldState, newVal any) []Mutation {
	keep := map[string]bool{}
	if arr, ok := newVal.([]any); ok {
		for _, e := range arr {
			keep[ValueHash(e)] = true
		}
	}
	var muts []Mutation
	epoch := fs.Reg.Epoch
	for _, sub := range sortedKeysAny(fs.Sets[epoch]) {
		if !keep[subHash(sub)] {
			muts = append(muts, Mutation{Key: SetElemKey(cur.Coll, cur.ID, cur.Marker.Inc, name, epoch, sub), Delete: true})
		}
	}
	return muts
}

// collectGarbage deletes the counter contributions and set elements of a
// field (or nested path), and every key of the paths below it, that a plain
// register write makes unreachable. keys are cur.Raw's keys, sorted (see
// rawKeys): each prefix is found by binary search, so a plan that writes F
// fields of a document of R keys costs O(F log R + garbage), not O(F R).
func collectGarbage(cur *Doc, keys *rawKeys, name string) []Mutation {
	inc := DocPrefix(cur.Coll, cur.ID) + "/" + cur.Marker.Inc
	own, below := Escape(name)+"/", Escape(name)+Escape(".")
	prefixes := []string{inc + "/n/" + own, inc + "/s/" + own, inc + "/f/" + below, inc + "/n/" + below, inc + "/s/" + below}
	sorted := keys.get(cur)
	var garbage []string
	for _, p := range prefixes {
		for i := sort.SearchStrings(sorted, p); i < len(sorted) && strings.HasPrefix(sorted[i], p); i++ {
			garbage = append(garbage, sorted[i])
		}
	}
	sort.Strings(garbage) // in key order, as a scan gave them
	garbage = slices.Compact(garbage)
	muts := make([]Mutation, 0, len(garbage))
	for _, k := range garbage {
		muts = append(muts, Mutation{Key: k, Delete: true})
	}
	return muts
}

// rawKeys is a document's keys, sorted once on first use by a plan.
type rawKeys struct{ sorted []string }

func (r *rawKeys) get(cur *Doc) []string {
	if r.sorted == nil {
		r.sorted = sortedKeys(cur.Raw)
	}
	return r.sorted
}

func topField(path string) string {
	if i := strings.IndexByte(path, '.'); i >= 0 {
		return path[:i]
	}
	return path
}

func sortedKeys(m map[string][]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedKeysAny[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
