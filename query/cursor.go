package query

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/latticedb/lattice/value"
)

// NewCursor returns a cursor over docs, positioned before the first.
func NewCursor(docs []map[string]any) *Cursor { return &Cursor{docs: docs, pos: -1} }

// NewResult returns the result of an operation on one document: doc, or
// err when it failed (ErrNoDocuments when nothing matched).
func NewResult(doc map[string]any, err error) *SingleResult {
	return &SingleResult{doc: doc, err: err}
}

// Cursor iterates over the results of a query, like the MongoDB driver's
// cursor (package engine's Find returns one). It holds its results in
// memory.
type Cursor struct {
	docs   []map[string]any
	pos    int
	closed bool
}

// Next advances to the next document, reporting whether there is one.
func (cur *Cursor) Next(ctx context.Context) bool {
	if cur.closed || ctx.Err() != nil || cur.pos+1 >= len(cur.docs) {
		return false
	}
	cur.pos++
	return true
}

// Decode decodes the current document into v: a *map[string]any (or *M)
// or a pointer to a struct with json tags.
func (cur *Cursor) Decode(v any) error {
	if cur.closed {
		return ErrCursorClosed
	}
	if cur.pos < 0 || cur.pos >= len(cur.docs) {
		return errors.New("query: Decode called without a successful Next")
	}
	return decodeInto(cur.docs[cur.pos], v)
}

// All decodes every remaining document into results, a pointer to a slice,
// and closes the cursor.
func (cur *Cursor) All(ctx context.Context, results any) error {
	if cur.closed {
		return ErrCursorClosed
	}
	rest := cur.docs[cur.pos+1:]
	cur.pos = len(cur.docs)
	defer cur.Close(ctx)
	if p, ok := results.(*[]map[string]any); ok {
		out := make([]map[string]any, len(rest))
		for i, d := range rest {
			out[i] = value.Clone(d).(map[string]any)
		}
		*p = out
		return nil
	}
	b, err := json.Marshal(rest)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, results)
}

// RemainingBatchLength is how many documents Next has yet to return.
func (cur *Cursor) RemainingBatchLength() int { return len(cur.docs) - cur.pos - 1 }

// Err is always nil: results are materialised when the query runs. It exists
// for the MongoDB driver's iteration idiom.
func (cur *Cursor) Err() error { return nil }

// Close releases the cursor. Idempotent.
func (cur *Cursor) Close(ctx context.Context) error {
	cur.closed = true
	cur.docs = nil
	return nil
}

// SingleResult is the result of an operation on one document, like the
// MongoDB driver's (package engine's FindOne, FindByID,
// FindOneAndUpdate and FindOneAndDelete return one).
type SingleResult struct {
	doc map[string]any
	err error
}

// Err is the error of the operation; ErrNoDocuments when nothing matched.
func (r *SingleResult) Err() error { return r.err }

// Decode decodes the document into v (see Cursor.Decode).
func (r *SingleResult) Decode(v any) error {
	if r.err != nil {
		return r.err
	}
	return decodeInto(r.doc, v)
}

// Raw returns a copy of the document as a map.
func (r *SingleResult) Raw() (map[string]any, error) {
	if r.err != nil {
		return nil, r.err
	}
	return value.Clone(r.doc).(map[string]any), nil
}

func decodeInto(doc map[string]any, v any) error {
	switch p := v.(type) {
	case *map[string]any:
		*p = value.Clone(doc).(map[string]any)
		return nil
	case *any:
		*p = value.Clone(doc)
		return nil
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
