package crdt_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/latticedb/lattice/crdt"
	"github.com/latticedb/lattice/query"
	"github.com/latticedb/lattice/value"
)

// Budget of TestPropertyCRDT when neither the command line nor the
// environment (RAPID_CHECKS, RAPID_STEPS) sets one: about 300 cases of
// about 100 actions, under 2 s on 2 cores. The long run (~5 minutes on 2
// cores, about 350 cases a second):
//
//	go test ./crdt/ -run TestPropertyCRDT -rapid.checks=100000 -timeout 0 -v
//
// (-v prints the coverage line: how many counter, set and register checks
// ran, and how many of them had concurrent writers.)
//
// A failure prints the shrunk history (the t.Log lines of the minimal
// case) and the seed; replay it with -rapid.seed=N, or the fail file rapid
// writes under crdt/testdata/rapid/.
const (
	propChecks = 300
	propSteps  = 100
)

// propBudget sets rapid's case and step counts for this test unless the
// command line or the environment set them, and restores them afterwards.
func propBudget(t *testing.T, checks, steps int) {
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, b := range []struct {
		name, env string
		v         int
	}{{"rapid.checks", "RAPID_CHECKS", checks}, {"rapid.steps", "RAPID_STEPS", steps}} {
		if set[b.name] || os.Getenv(b.env) != "" {
			continue
		}
		f := flag.Lookup(b.name)
		old := f.Value.String()
		if err := flag.Set(b.name, strconv.Itoa(b.v)); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = flag.Set(b.name, old) })
	}
}

// TestPropertyCRDT drives 2 to 4 simulated go-ds-crdt replicas (see
// simnet_test.go) with random inserts, updates, replaces and deletes planned
// by this package, over a network that drops, duplicates, reorders and
// delays deliveries, partitions and heals, crashes replicas (losing what is
// in flight to them, never what they committed) and adds a late joiner that
// starts empty. Two replicas often update one document back to back
// ("race"), which makes the concurrent conflicts crdt/doc.go is about.
// It checks:
//
//   - after every local write, read-your-writes: the replica's merged view
//     shows exactly Doc.With(mutations), and that is the plan's document
//     (sets compared as sets in their comparison order);
//   - after a final heal and full anti-entropy, every replica holds the same
//     deltas, heads, key-value view and materialised documents;
//   - the documented semantics wherever the outcome is determined by the
//     causal history alone:
//     existence: a document exists exactly when one of its insert/replace
//     markers is not in the causal past of a delete of it (delete wins
//     over updates; a concurrent insert or replace survives a delete);
//     untouched fields keep the incarnation's base value;
//     counters: a field only ever $inc'ed in the surviving incarnation is
//     its base plus the sum of every increment made by any replica;
//     add-wins sets: for a field only touched by $addToSet and set $pull,
//     an element is present exactly when some add of it has no $pull of it
//     in its causal future;
//     registers: a field only touched by plain assignments holds the value
//     of the assignment with the highest priority (DAG height), ties to
//     the byte-wise larger register.
func TestPropertyCRDT(t *testing.T) {
	propBudget(t, propChecks, propSteps)
	var st propStats
	start := time.Now()
	rapid.Check(t, func(rt *rapid.T) {
		s := newPropSim(rt, &st)
		rt.Repeat(map[string]func(*rapid.T){
			"insert":    s.insert,
			"insert2":   s.insert,
			"update":    s.update,
			"update2":   s.update,
			"update3":   s.update,
			"update4":   s.update,
			"update5":   s.update,
			"update6":   s.update,
			"update7":   s.update,
			"update8":   s.update,
			"race":      s.race,
			"race2":     s.race,
			"upsert":    s.upsert,
			"create":    s.createRace,
			"create2":   s.createRace,
			"replace":   s.replace,
			"delete":    s.delete,
			"deliver":   s.deliver,
			"deliver2":  s.deliver,
			"flush":     s.flush,
			"announce":  s.announce,
			"sync":      s.sync,
			"partition": s.partition,
			"heal":      s.heal,
			"crash":     s.crash,
			"join":      s.join,
		})
		s.final(rt)
		st.cases++
	})
	t.Logf("%d cases in %s: %d deltas, %d local writes checked, %d documents checked for existence "+
		"(%d created concurrently by several replicas, %d partly deleted), "+
		"field checks: %d untouched, %d counters (%d with increments from several replicas), "+
		"%d sets (%d with an add and a pull of one element concurrent), %d registers (%d with concurrent assignments), "+
		"%d written by nested paths only (%d by several paths, %d nested counters), "+
		"%d mixed (convergence only)",
		st.cases, time.Since(start).Round(time.Millisecond), st.deltas, st.writes, st.docs, st.merged, st.partly,
		st.untouched, st.counters, st.counters2, st.sets, st.sets2, st.registers, st.registers2, st.paths, st.paths2, st.pathCounters, st.mixed)
}

type propStats struct {
	cases, deltas, writes, docs                 int
	merged                                      int // documents whose incarnation several replicas created concurrently
	partly                                      int // incarnations kept alive by a creation concurrent with a delete
	untouched, counters, sets, registers, mixed int
	paths, paths2                               int // fields only written by nested paths; of those, by several paths
	pathCounters                                int // nested paths only $inc wrote
	// checks where the history had concurrency that matters: increments by
	// several replicas, an add and a pull of one element concurrent,
	// concurrent assignments.
	counters2, sets2, registers2 int
}

func concurrent(a, b *simDelta) bool { return a != b && !a.anc.has(b.id) && !b.anc.has(a.id) }

// simOp is a committed operation, recorded with what the semantic checks
// need to know about it.
type simOp struct {
	kind     string // insert, upsert (a creation and an update), update, replace, delete
	coll, id string
	inc      string         // update: the incarnation planned against; insert/upsert/replace: the new one
	gen      uint64         // insert/upsert/replace: the new incarnation's lineage length
	base     map[string]any // insert, upsert (its seed), replace
	touches  map[string]*simTouch
	desc     string
}

// simTouch is how one update treated one top-level field, classified as
// PlanUpdate documents it.
type simTouch struct {
	kind   string                   // none (nothing written), inc, add, pullset, assign, path (registers of nested paths)
	by     any                      // inc: the increment
	adds   []any                    // add: the elements (re)written
	pulled any                      // pullset: the value pulled
	value  any                      // assign: the field afterwards
	has    bool                     // assign: whether the field exists afterwards
	reg    []byte                   // assign: the register written
	paths  map[string]crdt.Register // path: the register written for each nested path
	raws   map[string][]byte        // path: their encodings
	ops    []query.Op               // assign, path: the operators
}

var (
	propColls  = []string{"c1", "c1", "c1", "c2"} // c1 three times as likely
	propIDs    = []string{"x", "a/b"}
	propFields = []string{"a", "n", "t", "k", "o"}
	propNow    = time.Unix(1700000000, 0)
)

type propSim struct {
	calm  bool // replaces and deletes are rare, so incarnations live long
	net   *simNet
	ids   map[string][]string
	fresh int
	st    *propStats
}

func newPropSim(rt *rapid.T, st *propStats) *propSim {
	s := &propSim{net: &simNet{}, ids: map[string][]string{}, st: st}
	for _, c := range propColls {
		s.ids[c] = propIDs[:len(propIDs):len(propIDs)]
	}
	s.calm = rapid.IntRange(0, 2).Draw(rt, "calm") > 0
	n := rapid.IntRange(2, 4).Draw(rt, "replicas")
	for range n {
		s.net.addReplica()
	}
	rt.Logf("start with %d replicas (calm %v)", n, s.calm)
	return s
}

func (s *propSim) replica(rt *rapid.T, label string) int {
	return rapid.IntRange(0, len(s.net.reps)-1).Draw(rt, label)
}

// writer returns a Writer whose nonce comes from the generator (so runs
// replay) and is unique (a sequence number), as incarnations must be.
func (s *propSim) writer(rt *rapid.T, r int) crdt.Writer {
	s.net.nonces++
	n := rapid.IntRange(0, 0xff).Draw(rt, "nonce")
	return crdt.Writer{Replica: s.net.reps[r].name, Nonce: fmt.Sprintf("%02x-%d", n, s.net.nonces), Now: propNow}
}

func (s *propSim) read(rt *rapid.T, r int, coll, id string) *crdt.Doc {
	d, bad := crdt.Assemble(coll, id, s.net.reps[r].docRaw(coll, id))
	if bad != 0 {
		rt.Fatalf("r%d: %d undecodable keys in %s/%s", r, bad, coll, id)
	}
	return d
}

// docText is the canonical JSON of a document. Plans hold values as
// written (a float64 1.0), stored values decode canonically (an int64 1),
// so documents are compared as JSON, not by Go type. Replicas, which all
// decode, are compared by type too (canon).
func docText(m map[string]any) string {
	if m == nil {
		return "<absent>"
	}
	return jsonText(m)
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("<%v>", err)
	}
	return string(b)
}

// Generators.

func genScalar(rt *rapid.T, label string) any {
	switch rapid.IntRange(0, 5).Draw(rt, label+"-kind") {
	case 0, 1, 2:
		return int64(rapid.IntRange(-2, 3).Draw(rt, label))
	case 3:
		return 0.5 * float64(rapid.IntRange(-2, 3).Draw(rt, label))
	}
	return rapid.SampledFrom([]string{"x", "y", "z"}).Draw(rt, label)
}

func genValue(rt *rapid.T, label string) any {
	switch rapid.IntRange(0, 5).Draw(rt, label+"-shape") {
	case 0:
		arr := make([]any, rapid.IntRange(0, 3).Draw(rt, label+"-len"))
		for i := range arr {
			arr[i] = genScalar(rt, label+"-el")
		}
		return arr
	case 1:
		return map[string]any{"x": genScalar(rt, label+"-x")}
	}
	return genScalar(rt, label)
}

func genDoc(rt *rapid.T) map[string]any {
	d := map[string]any{}
	for _, f := range propFields {
		if !rapid.Bool().Draw(rt, "has-"+f) {
			continue
		}
		switch {
		case f == "n" && rapid.IntRange(0, 3).Draw(rt, "lean") > 0:
			d[f] = genScalarNumber(rt, f)
		case f == "t" && rapid.IntRange(0, 3).Draw(rt, "lean") > 0:
			arr := make([]any, rapid.IntRange(0, 3).Draw(rt, f+"-len"))
			for i := range arr {
				arr[i] = genItem(rt, f+"-el")
			}
			d[f] = arr
		default:
			d[f] = genValue(rt, f)
		}
	}
	return d
}

func genPath(rt *rapid.T, f string) string {
	if rapid.IntRange(0, 4).Draw(rt, "dotted") == 0 {
		return f + rapid.SampledFrom([]string{".x", ".y", ".x.x"}).Draw(rt, "sub")
	}
	return f
}

// genOp draws one update operation. Fields have leanings, so that some
// fields see only counter or only set operations often enough for the
// semantic checks to apply: "n" is mostly incremented, "t" mostly added to
// and pulled from.
func genOp(rt *rapid.T, st *crdt.Doc) (string, string, any) {
	cur := st.Materialize()
	f := rapid.SampledFrom([]string{"n", "n", "t", "t", "a", "k", "o"}).Draw(rt, "field")
	all := []string{"$set", "$unset", "$inc", "$addToSet", "$pull", "$push", "$rename", "$max"}
	var op string
	switch {
	case f == "n" && rapid.IntRange(0, 9).Draw(rt, "lean") > 0:
		op = "$inc"
	case f == "t" && rapid.IntRange(0, 9).Draw(rt, "lean") > 0:
		op = "$addToSet" // a $pull before the field is a set is an assignment
		if fs := st.Fields[f]; fs != nil && fs.Reg != nil && fs.Reg.Kind == crdt.RegSet {
			op = rapid.SampledFrom([]string{"$addToSet", "$pull"}).Draw(rt, "op")
		}
	default:
		op = rapid.SampledFrom(all).Draw(rt, "op")
	}
	switch op {
	case "$set":
		return op, genPath(rt, f), genValue(rt, "v")
	case "$unset":
		return op, genPath(rt, f), ""
	case "$inc":
		return op, genPath(rt, f), genScalarNumber(rt, "by")
	case "$max":
		return op, genPath(rt, f), genScalarNumber(rt, "max")
	case "$addToSet":
		if rapid.Bool().Draw(rt, "each") {
			items := make([]any, rapid.IntRange(1, 3).Draw(rt, "n"))
			for i := range items {
				items[i] = genItem(rt, "item")
			}
			return op, genPath(rt, f), map[string]any{"$each": items}
		}
		return op, genPath(rt, f), genItem(rt, "item")
	case "$pull":
		// usually an element the document holds, or the pull does nothing
		if arr, ok := cur[f].([]any); ok && len(arr) > 0 && rapid.IntRange(0, 3).Draw(rt, "pull-held") > 0 {
			return op, f, arr[rapid.IntRange(0, len(arr)-1).Draw(rt, "elem")]
		}
		return op, f, genItem(rt, "item")
	case "$push":
		return op, f, genItem(rt, "item")
	}
	to := rapid.SampledFrom([]string{"a", "k", "o", "n", "t"}[:rapid.IntRange(3, 5).Draw(rt, "to-lean")]).
		Filter(func(g string) bool { return g != f }).Draw(rt, "to")
	return op, f, to
}

// genItem draws an element for $addToSet, $pull and $push from a small
// domain, so that adds and pulls of one element meet.
func genItem(rt *rapid.T, label string) any {
	return rapid.SampledFrom([]any{int64(1), int64(2), "x", 1.5}).Draw(rt, label)
}

func genScalarNumber(rt *rapid.T, label string) any {
	if rapid.IntRange(0, 4).Draw(rt, label+"-half") == 0 {
		return 0.5 * float64(rapid.IntRange(-3, 5).Draw(rt, label))
	}
	return int64(rapid.IntRange(-3, 5).Draw(rt, label))
}

func genUpdate(rt *rapid.T, cur *crdt.Doc) map[string]any {
	u := map[string]any{}
	n := 1
	if rapid.IntRange(0, 3).Draw(rt, "two-ops") == 0 {
		n = 2 // may conflict; ParseUpdate then refuses it
	}
	for range n {
		op, path, v := genOp(rt, cur)
		if u[op] == nil {
			u[op] = map[string]any{}
		}
		u[op].(map[string]any)[path] = v
	}
	return u
}

// Operations.

// pickDoc picks a document for replica r to write, usually one it holds.
func (s *propSim) pickDoc(rt *rapid.T, r int) (string, string) {
	var held []crdt.Key
	for _, k := range sortedKeys(s.net.reps[r].view) {
		if key, err := crdt.ParseKey(k); err == nil && key.Kind == crdt.KindDoc {
			held = append(held, key)
		}
	}
	if len(held) > 0 && rapid.IntRange(0, 3).Draw(rt, "held") > 0 {
		k := held[rapid.IntRange(0, len(held)-1).Draw(rt, "doc")]
		return k.Coll, k.ID
	}
	coll := rapid.SampledFrom(propColls).Draw(rt, "coll")
	return coll, rapid.SampledFrom(s.ids[coll]).Draw(rt, "id")
}

// pickCreate picks a document to create: a fresh _id (1 in fresh) or one
// of those already in use, which may exist.
func (s *propSim) pickCreate(rt *rapid.T, fresh int) (string, string) {
	coll := rapid.SampledFrom(propColls).Draw(rt, "coll")
	if rapid.IntRange(0, fresh-1).Draw(rt, "fresh-id") == 0 {
		s.fresh++
		id := fmt.Sprintf("g%d", s.fresh)
		s.ids[coll] = append(s.ids[coll], id)
		return coll, id
	}
	return coll, rapid.SampledFrom(s.ids[coll]).Draw(rt, "id")
}

func (s *propSim) insert(rt *rapid.T) {
	r := s.replica(rt, "replica")
	coll, id := s.pickCreate(rt, 5)
	s.insertOn(rt, r, coll, id)
}

func (s *propSim) upsert(rt *rapid.T) {
	r := s.replica(rt, "replica")
	coll, id := s.pickCreate(rt, 3)
	s.upsertOn(rt, r, coll, id)
}

// createRace has two replicas create one _id (by insert or upsert) before
// either hears of the other's creation: the concurrent creations that must
// merge field by field.
func (s *propSim) createRace(rt *rapid.T) {
	a, b := s.replica(rt, "replica"), s.replica(rt, "other")
	if a == b {
		rt.Skip("one replica")
	}
	coll, id := s.pickCreate(rt, 2)
	rt.Logf("create race r%d r%d on %s/%s", a, b, coll, id)
	for _, r := range []int{a, b} {
		if rapid.Bool().Draw(rt, "by-upsert") {
			s.upsertOn(rt, r, coll, id)
		} else {
			s.insertOn(rt, r, coll, id)
		}
	}
}

func (s *propSim) insertOn(rt *rapid.T, r int, coll, id string) {
	doc := genDoc(rt)
	doc["_id"] = id
	cur := s.read(rt, r, coll, id)
	if cur.Exists {
		rt.Logf("r%d insert %s/%s: duplicate _id, nothing written", r, coll, id)
		return
	}
	w := s.writer(rt, r)
	p, err := crdt.PlanInsert(cur, doc, w)
	if err != nil {
		rt.Fatalf("PlanInsert: %v", err)
	}
	inc, gen := baseInc(rt, p)
	for g := range cur.Graves {
		if g == inc {
			rt.Fatalf("r%d insert %s/%s reuses the buried incarnation %s", r, coll, id, inc)
		}
	}
	op := &simOp{kind: "insert", coll: coll, id: id, inc: inc, gen: gen, base: doc}
	op.desc = fmt.Sprintf("r%d insert %s/%s %s (inc %s gen %d)", r, coll, id, canon(doc), inc, gen)
	s.apply(rt, r, cur, p, op)
}

// upsertOn runs an update with upsert on the _id: an update when replica r
// holds the document, otherwise a creation by PlanUpsert, which must make
// what query.ApplyUpsert makes.
func (s *propSim) upsertOn(rt *rapid.T, r int, coll, id string) {
	cur := s.read(rt, r, coll, id)
	if cur.Exists {
		rt.Logf("r%d upsert %s/%s: exists, so an update", r, coll, id)
		s.updateOn(rt, r, coll, id)
		return
	}
	u := genUpdate(rt, cur)
	upd, err := query.ParseUpdate(u)
	if err != nil {
		rt.Logf("r%d upsert %s/%s %s: refused: %v", r, coll, id, canon(u), err)
		return
	}
	filter, err := query.ParseFilter(map[string]any{"_id": id})
	if err != nil {
		rt.Fatal(err)
	}
	want, wantErr := query.ApplyUpsert(filter, upd, propNow)
	w := s.writer(rt, r)
	seed := map[string]any{"_id": id}
	p, err := crdt.PlanUpsert(cur, seed, upd, w)
	if (err != nil) != (wantErr != nil) {
		rt.Fatalf("r%d upsert %s/%s %s: PlanUpsert error %v, ApplyUpsert error %v", r, coll, id, canon(u), err, wantErr)
	}
	if err != nil {
		rt.Logf("r%d upsert %s/%s %s: fails: %v", r, coll, id, canon(u), err)
		return
	}
	if jsonText(p.Doc) != jsonText(want) {
		rt.Fatalf("r%d upsert %s/%s %s: PlanUpsert makes %s, ApplyUpsert %s", r, coll, id, canon(u), jsonText(p.Doc), jsonText(want))
	}
	inc, gen := baseInc(rt, p)
	ins, err := crdt.PlanInsert(cur, seed, w)
	if err != nil {
		rt.Fatal(err)
	}
	seeded := cur.With(ins.Mutations)
	op := &simOp{kind: "upsert", coll: coll, id: id, inc: inc, gen: gen, base: seed, touches: classify(seeded, upd, p.Doc)}
	op.desc = fmt.Sprintf("r%d upsert %s/%s %s (inc %s gen %d)", r, coll, id, canon(u), inc, gen)
	s.recordRegisters(rt, op, s.apply(rt, r, cur, p, op))
}

func (s *propSim) replace(rt *rapid.T) {
	if s.calm && rapid.IntRange(0, 4).Draw(rt, "calm-skip") > 0 {
		return
	}
	r := s.replica(rt, "replica")
	coll, id := s.pickDoc(rt, r)
	doc := genDoc(rt)
	cur := s.read(rt, r, coll, id)
	if !cur.Exists {
		rt.Logf("r%d replace %s/%s: no document", r, coll, id)
		return
	}
	doc["_id"] = cur.Materialize()["_id"]
	w := s.writer(rt, r)
	p, err := crdt.PlanReplace(cur, doc, w)
	if err != nil {
		rt.Fatalf("PlanReplace: %v", err)
	}
	if !p.Modified {
		rt.Logf("r%d replace %s/%s: unchanged, nothing written", r, coll, id)
		return
	}
	inc, gen := baseInc(rt, p)
	op := &simOp{kind: "replace", coll: coll, id: id, inc: inc, gen: gen, base: doc}
	op.desc = fmt.Sprintf("r%d replace %s/%s %s (inc %s gen %d, was %s)", r, coll, id, canon(doc), inc, gen, cur.Marker.Inc)
	s.apply(rt, r, cur, p, op)
}

func (s *propSim) delete(rt *rapid.T) {
	if s.calm && rapid.IntRange(0, 4).Draw(rt, "calm-skip") > 0 {
		return
	}
	r := s.replica(rt, "replica")
	coll, id := s.pickDoc(rt, r)
	cur := s.read(rt, r, coll, id)
	if !cur.Exists {
		rt.Logf("r%d delete %s/%s: no document", r, coll, id)
		return
	}
	op := &simOp{kind: "delete", coll: coll, id: id, inc: cur.Marker.Inc}
	op.desc = fmt.Sprintf("r%d delete %s/%s (inc %s)", r, coll, id, cur.Marker.Inc)
	s.apply(rt, r, cur, crdt.PlanDelete(cur), op)
}

func (s *propSim) update(rt *rapid.T) {
	r := s.replica(rt, "replica")
	coll, id := s.pickDoc(rt, r)
	s.updateOn(rt, r, coll, id)
}

// race has two replicas update one document before either hears of the
// other's write: the concurrent conflicts the semantics are about.
func (s *propSim) race(rt *rapid.T) {
	a, b := s.replica(rt, "replica"), s.replica(rt, "other")
	if a == b {
		rt.Skip("one replica")
	}
	coll, id := s.pickDoc(rt, a)
	rt.Logf("race r%d r%d on %s/%s", a, b, coll, id)
	s.updateOn(rt, a, coll, id)
	s.updateOn(rt, b, coll, id)
}

func (s *propSim) updateOn(rt *rapid.T, r int, coll, id string) {
	cur := s.read(rt, r, coll, id)
	u := genUpdate(rt, cur)
	if !cur.Exists {
		rt.Logf("r%d update %s/%s %s: no document", r, coll, id, canon(u))
		return
	}
	upd, err := query.ParseUpdate(u)
	if err != nil {
		rt.Logf("r%d update %s/%s %s: refused: %v", r, coll, id, canon(u), err)
		return
	}
	w := s.writer(rt, r)
	p, err := crdt.PlanUpdate(cur, upd, w)
	if err != nil {
		rt.Logf("r%d update %s/%s %s: fails: %v", r, coll, id, canon(u), err)
		return
	}
	op := &simOp{kind: "update", coll: coll, id: id, inc: cur.Marker.Inc, touches: classify(cur, upd, p.Doc)}
	op.desc = fmt.Sprintf("r%d update %s/%s %s (inc %s)", r, coll, id, canon(u), cur.Marker.Inc)
	s.recordRegisters(rt, op, s.apply(rt, r, cur, p, op))
}

// recordRegisters notes the register each assignment of op wrote in delta
// d, for the register check.
func (s *propSim) recordRegisters(rt *rapid.T, op *simOp, d *simDelta) {
	if d == nil {
		return
	}
	for name, t := range op.touches {
		if t.kind != "assign" {
			continue
		}
		fk := crdt.FieldKey(op.coll, op.id, op.inc, name)
		for _, e := range d.elems {
			if e.key == fk {
				t.reg = e.value
			}
			k, err := crdt.ParseKey(e.key)
			if err != nil || !strings.HasPrefix(k.Field, name+".") {
				continue
			}
			if t.paths == nil {
				t.paths, t.raws = map[string]crdt.Register{}, map[string][]byte{}
			}
			if k.Kind == crdt.KindField {
				r, err := crdt.DecodeRegister(e.value)
				if err != nil {
					rt.Fatal(err)
				}
				t.paths[k.Field], t.raws[k.Field] = r, e.value
			}
		}
		for _, tb := range d.tombs {
			// a $pull of a nested set (a whole write deletes the keys
			// below it too, as garbage)
			if k, err := crdt.ParseKey(tb.key); err == nil && strings.HasPrefix(k.Field, name+".") && t.paths == nil && t.reg == nil {
				t.paths, t.raws = map[string]crdt.Register{}, map[string][]byte{}
			}
		}
		if t.reg != nil && t.paths != nil {
			rt.Fatalf("%s: %q written both whole and by paths", op.desc, name)
		}
		if t.paths != nil {
			t.kind = "path"
			continue
		}
		if t.reg == nil {
			rt.Fatalf("%s: the assignment of %q wrote no register", op.desc, name)
		}
	}
}

// classify says, for each top-level field an update touches, what
// PlanUpdate does with it (crdt/plan.go's documented cases).
func classify(cur *crdt.Doc, upd *query.Update, next map[string]any) map[string]*simTouch {
	old := cur.Materialize()
	byField := map[string][]query.Op{}
	for _, o := range upd.Ops() {
		byField[topOf(o.Path)] = append(byField[topOf(o.Path)], o)
		if o.Operator == "$rename" {
			to := topOf(o.Value.(string))
			byField[to] = append(byField[to], o)
		}
	}
	out := map[string]*simTouch{}
	for name, ops := range byField {
		newVal, has := next[name]
		oldVal, hadOld := old[name]
		single := len(ops) == 1 && ops[0].Path == name
		_, oi := oldVal.(int64)
		_, ni := newVal.(int64)
		unchanged := has == hadOld && (!has || value.Equal(oldVal, newVal) && oi == ni)
		readd := single && ops[0].Operator == "$addToSet" && has
		isSet := false
		if fs := cur.Fields[name]; fs != nil && fs.Reg != nil && fs.Reg.Kind == crdt.RegSet {
			isSet = true
		}
		t := &simTouch{}
		switch {
		case unchanged && !readd:
			t.kind = "none"
		case single && ops[0].Operator == "$inc" && has:
			t.kind, t.by = "inc", ops[0].Value
		case readd:
			t.kind = "add"
			if !isSet {
				t.adds = newVal.([]any) // a conversion writes every element
			} else if items, ok := ops[0].Value.([]any); ok {
				t.adds = items
			} else {
				t.adds = []any{ops[0].Value}
			}
		case single && ops[0].Operator == "$pull" && has && isSet:
			t.kind, t.pulled = "pullset", ops[0].Value
		default:
			t.kind, t.value, t.has, t.ops = "assign", newVal, has, ops
		}
		out[name] = t
	}
	return out
}

func topOf(p string) string {
	if i := strings.IndexByte(p, '.'); i >= 0 {
		return p[:i]
	}
	return p
}

// apply commits a plan on replica r and checks read-your-writes.
func (s *propSim) apply(rt *rapid.T, r int, cur *crdt.Doc, p crdt.Plan, op *simOp) *simDelta {
	d := s.net.commit(r, p.Mutations, op)
	if d == nil {
		rt.Logf("%s: nothing to write", op.desc)
		return nil
	}
	s.st.writes++
	s.st.deltas++
	rt.Logf("%s -> delta %d prio %d links %v", op.desc, d.id, d.prio, d.links)
	after := s.read(rt, r, op.coll, op.id)
	got := docText(after.Materialize())
	if want := docText(cur.With(p.Mutations).Materialize()); got != want {
		rt.Fatalf("%s: replica shows %s, Doc.With predicts %s", op.desc, got, want)
	}
	// Exactly, sets included: a single replica orders a set as MongoDB
	// orders the array $addToSet builds.
	if want := docText(p.Doc); got != want {
		rt.Fatalf("%s: replica shows %s, the plan's document is %s", op.desc, got, want)
	}
	return d
}

// baseInc is the incarnation a creation's plan writes its base under, and
// its lineage length.
func baseInc(rt *rapid.T, p crdt.Plan) (string, uint64) {
	for _, m := range p.Mutations {
		if k, err := crdt.ParseKey(m.Key); err == nil && k.Kind == crdt.KindBase && !m.Delete {
			gen, _, err := crdt.DecodeBase(m.Value)
			if err != nil {
				rt.Fatal(err)
			}
			return k.Inc, gen
		}
	}
	rt.Fatalf("the plan writes no base: %v", p.Mutations)
	return "", 0
}

// Network actions.

func (s *propSim) deliver(rt *rapid.T) {
	n := s.net
	if len(n.inflight) == 0 {
		rt.Skip("nothing in flight")
	}
	i := rapid.IntRange(0, len(n.inflight)-1).Draw(rt, "msg")
	m := n.inflight[i]
	fate := rapid.SampledFrom([]string{"deliver", "deliver", "deliver", "drop", "duplicate", "delay"}).Draw(rt, "fate")
	if !n.connected(m.from, m.to) {
		fate = "drop (partitioned)"
	}
	switch fate {
	case "delay":
		n.inflight = append(append(n.inflight[:i:i], n.inflight[i+1:]...), m)
	case "duplicate":
		k := n.fetch(m.to, m.id)
		n.inflight = append(n.inflight, m)
		rt.Logf("deliver delta %d r%d->r%d, duplicated (%d merged)", m.id, m.from, m.to, k)
		return
	case "deliver":
		k := n.fetch(m.to, m.id)
		n.inflight = append(n.inflight[:i:i], n.inflight[i+1:]...)
		rt.Logf("deliver delta %d r%d->r%d (%d merged)", m.id, m.from, m.to, k)
		return
	default:
		n.inflight = append(n.inflight[:i:i], n.inflight[i+1:]...)
	}
	rt.Logf("%s delta %d r%d->r%d", fate, m.id, m.from, m.to)
}

// flush delivers everything in flight between connected replicas, in order.
func (s *propSim) flush(rt *rapid.T) {
	n := s.net
	if len(n.inflight) == 0 {
		rt.Skip("nothing in flight")
	}
	var keep []simMsg
	merged := 0
	for _, m := range n.inflight {
		if n.connected(m.from, m.to) {
			merged += n.fetch(m.to, m.id)
		} else {
			keep = append(keep, m)
		}
	}
	rt.Logf("flush %d messages (%d merged), %d held by the partition", len(n.inflight)-len(keep), merged, len(keep))
	n.inflight = keep
}

func (s *propSim) announce(rt *rapid.T) {
	r := s.replica(rt, "replica")
	s.net.announce(r)
	rt.Logf("r%d announces heads %v", r, s.net.reps[r].heads)
}

// sync is a direct pull of one replica's heads by another.
func (s *propSim) sync(rt *rapid.T) {
	a, b := s.replica(rt, "from"), s.replica(rt, "to")
	if a == b || !s.net.connected(a, b) {
		rt.Skip("no link")
	}
	merged := 0
	for _, h := range s.net.reps[a].heads {
		merged += s.net.fetch(b, h)
	}
	rt.Logf("r%d pulls from r%d (%d merged)", b, a, merged)
}

func (s *propSim) partition(rt *rapid.T) {
	n := s.net
	for r := range n.side {
		n.side[r] = rapid.IntRange(0, 1).Draw(rt, "side")
	}
	rt.Logf("partition %v", n.side)
}

func (s *propSim) heal(rt *rapid.T) {
	for r := range s.net.side {
		s.net.side[r] = 0
	}
	rt.Logf("heal")
}

// crash restarts a replica: what it merged is on disk, what was in flight
// to it or from it is lost.
func (s *propSim) crash(rt *rapid.T) {
	r := s.replica(rt, "replica")
	n := s.net
	keep := n.inflight[:0:0]
	for _, m := range n.inflight {
		if m.to != r && m.from != r {
			keep = append(keep, m)
		}
	}
	rt.Logf("crash r%d (%d messages lost)", r, len(n.inflight)-len(keep))
	n.inflight = keep
}

func (s *propSim) join(rt *rapid.T) {
	if len(s.net.reps) >= 4 {
		rt.Skip("4 replicas already")
	}
	r := s.net.addReplica()
	rt.Logf("r%d joins empty", r)
}

// Final checks.

func (s *propSim) final(rt *rapid.T) {
	n := s.net
	n.antiEntropy()
	rt.Logf("final heal and anti-entropy: %d deltas", len(n.deltas))
	docs0, states0, err := n.docs(0)
	if err != nil {
		rt.Fatal(err)
	}
	r0 := n.reps[0]
	if r0.known.count() != len(n.deltas) {
		rt.Fatalf("r0 holds %d of %d deltas", r0.known.count(), len(n.deltas))
	}
	for r := 1; r < len(n.reps); r++ {
		rep := n.reps[r]
		if fmt.Sprint(rep.heads) != fmt.Sprint(r0.heads) {
			rt.Fatalf("heads differ: r0 %v, r%d %v", r0.heads, r, rep.heads)
		}
		if len(rep.view) != len(r0.view) {
			rt.Fatalf("r0 holds %d keys, r%d %d", len(r0.view), r, len(rep.view))
		}
		for k, v := range r0.view {
			if string(rep.view[k]) != string(v) {
				rt.Fatalf("key %s: r0 %q, r%d %q", k, v, r, rep.view[k])
			}
		}
		docs, _, err := n.docs(r)
		if err != nil {
			rt.Fatal(err)
		}
		for _, k := range unionKeys(docs0, docs) {
			if docs0[k] != docs[k] {
				rt.Fatalf("replicas diverge on %s:\n  r0: %s\n  r%d: %s", k, docs0[k], r, docs[k])
			}
		}
	}
	for _, k := range sortedKeys(docs0) {
		rt.Logf("final %s = %s", k, docs0[k])
	}
	s.checkSemantics(rt, states0)
}

func unionKeys(a, b map[string]string) []string {
	m := map[string]string{}
	for k := range a {
		m[k] = ""
	}
	for k := range b {
		m[k] = ""
	}
	return sortedKeys(m)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

type docHistory struct {
	creations, killers []*simDelta            // killers: deletes and replaces, which remove every key they have seen
	updates            map[string][]*simDelta // by incarnation
}

func (s *propSim) checkSemantics(rt *rapid.T, states map[string]*crdt.Doc) {
	hist := map[string]*docHistory{}
	for _, d := range s.net.deltas {
		key := d.op.coll + "/" + d.op.id
		h := hist[key]
		if h == nil {
			h = &docHistory{updates: map[string][]*simDelta{}}
			hist[key] = h
		}
		switch d.op.kind {
		case "insert", "upsert", "replace":
			h.creations = append(h.creations, d)
		}
		switch d.op.kind {
		case "delete", "replace":
			h.killers = append(h.killers, d)
		case "update", "upsert":
			h.updates[d.op.inc] = append(h.updates[d.op.inc], d)
		}
	}
	for _, key := range sortedKeys(states) {
		if hist[key] == nil {
			rt.Fatalf("document %s exists but nobody wrote it", key)
		}
	}
	for _, key := range sortedKeys(hist) {
		h := hist[key]
		s.st.docs++
		// Creations (inserts, upserts) that saw the same deletes and
		// replaces of the document create the same incarnation, so that
		// concurrent creations merge.
		bySeen := map[string]*simDelta{}
		for _, c := range h.creations {
			if c.op.kind == "replace" {
				continue
			}
			var seen []int
			for _, k := range h.killers {
				if c.anc.has(k.id) {
					seen = append(seen, k.id)
				}
			}
			sig := fmt.Sprint(seen)
			if o := bySeen[sig]; o == nil {
				bySeen[sig] = c
			} else if o.op.inc != c.op.inc {
				rt.Fatalf("%s: delta %d and delta %d create it having seen the same deletes and replaces %v, "+
					"but in incarnations %s and %s", key, o.id, c.id, seen, o.op.inc, c.op.inc)
			}
		}
		// A creation's base survives unless a delete or a replace has it
		// in its causal past.
		var alive []*simDelta
		for _, c := range h.creations {
			dead := false
			for _, k := range h.killers {
				dead = dead || k != c && k.anc.has(c.id)
			}
			if !dead {
				alive = append(alive, c)
			}
		}
		st := states[key]
		if (len(alive) > 0) != (st != nil) {
			rt.Fatalf("%s: exists=%v, but %d of its %d creations are outside the causal past of every delete and replace",
				key, st != nil, len(alive), len(h.creations))
		}
		if st == nil {
			continue
		}
		// The incarnation shown is the live one of the longest lineage,
		// ties to the larger name; its base merges every live creator's.
		inc, gen := "", uint64(0)
		for i, c := range alive {
			if i == 0 || c.op.gen > gen || c.op.gen == gen && c.op.inc > inc {
				inc, gen = c.op.inc, c.op.gen
			}
		}
		if st.Marker.Inc != inc {
			rt.Fatalf("%s: shows incarnation %s, the live creations make %s (gen %d) win", key, st.Marker.Inc, inc, gen)
		}
		base := map[string]any{}
		var creators []string
		for _, c := range alive {
			if c.op.inc != inc {
				continue
			}
			creators = append(creators, fmt.Sprintf("delta %d by r%d", c.id, c.author))
			for f, v := range c.op.base {
				if cur, ok := base[f]; !ok || jsonText(v) > jsonText(cur) {
					base[f] = v
				}
			}
		}
		if len(creators) > 1 {
			s.st.merged++
		}
		// A delete or replace that saw part of this incarnation removed
		// what it saw, while a concurrent creation kept the incarnation
		// alive: what shows is then only checked for convergence.
		ups := h.updates[inc]
		partly := false
		for _, k := range h.killers {
			for _, u := range append(append([]*simDelta(nil), ups...), h.creations...) {
				partly = partly || u.op.inc == inc && k.anc.has(u.id)
			}
		}
		if partly {
			s.st.partly++
			continue
		}
		s.checkFields(rt, key, inc, strings.Join(creators, ", "), base, h.updates[inc], st.Materialize())
	}
}

type touchAt struct {
	d *simDelta
	t *simTouch
}

func (s *propSim) checkFields(rt *rapid.T, key, inc, creators string, base map[string]any, updates []*simDelta, doc map[string]any) {
	touches := map[string][]touchAt{}
	fields := map[string]bool{}
	for f := range base {
		fields[f] = true
	}
	for f := range doc {
		fields[f] = true
	}
	for _, u := range updates {
		for f, t := range u.op.touches {
			if t.kind != "none" {
				touches[f] = append(touches[f], touchAt{u, t})
				fields[f] = true
			}
		}
	}
	delete(fields, "_id")
	if !value.Equal(doc["_id"], base["_id"]) {
		rt.Fatalf("%s: _id is %v, inserted as %v", key, doc["_id"], base["_id"])
	}
	for _, f := range sortedKeys(fields) {
		got, has := doc[f]
		ts := touches[f]
		kinds := map[string]bool{}
		for _, t := range ts {
			kinds[t.t.kind] = true
		}
		fail := func(format string, args ...any) {
			rt.Fatalf("%s.%s = %s (present %v): %s", key, f, canon(got), has, fmt.Sprintf(format, args...))
		}
		switch {
		case len(ts) == 0:
			s.st.untouched++
			bv, bhas := base[f]
			if has != bhas || jsonText(got) != jsonText(bv) {
				fail("never updated in incarnation %s, so it must be the base value %s (present %v) merged from %s", inc, canon(bv), bhas, creators)
			}
		case len(kinds) == 1 && kinds["inc"]:
			s.st.counters++
			want := 0.0
			if n, ok := base[f].(int64); ok {
				want = float64(n)
			} else if x, ok := base[f].(float64); ok {
				want = x
			}
			var incs []string
			authors := map[int]bool{}
			for _, t := range ts {
				authors[t.d.author] = true
				switch x := t.t.by.(type) {
				case int64:
					want += float64(x)
				case float64:
					want += x
				}
				incs = append(incs, fmt.Sprintf("%s by r%d (delta %d)", canon(t.t.by), t.d.author, t.d.id))
			}
			if len(authors) > 1 {
				s.st.counters2++
			}
			if !has || value.Compare(got, want) != 0 || !isNumber(got) {
				fail("only $inc touched it: base %s + %v = %v", canon(base[f]), incs, want)
			}
		case !kinds["inc"] && !kinds["assign"] && !kinds["path"]:
			// only $addToSet and set $pull: add-wins
			s.st.sets++
			arr, ok := got.([]any)
			if !has || !ok {
				fail("only $addToSet/$pull touched it: must be a set")
			}
			want := map[string]any{}
			// A conversion writes every element of the array it converts,
			// duplicates included (as MongoDB's $addToSet keeps them): the
			// copies an add wrote survive with it.
			copies := map[string]int{}
			racy := false
			for _, a := range ts {
				if a.t.kind != "add" {
					continue
				}
				wrote := map[string]int{}
				for _, x := range a.t.adds {
					wrote[crdt.ValueHash(x)]++
				}
				for _, x := range a.t.adds {
					hx := crdt.ValueHash(x)
					pulled := false
					for _, p := range ts {
						if p.t.kind != "pullset" || crdt.ValueHash(p.t.pulled) != hx {
							continue
						}
						pulled = pulled || p.d.anc.has(a.d.id)
						racy = racy || concurrent(a.d, p.d)
					}
					if !pulled {
						want[hx] = x
						copies[hx] = max(copies[hx], wrote[hx])
					}
				}
			}
			if racy {
				s.st.sets2++
			}
			gotSet := map[string]bool{}
			count := map[string]int{}
			for _, e := range arr {
				h := crdt.ValueHash(e)
				if count[h]++; count[h] > max(1, copies[h]) {
					fail("element %s listed %d times", canon(e), count[h])
				}
				gotSet[h] = true
				if _, ok := want[h]; !ok {
					fail("element %s: every add of it is followed by a $pull of it", canon(e))
				}
			}
			for h, x := range want {
				if !gotSet[h] {
					fail("element %s is missing: an add of it has no $pull of it in its causal future (add wins)", canon(x))
				}
			}
		case len(kinds) == 1 && kinds["assign"]:
			s.st.registers++
			win := ts[0]
			racy := false
			for _, t := range ts[1:] {
				racy = racy || concurrent(t.d, win.d)
				if t.d.prio > win.d.prio || t.d.prio == win.d.prio && string(t.t.reg) > string(win.t.reg) {
					win = t
				}
			}
			if racy {
				s.st.registers2++
			}
			if has != win.t.has || jsonText(got) != jsonText(win.t.value) {
				fail("only assignments touched it: the highest (delta %d, prio %d: %s, present %v) must win",
					win.d.id, win.d.prio, canon(win.t.value), win.t.has)
			}
		case len(kinds) == 1 && kinds["path"] && !deeper(ts, f):
			// Registers per nested path: each path holds its highest
			// assignment, on top of the base's object.
			s.st.paths++
			bv, bhas := base[f]
			want := map[string]any{}
			if bm, ok := bv.(map[string]any); ok {
				want = value.Clone(bm).(map[string]any)
			} else if bhas {
				// not an object: the paths cannot apply
				if !has || jsonText(got) != jsonText(bv) {
					fail("only nested paths were written, over a base value %s that is not an object", canon(bv))
				}
				break
			}
			// Each path holds its highest assignment, or, when only $inc
			// wrote it, the base's number plus every increment.
			type write struct {
				d  *simDelta
				op query.Op
				t  *simTouch
			}
			byPath := map[string][]write{}
			for _, t := range ts {
				for _, op := range t.t.ops {
					byPath[op.Path] = append(byPath[op.Path], write{t.d, op, t.t})
				}
			}
			if len(byPath) > 1 {
				s.st.paths2++
			}
			sums := map[string]float64{}
			mixed := false
			for p, ws := range byPath {
				last := strings.TrimPrefix(p, f+".")
				kinds := map[string]bool{}
				for _, x := range ws {
					kinds[x.op.Operator] = true
				}
				switch {
				case len(kinds) == 1 && kinds["$inc"]:
					s.st.pathCounters++
					sum := 0.0
					if n, ok := want[last].(int64); ok {
						sum = float64(n)
					} else if x, ok := want[last].(float64); ok {
						sum = x
					}
					for _, x := range ws {
						switch by := x.op.Value.(type) {
						case int64:
							sum += float64(by)
						case float64:
							sum += by
						}
					}
					sums[last] = sum
					delete(want, last)
				case !kinds["$inc"] && !kinds["$addToSet"] && !kinds["$pull"]:
					var win *write
					for i, x := range ws {
						if _, wrote := x.t.paths[p]; !wrote {
							continue
						}
						if win == nil || x.d.prio > win.d.prio || x.d.prio == win.d.prio && string(x.t.raws[p]) > string(win.t.raws[p]) {
							win = &ws[i]
						}
					}
					if win == nil {
						continue
					}
					if r := win.t.paths[p]; r.Kind == crdt.RegValue {
						want[last] = r.Value
					} else {
						delete(want, last)
					}
				default:
					mixed = true
				}
			}
			if mixed {
				s.st.mixed++
				break
			}
			gm, ok := got.(map[string]any)
			if !has || !ok {
				fail("only nested paths were written: must be an object")
			}
			rest := value.Clone(gm).(map[string]any)
			for last, sum := range sums {
				if v, ok := rest[last]; !ok || !isNumber(v) || value.Compare(v, sum) != 0 {
					fail("%s.%s was only incremented: base + increments = %v", f, last, sum)
				}
				delete(rest, last)
			}
			if jsonText(rest) != jsonText(want) {
				fail("only nested paths were written: each holds its highest assignment over the base %s: %s", canon(bv), canon(want))
			}
		default:
			s.st.mixed++
		}
	}
}

// deeper reports whether a touch of field f wrote a path more than one
// level below it (checked for convergence and read-your-writes only).
func deeper(ts []touchAt, f string) bool {
	for _, t := range ts {
		for p := range t.t.paths {
			if strings.Contains(strings.TrimPrefix(p, f+"."), ".") {
				return true
			}
		}
	}
	return false
}

func isNumber(v any) bool {
	switch v.(type) {
	case int64, float64:
		return true
	}
	return false
}
