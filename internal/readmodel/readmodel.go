package readmodel

import (
	"sort"

	"github.com/latticedb/lattice/query"
)

// The read model's accessors. The Model owns the view and its lock:
// the API (collections, find, writes, stats) reads and changes the view
// through these methods only, each taking the lock for as long as it
// needs and returning values that stay valid after it is released (the
// view's documents are never mutated in place).

// entry returns the document's view entry, nil when the view has none.
func (m *Model) Entry(r Ref) *Entry {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.view.entry(r.Coll, r.ID)
}

// current tells whether the view still shows the document as the entry
// of sequence seq did, with no store change of it waiting to be shown:
// the store then holds what that entry shows.
func (m *Model) Current(r Ref, seq uint64) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	e := m.view.entry(r.Coll, r.ID)
	_, dirty := m.dirty[r]
	return e != nil && e.Seq == seq && !dirty && m.reading[r] == 0
}

// collections lists, sorted, the collections that hold a live document or
// were created explicitly.
func (m *Model) Collections() []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []string
	for name, c := range m.view.colls {
		if c.live > 0 || m.view.markers[name] {
			out = append(out, name)
		}
	}
	for name := range m.view.markers {
		if m.view.colls[name] == nil {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// liveDocuments counts the live documents of every collection.
func (m *Model) LiveDocuments() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	n := 0
	for _, c := range m.view.colls {
		n += c.live
	}
	return n
}

// indexes returns a collection's index definitions, sorted by name.
func (m *Model) Indexes(coll string) []IndexSpec {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]IndexSpec, 0, len(m.view.indexes[coll]))
	for _, s := range m.view.indexes[coll] {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// hasIndex tells whether a collection has an index of that name.
func (m *Model) HasIndex(coll, name string) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	_, ok := m.view.indexes[coll][name]
	return ok
}

// marked tells whether a collection was created explicitly.
func (m *Model) Marked(coll string) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.view.markers[coll]
}

// applyIndex installs (spec non-nil) or drops a replicated index
// definition.
func (m *Model) ApplyIndex(coll, name string, spec *IndexSpec) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if spec == nil {
		m.view.dropIndex(coll, name)
		return
	}
	m.view.setIndex(coll, *spec)
}

// applyMarker records or forgets that a collection was created explicitly.
func (m *Model) ApplyMarker(coll string, present bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if present {
		m.view.markers[coll] = true
	} else {
		delete(m.view.markers, coll)
	}
}

// match is a candidate document for a filter: its id key and its
// immutable materialised form (nil for an indexed entry of a deleted
// document).
type Match struct {
	ID  string
	Doc map[string]any
}

// candidates returns the documents of a collection that may match f, from
// an index when one applies (exact: every candidate matches), else every
// live document. Only this copy of ids and pointers is made under the
// view's read lock: callers filter after it is released, so a long filter
// never holds up writers.
func (m *Model) Candidates(coll string, f *query.Filter) (cands []Match, exact bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	cv := m.view.colls[coll]
	if cv == nil {
		return nil, false
	}
	if ics, ex, ok := cv.candidates(f); ok {
		cands = make([]Match, len(ics))
		for i, ic := range ics {
			cands[i] = Match{ic.ID, ic.e.Doc}
		}
		return cands, ex
	}
	cands = make([]Match, 0, cv.live)
	for id, e := range cv.docs {
		if e.Doc != nil {
			cands = append(cands, Match{id, e.Doc})
		}
	}
	return cands, false
}
