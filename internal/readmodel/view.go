package readmodel

import (
	"bytes"
	"sort"

	"github.com/google/btree"

	"github.com/latticedb/lattice/crdt"
	"github.com/latticedb/lattice/query"
	"github.com/latticedb/lattice/value"
)

// view is the materialised state of one database: every document's JSON
// form, by collection, plus secondary indexes. It is derived
// from the go-ds-crdt store (rebuilt on open, kept current by the
// Model) and guarded by the Model's lock.
type view struct {
	colls   map[string]*collView
	indexes map[string]map[string]IndexSpec // coll -> name -> spec (replicated definitions)
	markers map[string]bool                 // collections created explicitly
}

type collView struct {
	docs    map[string]*Entry // by id key (see IDKey)
	live    int
	indexes map[string]*index
}

// Entry is what the view holds of one document. Its CRDT state is not
// kept: writes read it from the store when they plan (txn.Doc), so a
// replica holds each document once, in the store, plus its JSON form here.
type Entry struct {
	Doc  map[string]any // materialised; nil when the document does not exist. Never mutated.
	Seq  uint64         // the model's sequence number of the read that produced it
	keys bool           // the document has live CRDT keys (a deleted one may keep its graves)
}

// newEntry is the view entry of a document's CRDT state.
func newEntry(state *crdt.Doc, seq uint64) *Entry {
	return &Entry{Doc: state.Materialize(), Seq: seq, keys: len(state.Raw) > 0}
}

// IndexSpec describes a secondary index: a field path whose values are
// indexed, used by Find for equality, $in and range filters.
type IndexSpec struct {
	Name string `json:"name"`
	Path string `json:"path"`
}

type indexItem struct {
	key []byte // value.EncodeKey of a value
	ID  string
	e   *Entry // the entry indexed (replaced with the entry on every put)
}

func lessItem(a, b indexItem) bool {
	if c := bytes.Compare(a.key, b.key); c != 0 {
		return c < 0
	}
	return a.ID < b.ID
}

type index struct {
	spec IndexSpec
	tree *btree.BTreeG[indexItem]
	byID map[string][][]byte // keys each document is indexed under
}

func newView() *view {
	return &view{
		colls:   make(map[string]*collView),
		indexes: make(map[string]map[string]IndexSpec),
		markers: make(map[string]bool),
	}
}

func (v *view) coll(name string, create bool) *collView {
	c := v.colls[name]
	if c == nil && create {
		c = &collView{docs: make(map[string]*Entry), indexes: make(map[string]*index)}
		for _, spec := range v.indexes[name] {
			c.indexes[spec.Name] = newIndex(spec)
		}
		v.colls[name] = c
	}
	return c
}

func newIndex(spec IndexSpec) *index {
	return &index{spec: spec, tree: btree.NewG(32, lessItem), byID: make(map[string][][]byte)}
}

// indexKeys are the keys a document is indexed under for a path: each value
// the path reaches and, for arrays, each element; null when it reaches none.
func indexKeys(doc map[string]any, path string) [][]byte {
	vals := value.Lookup(doc, path)
	if len(vals) == 0 {
		return [][]byte{value.EncodeKey(nil)}
	}
	seen := map[string]bool{}
	var out [][]byte
	add := func(x any) {
		k := value.EncodeKey(x)
		if !seen[string(k)] {
			seen[string(k)] = true
			out = append(out, k)
		}
	}
	for _, x := range vals {
		add(x)
		if arr, ok := x.([]any); ok {
			for _, e := range arr {
				add(e)
			}
		}
	}
	return out
}

func (ix *index) remove(id string) {
	for _, k := range ix.byID[id] {
		ix.tree.Delete(indexItem{key: k, ID: id})
	}
	delete(ix.byID, id)
}

func (ix *index) add(id string, e *Entry) {
	keys := indexKeys(e.Doc, ix.spec.Path)
	for _, k := range keys {
		ix.tree.ReplaceOrInsert(indexItem{key: k, ID: id, e: e})
	}
	ix.byID[id] = keys
}

// put installs a document's new state and returns the previous materialised
// form. Indexes are updated.
func (v *view) put(coll, id string, e *Entry) (old map[string]any) {
	c := v.coll(coll, true)
	prev := c.docs[id]
	if prev != nil {
		old = prev.Doc
		if old != nil {
			c.live--
		}
	}
	if e.Doc == nil && !e.keys {
		delete(c.docs, id)
	} else {
		c.docs[id] = e
	}
	if e.Doc != nil {
		c.live++
	}
	for _, ix := range c.indexes {
		if old != nil {
			ix.remove(id)
		}
		if e.Doc != nil {
			ix.add(id, e)
		}
	}
	return old
}

func (v *view) entry(coll, id string) *Entry {
	if c := v.colls[coll]; c != nil {
		return c.docs[id]
	}
	return nil
}

// setIndex installs or rebuilds an index definition.
func (v *view) setIndex(coll string, spec IndexSpec) {
	if v.indexes[coll] == nil {
		v.indexes[coll] = make(map[string]IndexSpec)
	}
	if cur, ok := v.indexes[coll][spec.Name]; ok && cur == spec {
		return
	}
	v.indexes[coll][spec.Name] = spec
	c := v.coll(coll, true)
	ix := newIndex(spec)
	for id, e := range c.docs {
		if e.Doc != nil {
			ix.add(id, e)
		}
	}
	c.indexes[spec.Name] = ix
}

func (v *view) dropIndex(coll, name string) {
	delete(v.indexes[coll], name)
	if c := v.colls[coll]; c != nil {
		delete(c.indexes, name)
	}
}

// candidate is a document an index lookup found.
type candidate struct {
	ID string
	e  *Entry
}

// candidates returns the documents an index narrows a filter to, or
// ok=false when no index applies and the caller must scan. Candidates are a
// superset of the matches, and exactly the matches when exact is true (a
// point lookup answering a filter that is one scalar equality on the
// indexed field); otherwise callers re-check the filter.
func (c *collView) candidates(f *query.Filter) (out []candidate, exact, ok bool) {
	// _id equality and $in are answered from the documents' own keys.
	if b, ok := f.Bounds("_id"); ok && !b.IsRange {
		seen := make(map[string]bool, len(b.Points))
		for _, p := range b.Points {
			k, err := IDKey(value.CanonicalNumbers(p))
			if err != nil || seen[k] {
				continue // not a possible _id (null, an array, an object)
			}
			seen[k] = true
			if e := c.docs[k]; e != nil {
				out = append(out, candidate{k, e})
			}
		}
		path, _, eq := f.Equality()
		return out, eq && path == "_id", true
	}
	// Prefer an index with point bounds (equality, $in) over a range.
	var best *index
	var bestBounds query.Bounds
	names := make([]string, 0, len(c.indexes))
	for n := range c.indexes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		ix := c.indexes[n]
		b, ok := f.Bounds(ix.spec.Path)
		if !ok {
			continue
		}
		if best == nil || (!b.IsRange && bestBounds.IsRange) {
			best, bestBounds = ix, b
		}
	}
	if best == nil {
		return nil, false, false
	}
	// One key holds each document at most once; several keys (several
	// points, a range over an array field's elements) may repeat one.
	single := !bestBounds.IsRange && len(bestBounds.Points) == 1
	var seen map[string]bool
	if !single {
		seen = map[string]bool{}
	}
	out = make([]candidate, 0, 16)
	collect := func(it indexItem) bool {
		if single {
			out = append(out, candidate{it.ID, it.e})
		} else if !seen[it.ID] {
			seen[it.ID] = true
			out = append(out, candidate{it.ID, it.e})
		}
		return true
	}
	if !bestBounds.IsRange {
		path, _, eq := f.Equality()
		exact = eq && path == best.spec.Path && len(bestBounds.Points) == 1
		for _, p := range bestBounds.Points {
			k := value.EncodeKey(p)
			hi := make([]byte, len(k)+1)
			copy(hi, k)
			hi[len(k)] = 0xff
			best.tree.AscendRange(indexItem{key: k}, indexItem{key: hi}, func(it indexItem) bool {
				if bytes.Equal(it.key, k) {
					collect(it)
				}
				return true
			})
		}
		return out, exact, true
	}
	lo, hi := bestBounds.KeyRange()
	if hi == nil {
		best.tree.AscendGreaterOrEqual(indexItem{key: lo}, collect)
	} else {
		best.tree.AscendRange(indexItem{key: lo}, indexItem{key: hi}, collect)
	}
	return out, false, true
}
