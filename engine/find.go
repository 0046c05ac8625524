package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/latticedb/lattice/crdt"
	"github.com/latticedb/lattice/internal/readmodel"
	"github.com/latticedb/lattice/query"
	"github.com/latticedb/lattice/value"
)

// scanCheckEvery is how many documents a scan filters between two looks at
// its context.
const scanCheckEvery = 256

// snapshot returns the documents of the collection matching f, in _id key
// order, sharing the view's immutable maps (callers must not mutate them).
//
// Only the candidate set (ids and pointers to immutable entries) is copied
// under the view's read lock; the filter runs after the lock is released,
// so a long filter never holds up writers of the database. The scan looks
// at ctx every scanCheckEvery documents and stops with ctx.Err().
func (c *Collection) snapshot(ctx context.Context, f *query.Filter) ([]map[string]any, error) {
	hits, err := c.matches(ctx, f)
	if err != nil {
		return nil, err
	}
	sort.Slice(hits, func(i, j int) bool { return hits[i].ID < hits[j].ID })
	out := make([]map[string]any, len(hits))
	for i, h := range hits {
		out[i] = h.Doc
	}
	return out, nil
}

// matches returns the documents matching f, in no order.
func (c *Collection) matches(ctx context.Context, f *query.Filter) ([]readmodel.Match, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cands, exact := c.db.mat.Candidates(c.name, f)
	hits := cands[:0]
	for i, h := range cands {
		if h.Doc == nil {
			continue
		}
		if i%scanCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		if c.scanHook != nil {
			c.scanHook(ctx)
		}
		if exact || f.Match(h.Doc) {
			hits = append(hits, h)
		}
		if err := f.Err(); err != nil {
			return nil, err // a regex match stopped: no partial answer
		}
	}
	return hits, nil
}

// Find returns a cursor over the documents matching filter (nil matches
// all). Options sort, skip, limit and project (query). Without a
// sort, documents come in _id order. The cursor holds a consistent snapshot
// taken when Find returns.
//
// The scan stops when ctx ends, returning ctx.Err(). query.MaxTime(d)
// bounds the find itself (MongoDB's maxTimeMS): past d it fails with an
// error wrapping ErrMaxTime and context.DeadlineExceeded. A sort without
// a limit fails with query.ErrSortTooLarge when its keys would exceed the
// sort memory bound; with a limit only skip+limit documents are held.
func (c *Collection) Find(ctx context.Context, filter any, opts ...query.Option) (*Cursor, error) {
	docs, err := c.find(ctx, filter, opts)
	if err != nil {
		return nil, err
	}
	return query.NewCursor(docs), nil
}

func (c *Collection) find(ctx context.Context, filter any, opts []query.Option) ([]map[string]any, error) {
	if c.err != nil {
		return nil, c.err
	}
	if err := c.db.checkOpen(); err != nil {
		return nil, err
	}
	o, err := query.NewOptions(opts...)
	if err != nil {
		return nil, err
	}
	sctx := ctx
	if o.MaxTime > 0 {
		var cancel context.CancelFunc
		sctx, cancel = context.WithTimeout(ctx, o.MaxTime)
		defer cancel()
	}
	// A regex match in one large document stops at the deadline: with a
	// time limit that alone bounds it, else query's default work budget
	// does too.
	fopts := []query.FilterOption{query.Interrupt(sctx.Err)}
	if o.MaxTime > 0 {
		fopts = append(fopts, query.RegexWork(0))
	}
	f, err := parseFilter(filter, fopts...)
	if err != nil {
		return nil, err
	}
	matched, err := c.snapshot(sctx, f)
	if err == nil {
		err = sctx.Err() // the sort below is bounded; a deadline already past fails
	}
	if err != nil {
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("%w (%v): %w", ErrMaxTime, o.MaxTime, err)
		}
		return nil, err
	}
	docs, err := o.Apply(matched)
	if err != nil {
		return nil, err
	}
	return docs, nil
}

// FindOne returns the first document matching filter.
func (c *Collection) FindOne(ctx context.Context, filter any, opts ...query.Option) *SingleResult {
	docs, err := c.find(ctx, filter, append(opts, query.Limit(1)))
	if err != nil {
		return failed(err)
	}
	if len(docs) == 0 {
		return failed(ErrNoDocuments)
	}
	return found(docs[0])
}

// FindByID returns the document with the given _id.
func (c *Collection) FindByID(ctx context.Context, id any) *SingleResult {
	if c.err != nil {
		return failed(c.err)
	}
	if err := c.db.checkOpen(); err != nil {
		return failed(err)
	}
	nid, err := value.Normalize(id)
	if err != nil {
		return failed(fmt.Errorf("%w: _id: %w", ErrBadDocument, err))
	}
	r, err := c.ref(value.CanonicalNumbers(nid))
	if err != nil {
		return failed(err)
	}
	e := c.db.mat.Entry(r)
	if e == nil || e.Doc == nil {
		return failed(ErrNoDocuments)
	}
	return found(e.Doc)
}

// CountDocuments counts the documents matching filter.
func (c *Collection) CountDocuments(ctx context.Context, filter any) (int64, error) {
	if c.err != nil {
		return 0, c.err
	}
	if err := c.db.checkOpen(); err != nil {
		return 0, err
	}
	f, err := parseFilter(filter, query.Interrupt(ctx.Err))
	if err != nil {
		return 0, err
	}
	hits, err := c.matches(ctx, f) // a count needs no order
	if err != nil {
		return 0, err
	}
	return int64(len(hits)), nil
}

// Distinct returns the distinct values of a field path among the documents
// matching filter, in query comparison order. Array values contribute their
// elements, as in MongoDB.
func (c *Collection) Distinct(ctx context.Context, field string, filter any) ([]any, error) {
	if c.err != nil {
		return nil, c.err
	}
	if err := validateIndexPath(field); err != nil {
		return nil, err
	}
	if err := c.db.checkOpen(); err != nil {
		return nil, err
	}
	f, err := parseFilter(filter, query.Interrupt(ctx.Err))
	if err != nil {
		return nil, err
	}
	var out []any
	seen := map[string]bool{}
	add := func(v any) {
		k := string(value.EncodeKey(v))
		if !seen[k] {
			seen[k] = true
			out = append(out, value.Clone(v))
		}
	}
	docs, err := c.snapshot(ctx, f)
	if err != nil {
		return nil, err
	}
	for _, d := range docs {
		for _, v := range value.Lookup(d, field) {
			if arr, ok := v.([]any); ok {
				for _, e := range arr {
					add(e)
				}
				continue
			}
			add(v)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return value.Compare(out[i], out[j]) < 0 })
	return out, nil
}

// CreateIndex creates a secondary index on a field path, on every replica,
// and returns its name. Find uses it for equality, $in and range filters on
// the path. Creating an existing index is a no-op.
func (c *Collection) CreateIndex(ctx context.Context, path string) (string, error) {
	if c.err != nil {
		return "", c.err
	}
	if err := validateIndexPath(path); err != nil {
		return "", err
	}
	spec := IndexSpec{Name: path + "_1", Path: path}
	b, err := json.Marshal(spec)
	if err != nil {
		return "", err
	}
	err = c.db.write(ctx, func(t *txn) error {
		t.stageMeta(crdt.Mutation{Key: crdt.IndexKey(c.name, spec.Name), Value: b})
		return nil
	})
	if err != nil {
		return "", err
	}
	return spec.Name, nil
}

// DropIndex removes an index by name, on every replica.
func (c *Collection) DropIndex(ctx context.Context, name string) error {
	if c.err != nil {
		return c.err
	}
	if !c.db.mat.HasIndex(c.name, name) {
		return fmt.Errorf("%w: no index %q on collection %q", ErrBadName, name, c.name)
	}
	return c.db.write(ctx, func(t *txn) error {
		t.stageMeta(crdt.Mutation{Key: crdt.IndexKey(c.name, name), Delete: true})
		return nil
	})
}

// Indexes lists the collection's secondary indexes, sorted by name.
func (c *Collection) Indexes(ctx context.Context) ([]IndexSpec, error) {
	if c.err != nil {
		return nil, c.err
	}
	return c.db.mat.Indexes(c.name), nil
}

func validateIndexPath(p string) error {
	if p == "" || len(p) > 256 || strings.HasPrefix(p, "$") || strings.Contains(p, "..") || strings.HasPrefix(p, ".") || strings.HasSuffix(p, ".") {
		return fmt.Errorf("%w: field path %q", ErrBadName, p)
	}
	return nil
}

// Cursor iterates over the results of Find, like the MongoDB driver's
// cursor (see query.Cursor).
type Cursor = query.Cursor

// SingleResult is the result of FindOne, FindByID, FindOneAndUpdate and
// FindOneAndDelete (see query.SingleResult).
type SingleResult = query.SingleResult

func failed(err error) *SingleResult { return query.NewResult(nil, err) }

func found(doc map[string]any) *SingleResult { return query.NewResult(doc, nil) }
