package engine_test

// A reference model of Lattice's documented merge semantics (crdt/doc.go)
// over a plain Go model of go-ds-crdt's key rules, used by the property
// tests. It shares no code with package crdt: it keeps abstract keys and
// values, and re-derives every conflict from the rules alone:
//
//   - every key is a set of versions, one per delta that put it; a delete
//     tombstones the versions the deleting replica had seen;
//   - the visible version is the live one with the highest priority, the
//     DAG height of its delta (1 + the highest height the writer knew);
//     on equal height the byte-wise larger encoding wins. Encodings carry
//     random nonces, so where two different values tie the model cannot
//     know the winner: it forks into one world per candidate, and worlds
//     that disagree with what the replicas show are pruned. The real state
//     must always be one of the surviving worlds.
//   - documents: one base per creator under the incarnation it created
//     (derived from the graves the creator saw: "0" when none; a fresh name
//     one generation longer on replace), graves left by deletes, field
//     registers (value, unset, counter, set) under the incarnation,
//     per-replica counter contributions and add-wins set elements under an
//     epoch named after the register state the field was converted from.
//     The document shows the live incarnation of the longest lineage (a
//     tie between names is a decision, names being random), its creators'
//     bases merged field by field (the larger JSON encoding wins a field).

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/latticedb/lattice/query"
	"github.com/latticedb/lattice/value"
)

// aval is an abstract stored value. ident is equal for two values exactly
// when their encodings are equal.
type aval struct {
	ident string
	kind  byte // 'b' base, 'g' grave, 'i' incarnation shown (view only); registers: 'c' counter, 's' set, 'u' unset, 'v' value; 'n' number; 'e' element; 'x' index
	inc   string
	gen   int
	base  map[string]any
	epoch string
	value any // register value, counter base (nil: the base's), contribution, element
	// parent: a nested path's register names the identity of the nearest
	// ancestor shown (a register's ident, or "base:<inc>")
	parent string
	// ord and rep: an element's place in its set (crdt.SetElem)
	ord int
	rep string
}

type mevent struct {
	id      int
	replica int
	height  int
	puts    map[string]*aval
	dels    map[string][]int // key -> event ids of the versions tombstoned
	desc    string
}

// world is one possible state of the whole system.
type world struct {
	events    []*mevent
	known     map[int]map[int]bool // replica -> event ids it holds
	decisions map[string]int       // tie -> winning event id
	names     []string             // replica -> its writer name (peer ID), which orders concurrent set additions
	// schema, if set, judges the document a local write leaves, as the
	// database's validator does: a write it refuses fails ("op") and
	// writes nothing.
	schema func(doc map[string]any) error
}

func (w *world) clone() *world {
	c := &world{events: append([]*mevent(nil), w.events...), known: map[int]map[int]bool{}, decisions: map[string]int{}, names: w.names, schema: w.schema}
	for r, k := range w.known {
		m := make(map[int]bool, len(k))
		for e := range k {
			m[e] = true
		}
		c.known[r] = m
	}
	for k, v := range w.decisions {
		c.decisions[k] = v
	}
	return c
}

// fork is raised (as an error) when evaluating needs a tie decision the
// world has not made yet.
type fork struct {
	key     string
	options []int
}

func (f *fork) Error() string { return "fork " + f.key }

type version struct {
	ev  *mevent
	val *aval
}

// view is the live visible state of one replica: key -> winning value.
type view map[string]*aval

func (w *world) view(r int) (view, error) {
	known := w.known[r]
	tomb := map[string]map[int]bool{}
	for _, e := range w.events {
		if !known[e.id] {
			continue
		}
		for k, ids := range e.dels {
			if tomb[k] == nil {
				tomb[k] = map[int]bool{}
			}
			for _, id := range ids {
				tomb[k][id] = true
			}
		}
	}
	live := map[string][]version{}
	for _, e := range w.events {
		if !known[e.id] {
			continue
		}
		for k, v := range e.puts {
			if !tomb[k][e.id] {
				live[k] = append(live[k], version{e, v})
			}
		}
	}
	out := view{}
	for k, vs := range live {
		best := 0
		for _, v := range vs {
			best = max(best, v.ev.height)
		}
		var top []version
		for _, v := range vs {
			if v.ev.height == best {
				top = append(top, v)
			}
		}
		win, err := w.pick(k, top)
		if err != nil {
			return nil, err
		}
		out[k] = win
	}
	return out, w.incarnations(out, live)
}

// incarnations adds to a view, for every document with a live base, the
// incarnation it shows under mShown(id): the live one of the longest
// lineage (a decision between names of equal lineage), its bases merged.
func (w *world) incarnations(out view, live map[string][]version) error {
	type incState struct {
		gen   int
		first int // lowest event id of its bases: the option standing for it
		bases []*aval
	}
	docs := map[string]map[string]*incState{}
	for k, vs := range live {
		id, inc, ok := mBaseOf(k)
		if !ok {
			continue
		}
		if docs[id] == nil {
			docs[id] = map[string]*incState{}
		}
		st := docs[id][inc]
		if st == nil {
			st = &incState{first: vs[0].ev.id}
			docs[id][inc] = st
		}
		for _, v := range vs {
			st.gen = max(st.gen, v.val.gen)
			st.first = min(st.first, v.ev.id)
			st.bases = append(st.bases, v.val)
		}
	}
	for id, incs := range docs {
		best := -1
		for _, st := range incs {
			best = max(best, st.gen)
		}
		var top []string
		for inc, st := range incs {
			if st.gen == best {
				top = append(top, inc)
			}
		}
		sort.Strings(top)
		chosen := top[0]
		if len(top) > 1 {
			var ids []int
			for _, inc := range top {
				ids = append(ids, incs[inc].first)
			}
			sort.Ints(ids)
			dk := fmt.Sprint("inc/", id, ids)
			d, ok := w.decisions[dk]
			if !ok {
				return &fork{key: dk, options: ids}
			}
			for _, inc := range top {
				if incs[inc].first == d {
					chosen = inc
				}
			}
		}
		merged := map[string]any{}
		for _, b := range incs[chosen].bases {
			for f, v := range b.base {
				if cur, ok := merged[f]; !ok || canonJSON(v) > canonJSON(cur) {
					merged[f] = v
				}
			}
		}
		out[mShown(id)] = &aval{kind: 'i', inc: chosen, gen: best, base: merged}
	}
	return nil
}

// pick chooses among versions of equal height: identical encodings need no
// choice, register kinds order by their kind byte, the rest is a decision.
func (w *world) pick(key string, top []version) (*aval, error) {
	maxKind := byte(0)
	for _, v := range top {
		maxKind = max(maxKind, v.val.kind)
	}
	idents := map[string]version{}
	for _, v := range top {
		if v.val.kind == maxKind {
			idents[v.val.ident] = v
		}
	}
	if len(idents) == 1 {
		for _, v := range idents {
			return v.val, nil
		}
	}
	var ids []int
	for _, v := range idents {
		ids = append(ids, v.ev.id)
	}
	sort.Ints(ids)
	dk := fmt.Sprint(key, ids)
	if id, ok := w.decisions[dk]; ok {
		for _, v := range idents {
			if v.ev.id == id {
				return v.val, nil
			}
		}
	}
	return nil, &fork{key: dk, options: ids}
}

// Abstract keys.
func mShown(id string) string                  { return "i/" + id } // view only, never stored
func mBase(id, inc string, creator int) string { return fmt.Sprintf("d/%s/%s/b/%d", id, inc, creator) }
func mGrave(id, inc string) string             { return "d/" + id + "/" + inc + "/g" }
func mDocPrefix(id string) string              { return "d/" + id + "/" }

// mBaseOf parses a base key.
func mBaseOf(k string) (id, inc string, ok bool) {
	parts := strings.Split(k, "/")
	if len(parts) != 5 || parts[0] != "d" || parts[3] != "b" {
		return "", "", false
	}
	return parts[1], parts[2], true
}

// mGraveOf parses a grave key.
func mGraveOf(k string) (id, inc string, ok bool) {
	parts := strings.Split(k, "/")
	if len(parts) != 4 || parts[0] != "d" || parts[3] != "g" {
		return "", "", false
	}
	return parts[1], parts[2], true
}
func mField(id, inc, f string) string { return "d/" + id + "/" + inc + "/f/" + f }
func mCounter(id, inc, f, ep string, r int) string {
	return fmt.Sprintf("d/%s/%s/n/%s/%s/%d", id, inc, f, ep, r)
}
func mElemPrefix(id, inc, f, ep string) string {
	return "d/" + id + "/" + inc + "/s/" + f + "/" + ep + "/"
}
func mIndex(path string) string { return "x/" + path }

func canonJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// doc materialises one document of a view, nil when absent.
func (v view) doc(id string) map[string]any {
	d, _ := v.docShown(id)
	return d
}

// docShown materialises one document and returns the identity of every
// field and nested path whose register shows.
func (v view) docShown(id string) (map[string]any, map[string]string) {
	m := v[mShown(id)]
	if m == nil {
		return nil, nil
	}
	out := value.Clone(m.base).(map[string]any)
	shown := map[string]string{}
	prefix := mDocPrefix(id) + m.inc + "/f/"
	var paths []string
	value := func(f string, reg *aval, from any) any {
		switch reg.kind {
		case 'c':
			sum := int64(0)
			if reg.value != nil {
				sum = reg.value.(int64)
			} else if n, ok := from.(int64); ok {
				sum = n // counted from the base
			}
			cp := fmt.Sprintf("d/%s/%s/n/%s/%s/", id, m.inc, f, reg.epoch)
			for k2, c := range v {
				if strings.HasPrefix(k2, cp) {
					sum += c.value.(int64)
				}
			}
			return sum
		case 's':
			ep := mElemPrefix(id, m.inc, f, reg.epoch)
			var keys []string
			for k2 := range v {
				if strings.HasPrefix(k2, ep) {
					keys = append(keys, k2)
				}
			}
			sort.Slice(keys, func(i, j int) bool {
				a, b := v[keys[i]], v[keys[j]]
				if a.ord != b.ord {
					return a.ord < b.ord
				}
				if a.rep != b.rep {
					return a.rep < b.rep
				}
				if c := value.Compare(a.value, b.value); c != 0 {
					return c < 0
				}
				return keys[i] < keys[j]
			})
			elems := []any{}
			for _, k2 := range keys {
				elems = append(elems, value.Clone(v[k2].value))
			}
			return elems
		}
		return value.Clone(reg.value)
	}
	for k, reg := range v {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		f := strings.TrimPrefix(k, prefix)
		if strings.Contains(f, ".") {
			paths = append(paths, f)
			continue
		}
		if f == "_id" {
			continue
		}
		shown[f] = reg.ident
		if reg.kind == 'u' {
			delete(out, f)
		} else {
			out[f] = value(f, reg, m.base[f])
		}
	}
	sort.Slice(paths, func(i, j int) bool {
		if a, b := strings.Count(paths[i], "."), strings.Count(paths[j], "."); a != b {
			return a < b
		}
		return paths[i] < paths[j]
	})
	for _, p := range paths {
		reg := v[prefix+p]
		if reg.parent != parentOf(p, shown, m.inc) {
			continue
		}
		parts := strings.Split(p, ".")
		at, ok := out, true
		for _, seg := range parts[:len(parts)-1] {
			x, exists := at[seg]
			if !exists {
				nm := map[string]any{}
				at[seg], at = nm, nm
				continue
			}
			if at, ok = x.(map[string]any); !ok {
				break
			}
		}
		if !ok {
			continue
		}
		last := parts[len(parts)-1]
		if reg.kind == 'u' {
			delete(at, last)
		} else {
			at[last] = value(p, reg, at[last])
		}
		shown[p] = reg.ident
	}
	return out, shown
}

// docs materialises every document of a view, as canonical JSON by _id.
func (v view) docs() map[string]string {
	out := map[string]string{}
	for k := range v {
		if id, ok := strings.CutPrefix(k, "i/"); ok {
			out[id] = canonJSON(v.doc(id))
		}
	}
	return out
}

// mop is one operation issued on a replica.
type mop struct {
	kind    string // insert, upsert, update, replace, delete, index
	id      string
	doc     map[string]any // insert, replace
	update  map[string]any
	path    string // index
	replica int
}

func (o mop) String() string {
	switch o.kind {
	case "insert", "replace":
		return fmt.Sprintf("r%d %s %s %s", o.replica, o.kind, o.id, canonJSON(o.doc))
	case "update", "upsert":
		return fmt.Sprintf("r%d %s %s %s", o.replica, o.kind, o.id, canonJSON(o.update))
	case "index":
		return fmt.Sprintf("r%d index %s", o.replica, o.path)
	}
	return fmt.Sprintf("r%d %s %s", o.replica, o.kind, o.id)
}

// outcome is what an operation returns: whether it wrote a delta and
// whether it failed (duplicate _id or a bad update for the document).
type outcome struct {
	wrote bool
	err   string // "", "dup", "op"
}

// apply runs op on replica op.replica of world w, appending its event.
func (w *world) apply(op mop) (outcome, error) {
	if op.kind == "update" || op.kind == "upsert" {
		if _, err := query.ParseUpdate(op.update); err != nil {
			return outcome{err: "op"}, nil // refused before reading anything
		}
	}
	v, err := w.view(op.replica)
	if err != nil {
		return outcome{}, err
	}
	ev := &mevent{id: len(w.events), replica: op.replica, puts: map[string]*aval{}, dels: map[string][]int{}, desc: op.String()}
	for id := range w.known[op.replica] {
		ev.height = max(ev.height, w.events[id].height)
	}
	ev.height++
	cur := v.doc(op.id)
	// tombstone every live key under the document (all incarnations)
	delDoc := func() {
		for k := range v {
			if strings.HasPrefix(k, mDocPrefix(op.id)) {
				ev.dels[k] = w.liveIDs(op.replica, k)
			}
		}
	}
	// create puts this replica's base of the incarnation its graves derive.
	create := func(base map[string]any) {
		var graves []string
		gen := 0
		for k, g := range v {
			if id, inc, ok := mGraveOf(k); ok && id == op.id {
				graves = append(graves, inc)
				gen = max(gen, g.gen+1)
			}
		}
		sort.Strings(graves)
		inc := "0"
		if len(graves) > 0 {
			inc = "c(" + strings.Join(graves, ",") + ")"
		}
		ev.puts[mBase(op.id, inc, op.replica)] = &aval{ident: fmt.Sprintf("b%d", ev.id), kind: 'b', inc: inc, gen: gen, base: base}
	}
	switch op.kind {
	case "index":
		ev.puts[mIndex(op.path)] = &aval{ident: "x" + op.path, kind: 'x'}
	case "insert":
		if cur != nil {
			return outcome{err: "dup"}, nil
		}
		create(op.doc)
	case "upsert":
		if cur != nil {
			if err := w.planUpdate(v, op, cur, ev); err != nil {
				return outcome{err: "op"}, nil
			}
			break
		}
		u, _ := query.ParseUpdate(op.update)
		seed := map[string]any{"_id": op.id}
		if _, err := u.Apply(value.Clone(seed).(map[string]any), modelNow); err != nil {
			return outcome{err: "op"}, nil
		}
		create(seed)
		// The update applies to the state the seed's base makes.
		seeded := view{}
		for k, x := range v {
			seeded[k] = x
		}
		for k, x := range ev.puts {
			seeded[k] = x
		}
		var b *aval
		for _, x := range ev.puts {
			b = x
		}
		seeded[mShown(op.id)] = &aval{kind: 'i', inc: b.inc, gen: b.gen, base: seed}
		if err := w.planUpdate(seeded, op, seeded.doc(op.id), ev); err != nil {
			return outcome{}, fmt.Errorf("model: upsert %s: the update fails on its own seed: %v", op, err)
		}
	case "replace":
		if cur == nil {
			return outcome{}, nil
		}
		if value.Equal(cur, op.doc) {
			return outcome{}, nil
		}
		delDoc()
		shown := v[mShown(op.id)]
		inc := fmt.Sprintf("r%d", ev.id)
		ev.puts[mBase(op.id, inc, op.replica)] = &aval{ident: fmt.Sprintf("b%d", ev.id), kind: 'b', inc: inc, gen: shown.gen + 1, base: op.doc}
	case "delete":
		if cur == nil {
			return outcome{}, nil
		}
		delDoc()
		for k, x := range v {
			if id, inc, ok := mBaseOf(k); ok && id == op.id {
				g := mGrave(op.id, inc)
				if p := ev.puts[g]; p == nil || p.gen < x.gen {
					ev.puts[g] = &aval{ident: fmt.Sprintf("g%s/%d", inc, x.gen), kind: 'g', inc: inc, gen: x.gen}
				}
				delete(ev.dels, g)
			}
		}
	case "update":
		if cur == nil {
			return outcome{}, nil
		}
		if err := w.planUpdate(v, op, cur, ev); err != nil {
			return outcome{err: "op"}, nil
		}
	}
	if len(ev.puts) == 0 && len(ev.dels) == 0 {
		return outcome{}, nil
	}
	w.events = append(w.events, ev)
	w.known[op.replica][ev.id] = true
	if w.schema != nil && op.kind != "delete" && op.kind != "index" {
		after, err := w.view(op.replica)
		if err != nil {
			return outcome{}, err // a tie to decide: expand runs op again on each choice
		}
		if doc := after.doc(op.id); doc != nil && w.schema(doc) != nil {
			w.events = w.events[:len(w.events)-1]
			delete(w.known[op.replica], ev.id)
			return outcome{err: "op"}, nil
		}
	}
	return outcome{wrote: true}, nil
}

// liveIDs lists the event ids of the versions of k that replica r holds
// and has not tombstoned: what a go-ds-crdt delete of k tombstones.
func (w *world) liveIDs(r int, k string) []int {
	tomb := map[int]bool{}
	for id := range w.known[r] {
		for _, t := range w.events[id].dels[k] {
			tomb[t] = true
		}
	}
	var out []int
	for id := range w.known[r] {
		if _, ok := w.events[id].puts[k]; ok && !tomb[id] {
			out = append(out, id)
		}
	}
	sort.Ints(out)
	return out
}

var modelNow = time.Unix(1700000000, 0)

func (w *world) planUpdate(v view, op mop, old map[string]any, ev *mevent) error {
	u, err := query.ParseUpdate(op.update)
	if err != nil {
		return err
	}
	next, err := u.Apply(old, modelNow)
	if err != nil {
		return err
	}
	ops := u.Ops()
	byField := map[string][]query.Op{}
	for _, o := range ops {
		byField[topOf(o.Path)] = append(byField[topOf(o.Path)], o)
		if o.Operator == "$rename" {
			byField[topOf(o.Value.(string))] = append(byField[topOf(o.Value.(string))], o)
		}
	}
	m := v[mShown(op.id)]
	inc := m.inc
	_, shown := v.docShown(op.id)
	for name, fops := range byField {
		if nestedOnly(name, fops, old, next) {
			for _, o := range fops {
				parts := strings.Split(o.Path, ".")
				oldVal, hadOld := lookupModel(old, parts)
				newVal, has := lookupModel(next, parts)
				parent := parentOf(o.Path, shown, inc)
				reg := v[mField(op.id, inc, o.Path)]
				if reg != nil && reg.parent != parent {
					reg = nil // hidden by an ancestor's assignment
				}
				w.planKey(v, op, ev, inc, o.Path, parent, o, true, reg, oldVal, hadOld, newVal, has)
			}
			continue
		}
		newVal, has := next[name]
		oldVal, hadOld := old[name]
		single := len(fops) == 1 && fops[0].Path == name
		w.planKey(v, op, ev, inc, name, "", fops[0], single, v[mField(op.id, inc, name)], oldVal, hadOld, newVal, has)
	}
	return nil
}

// nestedOnly: each operator of the field writes a nested path reached
// through objects only, before and after (so it gets keys of its own).
func nestedOnly(name string, ops []query.Op, old, next map[string]any) bool {
	for _, o := range ops {
		if o.Operator == "$rename" || o.Path == name {
			return false
		}
		parts := strings.Split(o.Path, ".")
		for i := 1; i < len(parts); i++ {
			x, ok := lookupModel(next, parts[:i])
			if _, obj := x.(map[string]any); !ok || !obj {
				return false
			}
			if y, ok := lookupModel(old, parts[:i]); ok {
				if _, obj := y.(map[string]any); !obj {
					return false
				}
			}
		}
	}
	return true
}

func lookupModel(doc map[string]any, parts []string) (any, bool) {
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

// parentOf is the identity of the nearest ancestor of path shown, or the
// base's.
func parentOf(path string, shown map[string]string, inc string) string {
	for i := len(path) - 1; i > 0; i-- {
		if path[i] == '.' {
			if id, ok := shown[path[:i]]; ok {
				return id
			}
		}
	}
	return "base:" + inc
}

// planKey plans one field or nested path (parent set) as crdt/doc.go says.
func (w *world) planKey(v view, op mop, ev *mevent, inc, name, parent string, o query.Op, single bool, reg *aval,
	oldVal any, hadOld bool, newVal any, has bool) {
	_, oi := oldVal.(int64)
	_, ni := newVal.(int64)
	unchanged := has == hadOld && (!has || value.Equal(oldVal, newVal) && oi == ni)
	readd := single && o.Operator == "$addToSet" && has
	if unchanged && !readd {
		return
	}
	regKey := mField(op.id, inc, name)
	prev := "base:" + inc
	if parent != "" {
		prev += "/" + parent
	}
	if reg != nil {
		prev = "reg:" + reg.ident
	}
	epochFrom := "E(" + prev + ")"
	switch {
	case single && o.Operator == "$inc" && has:
		epoch := epochFrom
		if reg != nil && reg.kind == 'c' {
			epoch = reg.epoch
		} else {
			// from a register: its value; from the base: the base's
			var base any
			if reg != nil {
				n, _ := oldVal.(int64)
				base = n
			}
			ev.puts[regKey] = &aval{ident: "c:" + epoch + canonJSON(base), kind: 'c', epoch: epoch, value: base, parent: parent}
		}
		before := int64(0)
		if n, ok := oldVal.(int64); ok {
			before = n
		}
		mine := int64(0)
		ck := mCounter(op.id, inc, name, epoch, op.replica)
		if c := v[ck]; c != nil {
			mine = c.value.(int64)
		}
		total := mine + newVal.(int64) - before
		ev.puts[ck] = &aval{ident: "n" + canonJSON(total), kind: 'n', value: total}
	case single && o.Operator == "$addToSet" && has:
		epoch := epochFrom
		if reg != nil && reg.kind == 's' {
			epoch = reg.epoch
		} else {
			ev.puts[regKey] = &aval{ident: "s:" + epoch, kind: 's', epoch: epoch, parent: parent}
		}
		requested := map[string]bool{canonJSON(o.Value): true}
		if items, ok := o.Value.([]any); ok {
			for _, it := range items {
				requested[canonJSON(it)] = true
			}
		}
		// Elements keep their place: a conversion numbers the array
		// (duplicates kept) by position, an addition goes after the
		// largest number seen, named by its replica.
		converting := !(reg != nil && reg.kind == 's')
		ep := mElemPrefix(op.id, inc, name, epoch)
		top := 0
		for k, e := range v {
			if strings.HasPrefix(k, ep) {
				top = max(top, e.ord)
			}
		}
		occ := map[string]int{}
		for i, e := range newVal.([]any) {
			h := canonJSON(e)
			n := occ[h]
			occ[h]++
			if n > 0 && !converting {
				continue
			}
			ek := ep + h
			if n > 0 {
				ek += fmt.Sprintf("#%d", n)
			}
			old := v[ek]
			var el *aval
			switch {
			case old != nil && !requested[h]:
				continue
			case old != nil:
				el = &aval{kind: 'e', value: value.Clone(e), ord: old.ord, rep: old.rep}
			case converting:
				el = &aval{kind: 'e', value: value.Clone(e), ord: i + 1}
				if requested[h] && n == 0 {
					el.rep = w.names[op.replica]
				}
			default:
				top++
				el = &aval{kind: 'e', value: value.Clone(e), ord: top, rep: w.names[op.replica]}
			}
			el.ident = fmt.Sprintf("e%s@%d/%s", h, el.ord, el.rep)
			ev.puts[ek] = el
		}
	case single && o.Operator == "$pull" && has && reg != nil && reg.kind == 's':
		keep := map[string]bool{}
		for _, e := range newVal.([]any) {
			keep[canonJSON(e)] = true
		}
		ep := mElemPrefix(op.id, inc, name, reg.epoch)
		for k := range v {
			sub, _, _ := strings.Cut(strings.TrimPrefix(k, ep), "#")
			if strings.HasPrefix(k, ep) && !keep[sub] {
				ev.dels[k] = w.liveIDs(op.replica, k)
			}
		}
	default:
		r := &aval{ident: fmt.Sprintf("u%d@%s", ev.id, name), kind: 'u', parent: parent}
		if has {
			r = &aval{ident: fmt.Sprintf("v%d@%s", ev.id, name), kind: 'v', value: value.Clone(newVal), parent: parent}
		}
		ev.puts[regKey] = r
		// garbage: the field's own contributions and elements, and every
		// key of the paths below it
		for _, p := range []string{"/n/" + name + "/", "/s/" + name + "/", "/f/" + name + ".", "/n/" + name + ".", "/s/" + name + "."} {
			gp := mDocPrefix(op.id) + inc + p
			for k := range v {
				if strings.HasPrefix(k, gp) {
					ev.dels[k] = w.liveIDs(op.replica, k)
				}
			}
		}
	}
}

func topOf(p string) string {
	if i := strings.IndexByte(p, '.'); i >= 0 {
		return p[:i]
	}
	return p
}

// model is the set of worlds still consistent with what was observed.
type model struct {
	worlds   []*world
	history  []string
	maxWorld int
}

// newModel models replicas whose writers are named names (their peer IDs).
func newModel(names ...string) *model {
	replicas := len(names)
	w := &world{known: map[int]map[int]bool{}, decisions: map[string]int{}, names: names}
	for r := 0; r < replicas; r++ {
		w.known[r] = map[int]bool{}
	}
	return &model{worlds: []*world{w}, maxWorld: 1}
}

const maxWorlds = 512

// expand runs f on every world, forking worlds on undecided ties, and
// returns the worlds with f's result.
func expand[T any](m *model, f func(*world) (T, error)) ([]*world, []T, error) {
	var ws []*world
	var rs []T
	queue := append([]*world(nil), m.worlds...)
	for len(queue) > 0 {
		w := queue[0]
		queue = queue[1:]
		try := w.clone()
		r, err := f(try)
		if fk, ok := err.(*fork); ok {
			for _, o := range fk.options {
				c := w.clone()
				c.decisions[fk.key] = o
				queue = append(queue, c)
			}
			if len(queue)+len(ws) > maxWorlds {
				return nil, nil, fmt.Errorf("model: more than %d possible worlds", maxWorlds)
			}
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		ws = append(ws, try)
		rs = append(rs, r)
	}
	return ws, rs, nil
}

// apply applies op and keeps the worlds predicting the observed outcome.
func (m *model) apply(op mop, got outcome) error {
	m.history = append(m.history, fmt.Sprintf("%s -> wrote=%v err=%q", op, got.wrote, got.err))
	ws, rs, err := expand(m, func(w *world) (outcome, error) { return w.apply(op) })
	if err != nil {
		return err
	}
	var keep []*world
	var seen []string
	for i, w := range ws {
		if rs[i] == got {
			keep = append(keep, w)
		}
		seen = append(seen, fmt.Sprintf("%+v", rs[i]))
	}
	if len(keep) == 0 {
		return fmt.Errorf("model: %s: replica returned %+v, the model allows %v", op, got, seen)
	}
	m.worlds = keep
	m.maxWorld = max(m.maxWorld, len(keep))
	return nil
}

// sync makes every replica in group hold the union of what they hold.
func (m *model) sync(group []int) {
	for _, w := range m.worlds {
		u := map[int]bool{}
		for _, r := range group {
			for e := range w.known[r] {
				u[e] = true
			}
		}
		for _, r := range group {
			k := map[int]bool{}
			for e := range u {
				k[e] = true
			}
			w.known[r] = k
		}
	}
}

// addReplica starts replica r with nothing.
// addReplica adds replica r, whose writer is named name.
func (m *model) addReplica(r int, name string) {
	for _, w := range m.worlds {
		w.known[r] = map[int]bool{}
		w.names = append(slices.Clip(w.names), name)
	}
}

// observe keeps the worlds in which replica r shows exactly docs (_id ->
// canonical JSON).
func (m *model) observe(r int, docs map[string]string) error {
	ws, rs, err := expand(m, func(w *world) (map[string]string, error) {
		v, err := w.view(r)
		if err != nil {
			return nil, err
		}
		return v.docs(), nil
	})
	if err != nil {
		return err
	}
	var keep []*world
	for i, w := range ws {
		if equalDocs(rs[i], docs) {
			keep = append(keep, w)
		}
	}
	if len(keep) == 0 {
		var b strings.Builder
		fmt.Fprintf(&b, "model: replica %d diverges from every admissible state\nhistory:\n", r)
		for _, h := range m.history {
			fmt.Fprintf(&b, "  %s\n", h)
		}
		fmt.Fprintf(&b, "replica %d shows:\n%s", r, fmtDocs(docs))
		for i := range ws {
			if i == 3 {
				fmt.Fprintf(&b, "... and %d more admissible states\n", len(ws)-3)
				break
			}
			fmt.Fprintf(&b, "admissible state %d:\n%s", i, fmtDocs(rs[i]))
		}
		return fmt.Errorf("%s", b.String())
	}
	m.worlds = keep
	m.maxWorld = max(m.maxWorld, len(keep))
	return nil
}

func equalDocs(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func fmtDocs(d map[string]string) string {
	ids := make([]string, 0, len(d))
	for id := range d {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var b strings.Builder
	for _, id := range ids {
		fmt.Fprintf(&b, "    %s\n", d[id])
	}
	return b.String()
}
