package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/latticedb/lattice/crdt"
	"github.com/latticedb/lattice/internal/writeplan"
	"github.com/latticedb/lattice/query"
	"github.com/latticedb/lattice/value"
)

// M is a JSON document or filter, like the MongoDB driver's bson.M.
type M = map[string]any

// Collection is a named set of documents in a database. It is a cheap
// handle: the collection exists once a document is inserted into it.
type Collection struct {
	db   *Database
	name string
	err  error // invalid name: every call returns it
	// scanHook, when set (by tests only, see export_test.go), runs before
	// Find's filter looks at each candidate document.
	scanHook func(ctx context.Context)
}

// Collection returns a handle on the named collection. An invalid name is
// reported by the first call on the handle.
func (db *Database) Collection(name string) *Collection {
	return &Collection{db: db, name: name, err: validateName("collection", name)}
}

// Collections lists the collections holding at least one document or
// created with CreateCollection, sorted.
func (db *Database) Collections(ctx context.Context) ([]string, error) {
	if err := db.checkOpen(); err != nil {
		return nil, err
	}
	return db.mat.Collections(), nil
}

// CreateCollection records an empty collection so it is listed before its
// first document.
func (db *Database) CreateCollection(ctx context.Context, name string) error {
	if err := validateName("collection", name); err != nil {
		return err
	}
	return db.write(ctx, func(t *txn) error {
		t.stageMeta(crdt.Mutation{Key: crdt.CollectionKey(name), Value: []byte("{}")})
		return nil
	})
}

// Name is the collection's name.
func (c *Collection) Name() string { return c.name }

// Database is the database the collection belongs to.
func (c *Collection) Database() *Database { return c.db }

// InsertOneResult is the result of InsertOne.
type InsertOneResult struct {
	InsertedID any
}

// InsertManyResult is the result of InsertMany and Insert.
type InsertManyResult struct {
	InsertedIDs []any
}

// UpdateResult is the result of UpdateOne, UpdateMany and ReplaceOne.
type UpdateResult struct {
	MatchedCount  int64
	ModifiedCount int64
	UpsertedID    any // set when an upsert inserted a document
}

// DeleteResult is the result of DeleteOne and DeleteMany.
type DeleteResult struct {
	DeletedCount int64
}

func (c *Collection) ref(id any) (docRef, error) {
	k, err := idKey(id)
	if err != nil {
		return docRef{}, err
	}
	return docRef{Coll: c.name, ID: k}, nil
}

func (c *Collection) writer() crdt.Writer {
	return crdt.Writer{Replica: c.db.e.self, Nonce: crdt.NewNonce(), Now: c.db.e.cfg.clock()}
}

// prepare turns a caller's document into a canonical, valid document with
// an _id (generated when absent).
func (c *Collection) prepare(doc any) (map[string]any, error) {
	m, err := toMap(doc, "document")
	if err != nil {
		return nil, err
	}
	if err := value.ValidateDocument(m); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadDocument, err)
	}
	if _, ok := m["_id"]; !ok {
		m["_id"] = c.db.e.ids.New(c.db.e.cfg.clock())
	}
	if _, err := idKey(m["_id"]); err != nil {
		return nil, err
	}
	return m, nil
}

// toMap converts a document, filter or update given as a map, a struct or
// JSON bytes into a canonical map.
func toMap(v any, what string) (map[string]any, error) {
	var out any
	var err error
	switch x := v.(type) {
	case nil:
		return map[string]any{}, nil
	case map[string]any:
		out, err = value.Normalize(x)
	case json.RawMessage:
		out, err = value.DecodeJSON(x)
	case []byte:
		out, err = value.DecodeJSON(x)
	default:
		var b []byte
		b, err = json.Marshal(v)
		if err == nil {
			out, err = value.DecodeJSON(b)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadDocument, what, err)
	}
	m, ok := out.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: %s must be a JSON object, got %T", ErrBadDocument, what, out)
	}
	// Numbers as storage will give them back (1.0 is stored as 1).
	value.CanonicalNumbers(m)
	return m, nil
}

func jsonSize(m map[string]any) (int, error) {
	b, err := json.Marshal(m)
	return len(b), err
}

// plannedInsert is an insert planned before the write path: the document
// encoded and its size checked against a document never written, which is
// what almost every insert meets. Only an _id that exists or was deleted
// is planned again inside the write path (see insertPlanned).
type plannedInsert struct {
	doc  map[string]any
	ref  docRef
	plan crdt.Plan
}

// planInsert plans inserting doc (prepared) outside the write path.
func (c *Collection) planInsert(doc map[string]any) (*plannedInsert, error) {
	r, err := c.ref(doc["_id"])
	if err != nil {
		return nil, err
	}
	fresh, _ := crdt.Assemble(r.Coll, r.ID, nil)
	p, err := c.planInsertOn(fresh, doc)
	if err != nil {
		return nil, err
	}
	return &plannedInsert{doc: doc, ref: r, plan: p}, nil
}

func (c *Collection) planInsertOn(cur *crdt.Doc, doc map[string]any) (crdt.Plan, error) {
	p, err := crdt.PlanInsert(cur, doc, c.writer())
	if err != nil {
		return crdt.Plan{}, fmt.Errorf("%w: %w", ErrBadDocument, err)
	}
	if max := c.db.e.cfg.maxDocumentSize; p.Size > max {
		return crdt.Plan{}, fmt.Errorf("%w: %d bytes, the limit is %d", ErrDocumentTooLarge, p.Size, max)
	}
	return p, nil
}

// insertPlanned stages a planned insert in the write path: as planned
// when the _id has no keys at all, else planned again against them (a
// creation after a delete derives its incarnation from the graves).
func (c *Collection) insertPlanned(t *txn, pi *plannedInsert) error {
	cur, err := t.Doc(pi.ref)
	if err != nil {
		return err
	}
	if cur.Exists {
		return fmt.Errorf("%w: %v in collection %q", ErrDuplicateKey, pi.doc["_id"], c.name)
	}
	p := pi.plan
	if len(cur.Raw) != 0 || len(cur.Graves) != 0 {
		if p, err = c.planInsertOn(cur, pi.doc); err != nil {
			return err
		}
	}
	t.Stage(pi.ref, cur, p)
	return nil
}

// insert plans and stages an insert inside the write path (upserts,
// replaces that insert).
func (c *Collection) insert(t *txn, doc map[string]any) error {
	pi, err := c.planInsert(doc)
	if err != nil {
		return err
	}
	return c.insertPlanned(t, pi)
}

// InsertOne inserts a document (a map, or a struct with json tags) and
// returns its _id. An _id is generated when the document has none.
func (c *Collection) InsertOne(ctx context.Context, doc any) (*InsertOneResult, error) {
	if c.err != nil {
		return nil, c.err
	}
	m, err := c.prepare(doc)
	if err != nil {
		return nil, err
	}
	pi, err := c.planInsert(m) // before the write path: encoding grows with the document
	if err != nil {
		return nil, err
	}
	if err := c.db.write(ctx, func(t *txn) error { return c.insertPlanned(t, pi) }); err != nil {
		return nil, err
	}
	return &InsertOneResult{InsertedID: m["_id"]}, nil
}

// InsertMany inserts documents atomically: if any is invalid or its _id
// exists, none is inserted. More documents than WithMaxBatchDocuments
// allows, or more keys than WithMaxWriteBytes, are refused whole with
// ErrWriteTooLarge.
func (c *Collection) InsertMany(ctx context.Context, docs []any) (*InsertManyResult, error) {
	if c.err != nil {
		return nil, c.err
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("%w: InsertMany needs at least one document", ErrBadDocument)
	}
	if max := c.db.e.cfg.maxBatchDocs; len(docs) > max {
		return nil, fmt.Errorf("%w: InsertMany of %d documents, the limit is %d (WithMaxBatchDocuments)", ErrWriteTooLarge, len(docs), max)
	}
	// Everything that grows with the documents but not with the database
	// (canonical form, encoding, size and cost checks) is done before the
	// write path.
	pis := make([]*plannedInsert, len(docs))
	ids := make([]any, len(docs))
	cost := 0
	for i, d := range docs {
		m, err := c.prepare(d)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		pi, err := c.planInsert(m)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		cost += writeCost(pi.plan.Mutations)
		if err := c.db.checkWriteCost(cost, i+1); err != nil {
			return nil, fmt.Errorf("InsertMany of %d documents: %w", len(docs), err)
		}
		pis[i], ids[i] = pi, m["_id"]
	}
	err := c.db.write(ctx, func(t *txn) error {
		for i, pi := range pis {
			if err := c.insertPlanned(t, pi); err != nil {
				return fmt.Errorf("document %d: %w", i, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &InsertManyResult{InsertedIDs: ids}, nil
}

// Insert inserts one or more documents atomically, in AvionDB's style.
func (c *Collection) Insert(ctx context.Context, docs ...any) (*InsertManyResult, error) {
	return c.InsertMany(ctx, docs)
}

// UpdateOne applies update operators to the first document matching filter.
func (c *Collection) UpdateOne(ctx context.Context, filter, update any, opts ...UpdateOption) (*UpdateResult, error) {
	res, _, _, err := c.update(ctx, filter, update, false, updateOptions(opts))
	return res, err
}

// UpdateMany applies update operators to every document matching filter,
// atomically: if the update fails on one document, none changes. An update
// of more documents than WithMaxBatchDocuments allows, or of more keys
// than WithMaxWriteBytes, is refused whole with ErrWriteTooLarge.
func (c *Collection) UpdateMany(ctx context.Context, filter, update any, opts ...UpdateOption) (*UpdateResult, error) {
	res, _, _, err := c.update(ctx, filter, update, true, updateOptions(opts))
	return res, err
}

// FindOneAndUpdate updates the first matching document and returns it as it
// was before (or after, with ReturnDocument(After)) the update.
func (c *Collection) FindOneAndUpdate(ctx context.Context, filter, update any, opts ...UpdateOption) *SingleResult {
	o := updateOptions(opts)
	_, before, after, err := c.update(ctx, filter, update, false, o)
	if err != nil {
		return failed(err)
	}
	doc := before
	if o.ReturnAfter {
		doc = after
	}
	if doc == nil {
		return failed(ErrNoDocuments)
	}
	return found(doc)
}

func (c *Collection) update(ctx context.Context, filter, update any, many bool, o UpdateOptions) (res *UpdateResult, before, after map[string]any, err error) {
	if c.err != nil {
		return nil, nil, nil, c.err
	}
	f, err := parseFilter(filter, query.RegexWork(writeRegexWork))
	if err != nil {
		return nil, nil, nil, err
	}
	um, err := toMap(update, "update")
	if err != nil {
		return nil, nil, nil, err
	}
	u, err := query.ParseUpdate(um, query.RegexWork(writeRegexWork))
	if err != nil {
		return nil, nil, nil, err
	}
	res = &UpdateResult{}
	w := c.plan(f, o.Sort, many, 0, "UpdateMany", func(cur *crdt.Doc) (crdt.Plan, error) {
		p, err := crdt.PlanUpdate(cur, u, c.writer())
		if err == nil {
			err = c.checkSize(p.Doc)
		}
		return p, err
	})
	err = c.db.plannedWrite(ctx, w, func(t *txn, acts []writeplan.Staged) error {
		*res = UpdateResult{}
		before, after = nil, nil
		if err := c.checkWriteDocs("UpdateMany", len(acts)); err != nil {
			return err
		}
		if len(acts) == 0 && o.Upsert {
			now := c.db.e.cfg.clock()
			doc, err := query.ApplyUpsert(f, u, now)
			if err != nil {
				return err
			}
			m, err := c.prepare(doc)
			if err != nil {
				return err
			}
			if err := c.upsert(t, f, u, m, now); err != nil {
				return err
			}
			res.UpsertedID, after = m["_id"], m
			return nil
		}
		for _, a := range acts {
			res.MatchedCount++
			if a.Plan.Modified {
				res.ModifiedCount++
			}
		}
		if len(acts) > 0 {
			before, after = acts[0].Cur.Materialize(), acts[0].Plan.Doc
		}
		return nil
	})
	if err != nil {
		return nil, nil, nil, err
	}
	return res, before, after, nil
}

// upsert creates doc, what an update with upsert makes when nothing
// matches, as the insert of the filter's seed followed by the update (see
// crdt.PlanUpsert), so that concurrent upserts of one _id merge like
// updates: their increments add up. When the update does more than that
// plan can say (it changes the _id), doc is inserted whole.
func (c *Collection) upsert(t *txn, f *query.Filter, u *query.Update, doc map[string]any, now time.Time) error {
	r, err := c.ref(doc["_id"])
	if err != nil {
		return err
	}
	cur, err := t.Doc(r)
	if err != nil {
		return err
	}
	if cur.Exists {
		return fmt.Errorf("%w: %v in collection %q", ErrDuplicateKey, doc["_id"], c.name)
	}
	seed, err := query.ApplyUpsert(f, nil, now)
	if err != nil {
		return c.insert(t, doc)
	}
	value.CanonicalNumbers(seed)
	seed["_id"] = doc["_id"]
	w := c.writer()
	w.Now = now
	p, err := crdt.PlanUpsert(cur, seed, u, w)
	if err != nil || !value.Equal(p.Doc, doc) {
		return c.insert(t, doc)
	}
	if max := c.db.e.cfg.maxDocumentSize; p.Size > max {
		return fmt.Errorf("%w: %d bytes, the limit is %d", ErrDocumentTooLarge, p.Size, max)
	}
	if err := c.checkSize(doc); err != nil {
		return err
	}
	t.Stage(r, cur, p)
	return nil
}

func (c *Collection) checkSize(doc map[string]any) error {
	size, err := jsonSize(doc)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadDocument, err)
	}
	if size > c.db.e.cfg.maxDocumentSize {
		return fmt.Errorf("%w: the update makes it %d bytes, the limit is %d", ErrDocumentTooLarge, size, c.db.e.cfg.maxDocumentSize)
	}
	return nil
}

// ReplaceOne replaces the first document matching filter with replacement,
// keeping its _id. The replacement may not contain update operators.
func (c *Collection) ReplaceOne(ctx context.Context, filter, replacement any, opts ...UpdateOption) (*UpdateResult, error) {
	if c.err != nil {
		return nil, c.err
	}
	o := updateOptions(opts)
	f, err := parseFilter(filter, query.RegexWork(writeRegexWork))
	if err != nil {
		return nil, err
	}
	repl, err := toMap(replacement, "replacement")
	if err != nil {
		return nil, err
	}
	if err := value.ValidateDocument(repl); err != nil {
		return nil, fmt.Errorf("%w: replacement: %w", ErrBadDocument, err)
	}
	// Its size without the _id is known now: refuse it before the write
	// path (checked again there with the _id).
	if err := c.checkSize(repl); err != nil {
		return nil, err
	}
	res := &UpdateResult{}
	w := c.plan(f, o.Sort, false, 0, "ReplaceOne", func(cur *crdt.Doc) (crdt.Plan, error) {
		doc := value.Clone(repl).(map[string]any)
		id := cur.Materialize()["_id"]
		if rid, ok := doc["_id"]; ok && !value.Equal(rid, id) {
			return crdt.Plan{}, fmt.Errorf("%w: replacement changes _id", ErrBadDocument)
		}
		doc["_id"] = id
		if err := c.checkSize(doc); err != nil {
			return crdt.Plan{}, err
		}
		p, err := crdt.PlanReplace(cur, doc, c.writer())
		if !p.Modified {
			p.Mutations = nil // nothing to write
		}
		return p, err
	})
	err = c.db.plannedWrite(ctx, w, func(t *txn, acts []writeplan.Staged) error {
		*res = UpdateResult{}
		if len(acts) > 0 {
			res.MatchedCount = 1
			if acts[0].Plan.Modified {
				res.ModifiedCount = 1
			}
			return nil
		}
		if !o.Upsert {
			return nil
		}
		m, err := c.prepare(value.Clone(repl))
		if err != nil {
			return err
		}
		if err := c.insert(t, m); err != nil {
			return err
		}
		res.UpsertedID = m["_id"]
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// DeleteOne deletes the first document matching filter.
func (c *Collection) DeleteOne(ctx context.Context, filter any) (*DeleteResult, error) {
	res, _, err := c.delete(ctx, filter, false, nil, 0)
	return res, err
}

// DeleteMany deletes every document matching filter, atomically; a delete
// of more documents than WithMaxBatchDocuments allows, or of more keys
// than WithMaxWriteBytes, is refused whole with ErrWriteTooLarge (Drop
// deletes a whole collection in several writes).
func (c *Collection) DeleteMany(ctx context.Context, filter any) (*DeleteResult, error) {
	res, _, err := c.delete(ctx, filter, true, nil, 0)
	return res, err
}

// FindOneAndDelete deletes the first matching document and returns it.
func (c *Collection) FindOneAndDelete(ctx context.Context, filter any, opts ...UpdateOption) *SingleResult {
	_, doc, err := c.delete(ctx, filter, false, updateOptions(opts).Sort, 0)
	if err != nil {
		return failed(err)
	}
	if doc == nil {
		return failed(ErrNoDocuments)
	}
	return found(doc)
}

// delete deletes the first document matching filter, or with many all of
// them, or with limit > 0 at most limit of them.
func (c *Collection) delete(ctx context.Context, filter any, many bool, sortKeys []query.SortKey, limit int) (*DeleteResult, map[string]any, error) {
	if c.err != nil {
		return nil, nil, c.err
	}
	f, err := parseFilter(filter, query.RegexWork(writeRegexWork))
	if err != nil {
		return nil, nil, err
	}
	res := &DeleteResult{}
	var first map[string]any
	w := c.plan(f, sortKeys, many, limit, "DeleteMany", func(cur *crdt.Doc) (crdt.Plan, error) {
		return crdt.PlanDelete(cur), nil
	})
	err = c.db.plannedWrite(ctx, w, func(t *txn, acts []writeplan.Staged) error {
		*res, first = DeleteResult{DeletedCount: int64(len(acts))}, nil
		if len(acts) > 0 {
			first = acts[0].Cur.Materialize()
		}
		return c.checkWriteDocs("DeleteMany", len(acts))
	})
	if err != nil {
		return nil, nil, err
	}
	return res, first, nil
}

// dropBatch is how many documents one write of Drop deletes: a large
// collection is dropped in several writes, each within the write bounds.
const dropBatch = 1000

// Drop deletes every document of the collection and its indexes. A large
// collection is deleted in writes of dropBatch documents, so Drop is not
// atomic: should it fail, it may have deleted some of the documents.
func (c *Collection) Drop(ctx context.Context) error {
	if c.err != nil {
		return c.err
	}
	batch := min(dropBatch, c.db.e.cfg.maxBatchDocs)
	for {
		res, _, err := c.delete(ctx, nil, true, nil, batch)
		if err != nil {
			return err
		}
		if res.DeletedCount < int64(batch) {
			break
		}
	}
	return c.db.write(ctx, func(t *txn) error {
		for _, spec := range c.db.mat.Indexes(c.name) {
			t.stageMeta(crdt.Mutation{Key: crdt.IndexKey(c.name, spec.Name), Delete: true})
		}
		if c.db.mat.Marked(c.name) {
			t.stageMeta(crdt.Mutation{Key: crdt.CollectionKey(c.name), Delete: true})
		}
		return nil
	})
}

func parseFilter(filter any, opts ...query.FilterOption) (*query.Filter, error) {
	fm, err := toMap(filter, "filter")
	if err != nil {
		return nil, err
	}
	return query.ParseFilter(fm, opts...)
}

// writeRegexWork is the regex work budget (query.RegexWork) of the filter
// and the $pull conditions of one update or delete. Matching is planned
// before the write path but may run again inside it (for documents that
// changed), so the budget is smaller than a find's: a few tens of
// milliseconds for typical patterns, about a second for the costliest
// programs.
const writeRegexWork = 1 << 24

// plan is an update or delete of what f matches, planned before the
// write path (package writeplan); what names the call in a refusal.
func (c *Collection) plan(f *query.Filter, sortKeys []query.SortKey, many bool, limit int, what string, op func(*crdt.Doc) (crdt.Plan, error)) *writeplan.Plan {
	p := &writeplan.Plan{Coll: c.name, Filter: f, Sort: sortKeys, Many: many, Limit: limit, Op: op,
		Check: func(n int) error { return c.checkWriteDocs(what, n) }}
	if c.scanHook != nil {
		p.Each = c.scanHook
	}
	return p
}
