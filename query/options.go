package query

import (
	"container/heap"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/latticedb/lattice/value"
)

// MaxSortKeys is the most sort keys a find may use, as in MongoDB.
const MaxSortKeys = 32

// DefaultMaxSortBytes is the memory an in-memory sort may use for its sort
// keys when Options.MaxSortBytes is zero: 100 MiB, as in MongoDB. A sort
// with a limit keeps only skip+limit documents and needs less.
const DefaultMaxSortBytes = 100 << 20

// SortKey is one key of a sort: a dot path and a direction, 1 (ascending)
// or -1 (descending).
type SortKey struct {
	Path string
	Dir  int
}

// Options are the options of a find: sort, skip, limit and projection,
// applied in that order by Apply. Build them with NewOptions.
type Options struct {
	// Sort lists the sort keys, most significant first.
	Sort []SortKey
	// Skip is the number of documents to drop after sorting.
	Skip int64
	// Limit is the maximum number of documents returned; 0 means no limit.
	Limit int64
	// Projection selects fields; see ParseProjection. nil keeps all.
	Projection map[string]any
	// MaxTime bounds how long the find may run; 0 means no bound. The
	// query package only carries it: the caller that scans (the engine)
	// enforces it with a context deadline.
	MaxTime time.Duration
	// MaxSortBytes bounds the memory Apply may use for sort keys (an
	// estimate: the sorted entries it holds at once); 0 means
	// DefaultMaxSortBytes. Past it Apply fails with ErrSortTooLarge.
	MaxSortBytes int64
}

// Option sets one find option.
type Option func(*Options)

// Sort adds a sort key. Pass it several times for a multi-key sort: the
// first key is the most significant. dir must be 1 or -1.
func Sort(path string, dir int) Option {
	return func(o *Options) { o.Sort = append(o.Sort, SortKey{Path: path, Dir: dir}) }
}

// Skip drops the first n documents after sorting.
func Skip(n int64) Option {
	return func(o *Options) { o.Skip = n }
}

// Limit returns at most n documents; 0 means no limit.
func Limit(n int64) Option {
	return func(o *Options) { o.Limit = n }
}

// MaxTime bounds how long a find may run (MongoDB's maxTimeMS); see
// Options.MaxTime. d must not be negative.
func MaxTime(d time.Duration) Option {
	return func(o *Options) { o.MaxTime = d }
}

// MaxSortBytes bounds the memory of an in-memory sort; see
// Options.MaxSortBytes. n must not be negative.
func MaxSortBytes(n int64) Option {
	return func(o *Options) { o.MaxSortBytes = n }
}

// Project sets the projection; see ParseProjection.
func Project(p map[string]any) Option {
	return func(o *Options) { o.Projection = p }
}

// NewOptions collects opts and validates them (see Options.Validate).
func NewOptions(opts ...Option) (*Options, error) {
	o := &Options{}
	for _, opt := range opts {
		opt(o)
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	return o, nil
}

// Validate checks the options: at most MaxSortKeys sort keys, whose paths
// must be valid and distinct with direction 1 or -1, Skip, Limit, MaxTime
// and MaxSortBytes must not be negative, and the projection must parse.
// Errors wrap ErrBadOption, ErrBadPath or ErrBadProjection.
func (o *Options) Validate() error {
	_, err := o.projection()
	return err
}

func (o *Options) projection() (*Projection, error) {
	if len(o.Sort) > MaxSortKeys {
		return nil, fmt.Errorf("%w: sort has %d keys, at most %d are allowed", ErrBadOption, len(o.Sort), MaxSortKeys)
	}
	for i, k := range o.Sort {
		if k.Dir != 1 && k.Dir != -1 {
			return nil, fmt.Errorf("%w: sort direction for %q must be 1 or -1, got %d", ErrBadOption, k.Path, k.Dir)
		}
		if _, err := value.SplitPath(k.Path); err != nil {
			return nil, fmt.Errorf("%w (in sort)", err)
		}
		for _, prev := range o.Sort[:i] {
			if prev.Path == k.Path {
				return nil, fmt.Errorf("%w: sort key %q given twice", ErrBadOption, k.Path)
			}
		}
	}
	if o.Skip < 0 {
		return nil, fmt.Errorf("%w: skip must not be negative, got %d", ErrBadOption, o.Skip)
	}
	if o.Limit < 0 {
		return nil, fmt.Errorf("%w: limit must not be negative, got %d", ErrBadOption, o.Limit)
	}
	if o.MaxTime < 0 {
		return nil, fmt.Errorf("%w: max time must not be negative, got %v", ErrBadOption, o.MaxTime)
	}
	if o.MaxSortBytes < 0 {
		return nil, fmt.Errorf("%w: max sort bytes must not be negative, got %d", ErrBadOption, o.MaxSortBytes)
	}
	return ParseProjection(o.Projection)
}

// Apply sorts docs (stably, so equal documents keep their order), then
// skips, limits and projects them, and returns the result in a new slice.
// docs itself is not reordered. Without a projection the returned maps are
// the input maps; with one they are new maps sharing nothing with the input.
//
// Sorting compares with Compare; a missing field sorts as null and an
// empty array before null, as in MongoDB. When the path reaches an array (or several values through
// arrays), the document sorts by the smallest of the values and array
// elements for an ascending key and by the largest for a descending key,
// as MongoDB does.
//
// With a limit, Apply keeps only the best skip+limit documents in a heap
// while it reads docs (a top-k sort), so its memory does not grow with
// len(docs). Without one, the sort keys of every document are held at once
// and their estimated size must stay within MaxSortBytes, or Apply fails
// with ErrSortTooLarge (add a limit, fewer keys, or a narrower filter).
func (o *Options) Apply(docs []map[string]any) ([]map[string]any, error) {
	proj, err := o.projection()
	if err != nil {
		return nil, err
	}
	out, err := o.order(docs)
	if err != nil {
		return nil, err
	}
	if proj != nil {
		for i, d := range out {
			out[i] = proj.Apply(d)
		}
	}
	return out, nil
}

// Permutation returns the positions in docs of the documents Apply would
// return, in Apply's order (sorted, skipped and limited), without
// projecting. It validates o first.
func (o *Options) Permutation(docs []map[string]any) ([]int, error) {
	if _, err := o.projection(); err != nil {
		return nil, err
	}
	entries, err := o.entries(docs)
	if err != nil {
		return nil, err
	}
	out := make([]int, len(entries))
	for i, e := range entries {
		out[i] = e.idx
	}
	return out, nil
}

// sortEntryBytes estimates the memory of one sorted entry with n keys: the
// entry (document, index, key slice header) and n interface values.
func sortEntryBytes(n int) int64 { return 8 + 8 + 24 + 16*int64(n) }

func (o *Options) order(docs []map[string]any) ([]map[string]any, error) {
	if len(o.Sort) == 0 {
		out := slices.Clone(docs)
		if o.Skip > 0 {
			out = out[min(o.Skip, int64(len(out))):]
		}
		if o.Limit > 0 && o.Limit < int64(len(out)) {
			out = out[:o.Limit]
		}
		return out, nil
	}
	entries, err := o.entries(docs)
	if err != nil {
		return nil, err
	}
	out := make([]map[string]any, len(entries))
	for i, e := range entries {
		out[i] = e.doc
	}
	return out, nil
}

// entries sorts, skips and limits docs.
func (o *Options) entries(docs []map[string]any) ([]sortEntry, error) {
	var entries []sortEntry
	if len(o.Sort) == 0 {
		entries = make([]sortEntry, len(docs))
		for i, d := range docs {
			entries[i] = sortEntry{doc: d, idx: i}
		}
	} else {
		s := newSorter(o.Sort)
		keep := int64(len(docs))
		if o.Limit > 0 && o.Skip < int64(len(docs)) && o.Limit < int64(len(docs))-o.Skip {
			keep = o.Skip + o.Limit
		}
		limit := o.MaxSortBytes
		if limit == 0 {
			limit = DefaultMaxSortBytes
		}
		if need := keep * sortEntryBytes(len(o.Sort)); need > limit {
			return nil, fmt.Errorf("%w: sorting %d documents on %d keys needs about %d bytes, the limit is %d; add a limit or narrow the filter", ErrSortTooLarge, keep, len(o.Sort), need, limit)
		}
		if keep < int64(len(docs)) {
			entries = s.top(docs, int(keep))
		} else {
			entries = make([]sortEntry, len(docs))
			for i, d := range docs {
				entries[i] = sortEntry{d, i, s.keys(d, nil)}
			}
			slices.SortFunc(entries, s.compare)
		}
	}
	if o.Skip > 0 {
		entries = entries[min(o.Skip, int64(len(entries))):]
	}
	if o.Limit > 0 && o.Limit < int64(len(entries)) {
		entries = entries[:o.Limit]
	}
	return entries, nil
}

// sortEntry is a document with its position in the input (the tie-break
// that makes the sort stable) and its sort key values.
type sortEntry struct {
	doc  map[string]any
	idx  int
	keys []any
}

// sorter computes and compares sort keys; paths are split once.
type sorter struct {
	spec  []SortKey
	parts [][]string
}

func newSorter(spec []SortKey) *sorter {
	s := &sorter{spec: spec, parts: make([][]string, len(spec))}
	for i, k := range spec {
		s.parts[i] = strings.Split(k.Path, ".")
	}
	return s
}

// keys returns d's sort values, in buf when it has room.
func (s *sorter) keys(d map[string]any, buf []any) []any {
	buf = buf[:0]
	for i, k := range s.spec {
		buf = append(buf, sortValueParts(d, s.parts[i], k.Dir))
	}
	return buf
}

// compare orders entries by their keys, then by input position.
func (s *sorter) compare(a, b sortEntry) int {
	for j, k := range s.spec {
		if c := value.Compare(a.keys[j], b.keys[j]); c != 0 {
			return c * k.Dir
		}
	}
	return a.idx - b.idx
}

// top returns the k best entries of docs in order, holding at most k at
// once: a max-heap whose root is the worst entry kept so far.
func (s *sorter) top(docs []map[string]any, k int) []sortEntry {
	h := &entryHeap{s: s, es: make([]sortEntry, 0, k)}
	var scratch []any
	for i, d := range docs {
		scratch = s.keys(d, scratch)
		e := sortEntry{d, i, scratch}
		if len(h.es) < k {
			e.keys = slices.Clone(scratch)
			heap.Push(h, e)
			continue
		}
		if k == 0 || s.compare(e, h.es[0]) >= 0 {
			continue
		}
		// Reuse the evicted entry's key slice for the newcomer.
		e.keys = append(h.es[0].keys[:0], scratch...)
		h.es[0] = e
		heap.Fix(h, 0)
	}
	slices.SortFunc(h.es, s.compare)
	return h.es
}

// entryHeap is a max-heap of entries under sorter.compare.
type entryHeap struct {
	s  *sorter
	es []sortEntry
}

func (h *entryHeap) Len() int           { return len(h.es) }
func (h *entryHeap) Less(i, j int) bool { return h.s.compare(h.es[i], h.es[j]) > 0 }
func (h *entryHeap) Swap(i, j int)      { h.es[i], h.es[j] = h.es[j], h.es[i] }
func (h *entryHeap) Push(x any)         { h.es = append(h.es, x.(sortEntry)) }
func (h *entryHeap) Pop() any {
	e := h.es[len(h.es)-1]
	h.es = h.es[:len(h.es)-1]
	return e
}

// sortValue returns the value doc sorts by for key k: the smallest (for an
// ascending key) or largest (descending) of the values the path reaches
// and of the elements of arrays among them; nil when there is none.
func sortValue(doc map[string]any, k SortKey) any {
	return sortValueParts(doc, strings.Split(k.Path, "."), k.Dir)
}

func sortValueParts(doc map[string]any, parts []string, dir int) any {
	var best any
	found := false
	consider := func(v any) {
		if v == value.Missing {
			v = nil
		}
		if !found || value.Compare(v, best)*dir < 0 {
			best, found = v, true
		}
	}
	for _, b := range value.Branches(doc, parts, nil) {
		arr, ok := b.([]any)
		if !ok {
			consider(b)
			continue
		}
		if len(arr) == 0 {
			consider(value.EmptyArrayKey)
		}
		for _, e := range arr {
			consider(e)
		}
	}
	return best
}
