package crdt_test

// An in-memory simulation of go-ds-crdt replicas exchanging deltas over a
// faulty network, for the property test in property_test.go. No goroutines,
// no I/O: every step is driven by the test.
//
// It follows go-ds-crdt v0.6.8 (set.go, crdt.go, heads.go):
//
//   - a delta is a block of a Merkle-DAG: a list of elements (key, value), a
//     list of tombstones (key, element id), a priority and links to the
//     writer's heads when it was made. Its id is the block id, and every
//     element it carries has that id;
//   - the priority of a new delta is 1 + the highest priority among the
//     writer's heads (its DAG height);
//   - a Put adds an element; a Delete tombstones every element id of the
//     key the writer has merged and not yet tombstoned (set.Rmv);
//   - a key's value is, among its elements that are not tombstoned, the one
//     of highest priority; on equal priority the byte-wise larger value;
//   - a replica merges a delta only with its whole ancestry (DAG sync walks
//     the links down to known blocks), so what a replica holds is closed
//     under ancestry and its heads are the maximal deltas it holds.

import (
	"bytes"
	"fmt"
	"math/bits"
	"sort"
	"strings"

	"github.com/latticedb/lattice/crdt"
)

// bitset is a small set of delta ids.
type bitset []uint64

func (b *bitset) set(i int) {
	for len(*b) <= i/64 {
		*b = append(*b, 0)
	}
	(*b)[i/64] |= 1 << (i % 64)
}

func (b bitset) has(i int) bool { return i/64 < len(b) && b[i/64]&(1<<(i%64)) != 0 }

func (b *bitset) or(o bitset) {
	for len(*b) < len(o) {
		*b = append(*b, 0)
	}
	for i, w := range o {
		(*b)[i] |= w
	}
}

func (b bitset) count() int {
	n := 0
	for _, w := range b {
		n += bits.OnesCount64(w)
	}
	return n
}

type simElem struct {
	key   string
	value []byte
}

type simTomb struct {
	key string
	id  int
}

// simDelta is one block of the DAG. Blocks are immutable once made and
// fetchable by id from the simulated block store (net.deltas).
type simDelta struct {
	id     int
	prio   uint64
	links  []int
	anc    bitset // strict ancestors
	elems  []simElem
	tombs  []simTomb
	author int
	op     *simOp // the operation that wrote it
}

type simVersion struct {
	prio  uint64
	value []byte
}

// simReplica is the persistent state of one replica: the set's elements
// and tombstones, the deltas it holds and its heads, and the key-value view
// go-ds-crdt materialises from them.
type simReplica struct {
	name  string // crdt.Writer.Replica
	known bitset
	heads []int
	elems map[string]map[int]simVersion
	tombs map[string]map[int]bool
	view  map[string][]byte
}

func newSimReplica(name string) *simReplica {
	return &simReplica{
		name:  name,
		elems: map[string]map[int]simVersion{},
		tombs: map[string]map[int]bool{},
		view:  map[string][]byte{},
	}
}

// nextPrio is the priority of the next delta this replica writes.
func (r *simReplica) nextPrio(net *simNet) uint64 {
	var p uint64
	for _, h := range r.heads {
		p = max(p, net.deltas[h].prio)
	}
	return p + 1
}

// merge applies one delta whose links the replica already holds: tombstones
// first, then elements (set.Merge), and moves the heads.
func (r *simReplica) merge(d *simDelta) {
	if r.known.has(d.id) {
		return
	}
	for _, l := range d.links {
		if !r.known.has(l) {
			panic(fmt.Sprintf("merge of delta %d before its link %d", d.id, l))
		}
	}
	touched := map[string]bool{}
	for _, t := range d.tombs {
		if r.tombs[t.key] == nil {
			r.tombs[t.key] = map[int]bool{}
		}
		r.tombs[t.key][t.id] = true
		touched[t.key] = true
	}
	for _, e := range d.elems {
		if r.elems[e.key] == nil {
			r.elems[e.key] = map[int]simVersion{}
		}
		r.elems[e.key][d.id] = simVersion{prio: d.prio, value: e.value}
		touched[e.key] = true
	}
	r.known.set(d.id)
	heads := r.heads[:0:0]
	for _, h := range r.heads {
		linked := false
		for _, l := range d.links {
			linked = linked || l == h
		}
		if !linked {
			heads = append(heads, h)
		}
	}
	r.heads = append(heads, d.id)
	sort.Ints(r.heads)
	for k := range touched {
		r.refresh(k)
	}
}

// refresh recomputes the value of key k: the live element of highest
// priority, ties to the byte-wise larger value.
func (r *simReplica) refresh(k string) {
	var best []byte
	var bestPrio uint64
	found := false
	for id, v := range r.elems[k] {
		if r.tombs[k][id] {
			continue
		}
		if !found || v.prio > bestPrio || v.prio == bestPrio && bytes.Compare(v.value, best) > 0 {
			best, bestPrio, found = v.value, v.prio, true
		}
	}
	if found {
		r.view[k] = best
	} else {
		delete(r.view, k)
	}
}

// liveIDs lists the element ids of k a Delete would tombstone (set.Rmv).
func (r *simReplica) liveIDs(k string) []int {
	var ids []int
	for id := range r.elems[k] {
		if !r.tombs[k][id] {
			ids = append(ids, id)
		}
	}
	sort.Ints(ids)
	return ids
}

// docRaw returns the live keys of one document (its marker and everything
// below it) with their values, as the engine reads them before planning.
func (r *simReplica) docRaw(coll, id string) map[string][]byte {
	prefix := crdt.DocPrefix(coll, id)
	raw := map[string][]byte{}
	for k, v := range r.view {
		if k == prefix || strings.HasPrefix(k, prefix+"/") {
			raw[k] = bytes.Clone(v)
		}
	}
	return raw
}

// simMsg is a delta announcement in flight: when it arrives, the receiver
// fetches and merges the delta and whatever of its ancestry it lacks.
type simMsg struct {
	from, to, id int
}

// simNet is the whole system: replicas, the block store and the network.
type simNet struct {
	deltas   []*simDelta
	reps     []*simReplica
	side     []int // partition side of each replica; all equal when healed
	inflight []simMsg
	nonces   int
}

func (n *simNet) addReplica() int {
	n.reps = append(n.reps, newSimReplica(fmt.Sprintf("r%d", len(n.reps))))
	side := 0
	if len(n.side) > 0 {
		side = n.side[0]
	}
	n.side = append(n.side, side)
	return len(n.reps) - 1
}

func (n *simNet) connected(a, b int) bool { return n.side[a] == n.side[b] }

// commit turns a write's mutations into one delta on replica r, merges it
// there and announces it to every other replica. It returns nil when the
// mutations amount to nothing (go-ds-crdt writes no empty delta).
func (n *simNet) commit(r int, muts []crdt.Mutation, op *simOp) *simDelta {
	rep := n.reps[r]
	// The engine keeps the last mutation of each key of a commit.
	last := map[string]int{}
	for i, m := range muts {
		last[m.Key] = i
	}
	d := &simDelta{id: len(n.deltas), prio: rep.nextPrio(n), links: append([]int(nil), rep.heads...), author: r, op: op}
	for i, m := range muts {
		if last[m.Key] != i {
			continue
		}
		if m.Delete {
			for _, id := range rep.liveIDs(m.Key) {
				d.tombs = append(d.tombs, simTomb{key: m.Key, id: id})
			}
		} else {
			d.elems = append(d.elems, simElem{key: m.Key, value: bytes.Clone(m.Value)})
		}
	}
	if len(d.elems) == 0 && len(d.tombs) == 0 {
		return nil
	}
	for _, l := range d.links {
		d.anc.set(l)
		d.anc.or(n.deltas[l].anc)
	}
	n.deltas = append(n.deltas, d)
	rep.merge(d)
	for to := range n.reps {
		if to != r {
			n.inflight = append(n.inflight, simMsg{from: r, to: to, id: d.id})
		}
	}
	return d
}

// fetch merges delta id and its missing ancestry into replica r, oldest
// first (ids are a topological order).
func (n *simNet) fetch(r, id int) int {
	rep := n.reps[r]
	if rep.known.has(id) {
		return 0
	}
	merged := 0
	anc := n.deltas[id].anc
	for i := 0; i < id; i++ {
		if anc.has(i) && !rep.known.has(i) {
			rep.merge(n.deltas[i])
			merged++
		}
	}
	rep.merge(n.deltas[id])
	return merged + 1
}

// announce queues r's current heads to every other replica (go-ds-crdt's
// periodic rebroadcast).
func (n *simNet) announce(r int) {
	for to := range n.reps {
		if to == r {
			continue
		}
		for _, h := range n.reps[r].heads {
			n.inflight = append(n.inflight, simMsg{from: r, to: to, id: h})
		}
	}
}

// antiEntropy gives every replica every delta (after a heal).
func (n *simNet) antiEntropy() {
	n.inflight = nil
	for i := range n.side {
		n.side[i] = 0
	}
	for r := range n.reps {
		for id := range n.deltas {
			n.fetch(r, id)
		}
	}
}

// docs materialises every document replica r holds, by "coll/id", as
// canonical JSON. It also returns the assembled states.
func (n *simNet) docs(r int) (map[string]string, map[string]*crdt.Doc, error) {
	rep := n.reps[r]
	type ref struct{ coll, id string }
	refs := map[ref]bool{}
	for k := range rep.view {
		key, err := crdt.ParseKey(k)
		if err != nil {
			return nil, nil, fmt.Errorf("replica %s holds unparsable key %q: %v", rep.name, k, err)
		}
		if key.Kind == crdt.KindDoc || key.Kind == crdt.KindBase || key.Kind == crdt.KindGrave || key.Kind == crdt.KindField || key.Kind == crdt.KindCounter || key.Kind == crdt.KindSetElem {
			refs[ref{key.Coll, key.ID}] = true
		}
	}
	out := map[string]string{}
	states := map[string]*crdt.Doc{}
	for rf := range refs {
		d, bad := crdt.Assemble(rf.coll, rf.id, rep.docRaw(rf.coll, rf.id))
		if bad != 0 {
			return nil, nil, fmt.Errorf("replica %s: %d undecodable keys in %s/%s", rep.name, bad, rf.coll, rf.id)
		}
		if m := d.Materialize(); m != nil {
			out[rf.coll+"/"+rf.id] = canon(m)
			states[rf.coll+"/"+rf.id] = d
		}
	}
	return out, states, nil
}

// canon is a canonical text form of a JSON value that, unlike
// encoding/json, tells int64 from float64 (1 vs 1.0).
func canon(v any) string {
	var b strings.Builder
	writeCanon(&b, v)
	return b.String()
}

func writeCanon(b *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		fmt.Fprint(b, x)
	case int64:
		fmt.Fprint(b, x)
	case float64:
		fmt.Fprintf(b, "%vf", x)
	case string:
		fmt.Fprintf(b, "%q", x)
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			writeCanon(b, e)
		}
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(b, "%q:", k)
			writeCanon(b, x[k])
		}
		b.WriteByte('}')
	default:
		fmt.Fprintf(b, "?%T(%v)", x, x)
	}
}
