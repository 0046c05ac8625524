package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/query"
	"github.com/latticedb/lattice/value"
)

// actionRequest is the body of POST /v1/action/<name>. Raw fields are
// decoded into canonical values by value.DecodeJSON, so integers keep their
// precision.
type actionRequest struct {
	Database    string          `json:"database"`
	Collection  string          `json:"collection"`
	Document    json.RawMessage `json:"document"`
	Documents   json.RawMessage `json:"documents"`
	Filter      json.RawMessage `json:"filter"`
	Update      json.RawMessage `json:"update"`
	Replacement json.RawMessage `json:"replacement"`
	Sort        json.RawMessage `json:"sort"`
	Limit       *int64          `json:"limit"`
	Skip        *int64          `json:"skip"`
	Projection  json.RawMessage `json:"projection"`
	Upsert      bool            `json:"upsert"`
	Field       string          `json:"field"`
	// MaxTimeMS is the time limit of a read (find, findOne,
	// countDocuments, distinct) in milliseconds, at most the node's
	// QueryTimeout, which applies without it.
	MaxTimeMS json.RawMessage `json:"maxTimeMS"`
}

// action runs one action on a collection and returns its status and result.
type action func(ctx context.Context, c *engine.Collection, req *actionRequest) (int, any, error)

var actions = map[string]action{
	"insertOne":      actInsertOne,
	"insertMany":     actInsertMany,
	"findOne":        actFindOne,
	"find":           actFind,
	"updateOne":      actUpdate(false),
	"updateMany":     actUpdate(true),
	"replaceOne":     actReplaceOne,
	"deleteOne":      actDelete(false),
	"deleteMany":     actDelete(true),
	"countDocuments": actCount,
	"distinct":       actDistinct,
}

// reads are the find-like actions: they take maxTimeMS and run under a
// time limit.
var reads = map[string]bool{"find": true, "findOne": true, "countDocuments": true, "distinct": true}

// timeLimit is the time limit of a read: maxTimeMS when given (a positive
// integer no larger than max), else max.
func timeLimit(raw json.RawMessage, max time.Duration) (time.Duration, error) {
	if isNull(raw) {
		return max, nil
	}
	bad := errorf(http.StatusBadRequest, "bad_request",
		"field \"maxTimeMS\" must be an integer number of milliseconds from 1 to %d (this node's query time limit)", max.Milliseconds())
	raw = bytes.TrimSpace(raw)
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var num json.Number
	if raw[0] == '"' || dec.Decode(&num) != nil { // json.Number takes "10" too
		return 0, bad
	}
	ms, err := num.Int64()
	if err != nil || ms < 1 || ms > max.Milliseconds() {
		return 0, bad
	}
	return time.Duration(ms) * time.Millisecond, nil
}

func (n *Node) handleAction(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	act, ok := actions[name]
	if !ok {
		writeError(w, errorf(http.StatusNotFound, "not_found", "unknown action %q", name))
		return
	}
	var req actionRequest
	if err := decodeBody(r, &req); err != nil {
		writeError(w, err)
		return
	}
	if err := requireField("database", req.Database != ""); err != nil {
		writeError(w, err)
		return
	}
	if err := requireField("collection", req.Collection != ""); err != nil {
		writeError(w, err)
		return
	}
	ctx := r.Context()
	if reads[name] {
		limit, err := timeLimit(req.MaxTimeMS, n.cfg.QueryTimeout)
		if err != nil {
			writeError(w, err)
			return
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, limit)
		defer cancel()
	} else if !isNull(req.MaxTimeMS) {
		writeError(w, errorf(http.StatusBadRequest, "bad_request", "maxTimeMS applies to find, findOne, countDocuments and distinct, not %s", name))
		return
	}
	db, err := n.database(ctx, req.Database)
	if err != nil {
		writeError(w, err)
		return
	}
	status, res, err := act(ctx, db.Collection(req.Collection), &req)
	// A read that ran past its limit fails even when the engine finished
	// it without looking at its context: the limit is what the client
	// asked for.
	if reads[name] && errors.Is(ctx.Err(), context.DeadlineExceeded) && r.Context().Err() == nil {
		err = errorf(http.StatusGatewayTimeout, "timeout",
			"%s ran past its time limit (maxTimeMS, or this node's query time limit of %s)", name, n.cfg.QueryTimeout)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, status, res)
}

// object decodes a raw JSON object; absent or null gives nil.
func object(field string, raw json.RawMessage) (map[string]any, error) {
	if isNull(raw) {
		return nil, nil
	}
	v, err := value.DecodeJSON(raw)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "bad_json", "field %q: %v", field, err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errorf(http.StatusBadRequest, "bad_request", "field %q must be a JSON object", field)
	}
	return m, nil
}

// requiredObject is object for a field that must be present.
func requiredObject(field string, raw json.RawMessage) (map[string]any, error) {
	if isNull(raw) {
		return nil, requireField(field, false)
	}
	return object(field, raw)
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(bytes.TrimSpace(raw)) == "null"
}

// findOptions builds the sort, skip, limit and projection options.
func findOptions(req *actionRequest) ([]query.Option, error) {
	var opts []query.Option
	keys, err := sortKeys(req.Sort)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		opts = append(opts, query.Sort(k.Path, k.Dir))
	}
	if req.Skip != nil {
		opts = append(opts, query.Skip(*req.Skip))
	}
	if req.Limit != nil {
		opts = append(opts, query.Limit(*req.Limit))
	}
	proj, err := object("projection", req.Projection)
	if err != nil {
		return nil, err
	}
	if proj != nil {
		opts = append(opts, query.Project(proj))
	}
	if _, err := query.NewOptions(opts...); err != nil {
		return nil, err
	}
	return opts, nil
}

// sortKeys reads a sort object keeping its key order, which is the order of
// significance ({"done": 1, "title": -1}).
func sortKeys(raw json.RawMessage) ([]query.SortKey, error) {
	if isNull(raw) {
		return nil, nil
	}
	bad := func(msg string) error {
		return errorf(http.StatusBadRequest, "bad_request", "field \"sort\": %s", msg)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, bad("must be an object such as {\"title\": 1, \"n\": -1}")
	}
	var keys []query.SortKey
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, bad(err.Error())
		}
		path, _ := tok.(string)
		tok, err = dec.Token()
		if err != nil {
			return nil, bad(err.Error())
		}
		num, ok := tok.(json.Number)
		dir, nerr := num.Int64()
		if !ok || nerr != nil || (dir != 1 && dir != -1) {
			return nil, bad("direction of " + path + " must be 1 or -1")
		}
		keys = append(keys, query.SortKey{Path: path, Dir: int(dir)})
	}
	if _, err := dec.Token(); err != nil {
		return nil, bad(err.Error())
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, bad("trailing data")
	}
	return keys, nil
}

func updateOptions(req *actionRequest) []engine.UpdateOption {
	if req.Upsert {
		return []engine.UpdateOption{engine.Upsert(true)}
	}
	return nil
}

func actInsertOne(ctx context.Context, c *engine.Collection, req *actionRequest) (int, any, error) {
	doc, err := requiredObject("document", req.Document)
	if err != nil {
		return 0, nil, err
	}
	res, err := c.InsertOne(ctx, doc)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, map[string]any{"insertedId": res.InsertedID}, nil
}

func actInsertMany(ctx context.Context, c *engine.Collection, req *actionRequest) (int, any, error) {
	if isNull(req.Documents) {
		return 0, nil, requireField("documents", false)
	}
	arr, err := decodeDocuments(req.Documents, c.Database().MaxBatchDocuments())
	if err != nil {
		return 0, nil, err
	}
	res, err := c.InsertMany(ctx, arr)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, map[string]any{"insertedIds": res.InsertedIDs}, nil
}

// decodeDocuments decodes a non-empty JSON array of at most max objects,
// one element at a time: a body of a million empty objects (4 MiB) is
// refused after max+1 of them, not decoded whole first (about 1 KiB of
// memory per decoded document).
func decodeDocuments(raw json.RawMessage, max int) ([]any, error) {
	shape := errorf(http.StatusBadRequest, "bad_request", "field \"documents\" must be a non-empty array of objects")
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	bad := func(err error) error {
		return errorf(http.StatusBadRequest, "bad_json", "field \"documents\": %v", err)
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, bad(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, shape
	}
	var arr []any
	for dec.More() {
		if len(arr) == max {
			return nil, errorf(http.StatusBadRequest, "limit_exceeded",
				"%v: insertMany of more than %d documents, the limit is %d (WithMaxBatchDocuments)", engine.ErrWriteTooLarge, max, max)
		}
		var d any
		if err := dec.Decode(&d); err != nil {
			return nil, bad(err)
		}
		if _, ok := d.(map[string]any); !ok {
			return nil, errorf(http.StatusBadRequest, "bad_request", "documents[%d] must be a JSON object", len(arr))
		}
		n, err := value.Normalize(d)
		if err != nil {
			return nil, errorf(http.StatusBadRequest, "bad_json", "field \"documents\": documents[%d]: %v", len(arr), err)
		}
		arr = append(arr, n)
	}
	if _, err := dec.Token(); err != nil { // the closing ']'
		return nil, bad(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, bad(fmt.Errorf("%w: trailing data after the value", value.ErrInvalidJSON))
	}
	if len(arr) == 0 {
		return nil, shape
	}
	return arr, nil
}

func actFindOne(ctx context.Context, c *engine.Collection, req *actionRequest) (int, any, error) {
	filter, err := object("filter", req.Filter)
	if err != nil {
		return 0, nil, err
	}
	if req.Limit != nil || req.Skip != nil {
		return 0, nil, errorf(http.StatusBadRequest, "bad_request", "findOne takes no limit or skip")
	}
	opts, err := findOptions(req)
	if err != nil {
		return 0, nil, err
	}
	doc, err := c.FindOne(ctx, asFilter(filter), opts...).Raw()
	if errors.Is(err, engine.ErrNoDocuments) {
		return http.StatusOK, map[string]any{"document": nil}, nil
	}
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"document": doc}, nil
}

func actFind(ctx context.Context, c *engine.Collection, req *actionRequest) (int, any, error) {
	filter, err := object("filter", req.Filter)
	if err != nil {
		return 0, nil, err
	}
	opts, err := findOptions(req)
	if err != nil {
		return 0, nil, err
	}
	cur, err := c.Find(ctx, asFilter(filter), opts...)
	if err != nil {
		return 0, nil, err
	}
	docs := []map[string]any{}
	if err := cur.All(ctx, &docs); err != nil {
		return 0, nil, err
	}
	if docs == nil {
		docs = []map[string]any{}
	}
	return http.StatusOK, map[string]any{"documents": docs}, nil
}

// updateResponse is the result of updates and replaces.
type updateResponse struct {
	MatchedCount  int64 `json:"matchedCount"`
	ModifiedCount int64 `json:"modifiedCount"`
	UpsertedID    any   `json:"upsertedId,omitempty"`
}

func actUpdate(many bool) action {
	return func(ctx context.Context, c *engine.Collection, req *actionRequest) (int, any, error) {
		filter, err := object("filter", req.Filter)
		if err != nil {
			return 0, nil, err
		}
		update, err := requiredObject("update", req.Update)
		if err != nil {
			return 0, nil, err
		}
		for k := range update {
			if !strings.HasPrefix(k, "$") {
				return 0, nil, errorf(http.StatusBadRequest, "bad_request",
					"update field %q is not an operator: use $set, $inc, ... (or replaceOne to replace a document)", k)
			}
		}
		op := c.UpdateOne
		if many {
			op = c.UpdateMany
		}
		res, err := op(ctx, asFilter(filter), update, updateOptions(req)...)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, updateResponse{res.MatchedCount, res.ModifiedCount, res.UpsertedID}, nil
	}
}

func actReplaceOne(ctx context.Context, c *engine.Collection, req *actionRequest) (int, any, error) {
	filter, err := object("filter", req.Filter)
	if err != nil {
		return 0, nil, err
	}
	repl, err := requiredObject("replacement", req.Replacement)
	if err != nil {
		return 0, nil, err
	}
	res, err := c.ReplaceOne(ctx, asFilter(filter), repl, updateOptions(req)...)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, updateResponse{res.MatchedCount, res.ModifiedCount, res.UpsertedID}, nil
}

func actDelete(many bool) action {
	return func(ctx context.Context, c *engine.Collection, req *actionRequest) (int, any, error) {
		filter, err := object("filter", req.Filter)
		if err != nil {
			return 0, nil, err
		}
		if filter == nil && many {
			// An absent filter deletes everything, as in MongoDB; say so
			// explicitly with {} to avoid accidents.
			return 0, nil, errorf(http.StatusBadRequest, "bad_request", "deleteMany needs a filter; pass {} to delete every document")
		}
		op := c.DeleteOne
		if many {
			op = c.DeleteMany
		}
		res, err := op(ctx, asFilter(filter))
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, map[string]int64{"deletedCount": res.DeletedCount}, nil
	}
}

func actCount(ctx context.Context, c *engine.Collection, req *actionRequest) (int, any, error) {
	filter, err := object("filter", req.Filter)
	if err != nil {
		return 0, nil, err
	}
	n, err := c.CountDocuments(ctx, asFilter(filter))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]int64{"count": n}, nil
}

func actDistinct(ctx context.Context, c *engine.Collection, req *actionRequest) (int, any, error) {
	if err := requireField("field", req.Field != ""); err != nil {
		return 0, nil, err
	}
	filter, err := object("filter", req.Filter)
	if err != nil {
		return 0, nil, err
	}
	vals, err := c.Distinct(ctx, req.Field, asFilter(filter))
	if err != nil {
		return 0, nil, err
	}
	if vals == nil {
		vals = []any{}
	}
	return http.StatusOK, map[string]any{"values": vals}, nil
}

// asFilter passes an absent filter as an untyped nil, which matches every
// document.
func asFilter(m map[string]any) any {
	if m == nil {
		return nil
	}
	return m
}
