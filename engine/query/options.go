package query

import (
	"fmt"
	"slices"
	"strings"
)

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

// Validate checks the options: sort paths must be valid and distinct with
// direction 1 or -1, Skip and Limit must not be negative, and the
// projection must parse. Errors wrap ErrBadOption, ErrBadPath or
// ErrBadProjection.
func (o *Options) Validate() error {
	_, err := o.projection()
	return err
}

func (o *Options) projection() (*Projection, error) {
	for i, k := range o.Sort {
		if k.Dir != 1 && k.Dir != -1 {
			return nil, fmt.Errorf("%w: sort direction for %q must be 1 or -1, got %d", ErrBadOption, k.Path, k.Dir)
		}
		if _, err := splitPath(k.Path); err != nil {
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
	return ParseProjection(o.Projection)
}

// Apply sorts docs (stably, so equal documents keep their order), then
// skips, limits and projects them, and returns the result in a new slice.
// docs itself is not reordered. Without a projection the returned maps are
// the input maps; with one they are new maps sharing nothing with the input.
//
// Sorting compares with Compare; a missing field, null and an empty array
// sort as null. When the path reaches an array (or several values through
// arrays), the document sorts by the smallest of the values and array
// elements for an ascending key and by the largest for a descending key,
// as MongoDB does.
func (o *Options) Apply(docs []map[string]any) ([]map[string]any, error) {
	proj, err := o.projection()
	if err != nil {
		return nil, err
	}
	out := slices.Clone(docs)
	if len(o.Sort) > 0 {
		type keyed struct {
			doc  map[string]any
			keys []any
		}
		ks := make([]keyed, len(out))
		for i, d := range out {
			ks[i] = keyed{d, make([]any, len(o.Sort))}
			for j, k := range o.Sort {
				ks[i].keys[j] = sortValue(d, k)
			}
		}
		slices.SortStableFunc(ks, func(a, b keyed) int {
			for j, k := range o.Sort {
				if c := Compare(a.keys[j], b.keys[j]); c != 0 {
					return c * k.Dir
				}
			}
			return 0
		})
		for i := range ks {
			out[i] = ks[i].doc
		}
	}
	if o.Skip > 0 {
		out = out[min(o.Skip, int64(len(out))):]
	}
	if o.Limit > 0 && o.Limit < int64(len(out)) {
		out = out[:o.Limit]
	}
	if proj != nil {
		for i, d := range out {
			out[i] = proj.Apply(d)
		}
	}
	return out, nil
}

// sortValue returns the value doc sorts by for key k: the smallest (for an
// ascending key) or largest (descending) of the values the path reaches
// and of the elements of arrays among them; nil when there is none.
func sortValue(doc map[string]any, k SortKey) any {
	var best any
	found := false
	consider := func(v any) {
		if v == missing {
			v = nil
		}
		if !found || Compare(v, best)*k.Dir < 0 {
			best, found = v, true
		}
	}
	for _, b := range branches(doc, strings.Split(k.Path, "."), nil) {
		arr, ok := b.([]any)
		if !ok {
			consider(b)
			continue
		}
		if len(arr) == 0 {
			consider(nil)
		}
		for _, e := range arr {
			consider(e)
		}
	}
	return best
}
