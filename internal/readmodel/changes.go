package readmodel

import (
	"sort"

	"github.com/latticedb/lattice/query"
)

// Writes planned against the view. A large update or delete is matched
// and planned against the view before its writer takes the database's
// write path, so the path is not held for work that grows with the
// documents. Inside the path the writer asks what changed in between:
// each planned document's entry sequence (Current), and the documents of
// its collection whose entries were replaced since it planned
// (ChangedSince, from the Mark it took first). Only those are planned
// again.

// changeLogLen bounds how many replaced entries a collection remembers:
// a plan older than that many changes to its collection is made again
// (ChangedSince answers ok=false).
const changeLogLen = 4096

// changeLog lists, in order, the documents of one collection whose
// entries were replaced, by the model's change counter.
type changeLog struct {
	at    []uint64
	ids   []string
	floor uint64 // changes at or below floor are no longer listed
}

// noteChange records that r's entry was replaced. m.mu is held.
func (m *Model) noteChange(r Ref) {
	m.changes++
	if m.logs == nil {
		m.logs = make(map[string]*changeLog)
	}
	l := m.logs[r.Coll]
	if l == nil {
		l = &changeLog{floor: m.rebuilt}
		m.logs[r.Coll] = l
	}
	if len(l.at) == changeLogLen {
		half := changeLogLen / 2
		l.floor = l.at[half-1]
		l.at = append(l.at[:0], l.at[half:]...)
		l.ids = append(l.ids[:0], l.ids[half:]...)
	}
	l.at = append(l.at, m.changes)
	l.ids = append(l.ids, r.ID)
}

// noteRebuild forgets every change log: a rebuilt view replaced every
// entry. m.mu is held.
func (m *Model) noteRebuild() {
	m.changes++
	m.rebuilt = m.changes
	m.logs = nil
}

// Mark returns the view's change counter, to pass to ChangedSince later.
// Take it before reading the view a plan is made against.
func (m *Model) Mark() uint64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.changes
}

// ChangedSince returns the id keys of the documents of coll whose view
// entries were replaced after mark (from Mark), each once, in no order;
// ok is false when the model no longer remembers that far back (the plan
// must be made again).
func (m *Model) ChangedSince(coll string, mark uint64) (ids []string, ok bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if mark < m.rebuilt {
		return nil, false
	}
	l := m.logs[coll]
	if l == nil {
		return nil, true
	}
	if mark < l.floor {
		return nil, false
	}
	i := sort.Search(len(l.at), func(i int) bool { return l.at[i] > mark })
	seen := make(map[string]bool, len(l.at)-i)
	for _, id := range l.ids[i:] {
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids, true
}

// Hit is a view document a filter matched: its reference, its
// materialised form (never mutated) and its entry's sequence (for
// Current).
type Hit struct {
	Ref Ref
	Doc map[string]any
	Seq uint64
}

// Matches returns the documents of coll that f matches in the view, in
// the order a write acts on them: by sortKeys, ties (and no sort) in id
// key order; limit > 0 keeps the first limit. The filter runs after the
// view's lock is released. each, when set, runs before each candidate is
// matched (a test hook). A regex that stops matching fails the whole
// (f.Err).
func (m *Model) Matches(coll string, f *query.Filter, sortKeys []query.SortKey, limit int, each func()) ([]Hit, error) {
	m.mu.RLock()
	var cands []candidate
	if cv := m.view.colls[coll]; cv != nil {
		var ok bool
		if cands, _, ok = cv.candidates(f); !ok {
			cands = make([]candidate, 0, cv.live)
			for id, e := range cv.docs {
				if e.Doc != nil {
					cands = append(cands, candidate{id, e})
				}
			}
		}
	}
	m.mu.RUnlock()
	var hits []Hit
	for _, c := range cands {
		if each != nil {
			each()
		}
		if c.e.Doc != nil && f.Match(c.e.Doc) {
			hits = append(hits, Hit{Ref{coll, c.ID}, c.e.Doc, c.e.Seq})
		}
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	return OrderHits(hits, sortKeys, limit)
}

// OrderHits puts hits in the order a write acts on them (see Matches).
func OrderHits(hits []Hit, sortKeys []query.SortKey, limit int) ([]Hit, error) {
	sort.Slice(hits, func(i, j int) bool { return hits[i].Ref.ID < hits[j].Ref.ID })
	if len(sortKeys) == 0 {
		if limit > 0 && len(hits) > limit {
			hits = hits[:limit]
		}
		return hits, nil
	}
	docs := make([]map[string]any, len(hits))
	for i, h := range hits {
		docs[i] = h.Doc
	}
	idx, err := (&query.Options{Sort: sortKeys, Limit: int64(limit)}).Permutation(docs)
	if err != nil {
		return nil, err
	}
	out := make([]Hit, len(idx))
	for i, j := range idx {
		out[i] = hits[j]
	}
	return out, nil
}
