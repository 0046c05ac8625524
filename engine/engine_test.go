package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/enginetest"
	"github.com/latticedb/lattice/query"
)

func TestRestartKeepsDataAndIdentity(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	e, err := engine.New(ctx, engine.WithDataDir(dir), engine.WithListenAddrs("/ip4/127.0.0.1/tcp/0"))
	require.NoError(t, err)
	id := e.ID()
	db, err := e.Create(ctx, "notes")
	require.NoError(t, err)
	addr := db.Address()
	notes := db.Collection("notes")
	res, err := notes.InsertOne(ctx, engine.M{"text": "remember", "tags": []any{"a"}})
	require.NoError(t, err)
	_, err = notes.UpdateOne(ctx, engine.M{"_id": res.InsertedID}, engine.M{"$inc": engine.M{"n": 2}, "$addToSet": engine.M{"tags": "b"}})
	require.NoError(t, err)
	_, err = notes.CreateIndex(ctx, "text")
	require.NoError(t, err)
	before := enginetest.Dump(t, notes)
	require.NoError(t, e.Close())
	require.NoError(t, e.Close(), "Close is idempotent")

	e2, err := engine.New(ctx, engine.WithDataDir(dir), engine.WithListenAddrs("/ip4/127.0.0.1/tcp/0"))
	require.NoError(t, err)
	defer e2.Close()
	require.Equal(t, id, e2.ID(), "identity persists")
	dbs, err := e2.Databases(ctx)
	require.NoError(t, err)
	require.Len(t, dbs, 1)
	require.Equal(t, addr, dbs[0].Address)
	require.False(t, dbs[0].Open)

	db2, err := e2.Open(ctx, addr)
	require.NoError(t, err)
	notes2 := db2.Collection("notes")
	require.Equal(t, before, enginetest.Dump(t, notes2))
	idx, err := notes2.Indexes(ctx)
	require.NoError(t, err)
	require.Equal(t, []engine.IndexSpec{{Name: "text_1", Path: "text"}}, idx)
	var doc engine.M
	require.NoError(t, notes2.FindOne(ctx, engine.M{"text": "remember"}).Decode(&doc))
	require.EqualValues(t, 2, doc["n"])
	require.Equal(t, []any{"a", "b"}, doc["tags"])

	// The creator-only default survives too: this engine is the creator.
	_, err = notes2.InsertOne(ctx, engine.M{"text": "still mine"})
	require.NoError(t, err)
}

func TestCreateIsDeterministicOnRequestAndOpenValidates(t *testing.T) {
	ctx := context.Background()
	e := enginetest.NewEngine(t)
	db1, err := e.Create(ctx, "same", engine.WithAccess(accesscontrol.Open()), engine.WithDeterministicAddress())
	require.NoError(t, err)
	db2, err := e.Create(ctx, "same", engine.WithAccess(accesscontrol.Open()), engine.WithDeterministicAddress())
	require.NoError(t, err)
	require.Equal(t, db1.Address(), db2.Address())
	db3, err := e.Create(ctx, "same", engine.WithDeterministicAddress())
	require.NoError(t, err)
	require.NotEqual(t, db1.Address(), db3.Address(), "access rules are part of the address")

	bad := []string{
		"",
		"/orbitdb/bafy/x",
		"/lattice/",
		"/lattice/notacid/name",
		"/lattice/" + strings.Split(db1.Address(), "/")[2],
		"/lattice/bafkqaaa/name", // a CID, but not a manifest's
	}
	for _, a := range bad {
		_, err := e.Open(ctx, a)
		require.ErrorIs(t, err, engine.ErrBadAddress, "address %q", a)
	}
	// Right CID, wrong name.
	wrong := strings.TrimSuffix(db1.Address(), "same") + "other"
	_, err = e.Open(ctx, wrong)
	require.ErrorIs(t, err, engine.ErrBadAddress)

	for _, name := range []string{"", "a/b", "$x", "_sys", strings.Repeat("x", 129), "bad\x01"} {
		_, err := e.Create(ctx, name)
		require.ErrorIs(t, err, engine.ErrBadName, name)
	}
}

func TestBadDocumentsStoreNothing(t *testing.T) {
	ctx := context.Background()
	e := enginetest.NewEngine(t, engine.WithMaxDocumentSize(1024))
	db, err := e.Create(ctx, "bad")
	require.NoError(t, err)
	c := db.Collection("c")
	cases := map[string]any{
		"non-object":        []any{1, 2},
		"string":            "hello",
		"dollar field":      engine.M{"$set": 1},
		"dotted field":      engine.M{"a.b": 1},
		"invalid UTF-8 key": engine.M{"bad\xff": 1},
		"bool _id":          engine.M{"_id": true},
		"channel":           engine.M{"c": make(chan int)},
	}
	for name, doc := range cases {
		_, err := c.InsertOne(ctx, doc)
		require.ErrorIs(t, err, engine.ErrBadDocument, name)
	}
	_, err = c.InsertOne(ctx, engine.M{"big": strings.Repeat("x", 2000)})
	require.ErrorIs(t, err, engine.ErrDocumentTooLarge)

	// InsertMany is atomic: one bad document, nothing stored.
	_, err = c.InsertMany(ctx, []any{engine.M{"ok": 1}, engine.M{"$bad": 1}})
	require.ErrorIs(t, err, engine.ErrBadDocument)
	_, err = c.InsertOne(ctx, engine.M{"_id": "dup"})
	require.NoError(t, err)
	_, err = c.InsertMany(ctx, []any{engine.M{"_id": "new"}, engine.M{"_id": "dup"}})
	require.ErrorIs(t, err, engine.ErrDuplicateKey)
	n, err := c.CountDocuments(ctx, nil)
	require.NoError(t, err)
	require.EqualValues(t, 1, n)

	// A failing update changes nothing, even on documents it matched first.
	_, err = c.InsertMany(ctx, []any{engine.M{"_id": "a", "n": 1}, engine.M{"_id": "b", "n": "text"}})
	require.NoError(t, err)
	_, err = c.UpdateMany(ctx, engine.M{"n": engine.M{"$exists": true}}, engine.M{"$inc": engine.M{"n": 1}})
	require.ErrorIs(t, err, query.ErrTypeMismatch)
	var a engine.M
	require.NoError(t, c.FindByID(ctx, "a").Decode(&a))
	require.EqualValues(t, 1, a["n"])

	_, err = c.UpdateOne(ctx, nil, engine.M{"$frobnicate": engine.M{"n": 1}})
	require.ErrorIs(t, err, query.ErrUnknownOperator)
	require.Contains(t, err.Error(), "$frobnicate")
	_, err = c.Find(ctx, engine.M{"n": engine.M{"$near": 1}})
	require.ErrorIs(t, err, query.ErrUnknownOperator)
	require.Contains(t, err.Error(), "$near")

	// An update that grows a document past the limit is refused whole.
	_, err = c.UpdateOne(ctx, engine.M{"_id": "a"}, engine.M{"$set": engine.M{"big": strings.Repeat("y", 2000)}})
	require.ErrorIs(t, err, engine.ErrDocumentTooLarge)

	bad := db.Collection("bad/name")
	_, err = bad.InsertOne(ctx, engine.M{})
	require.ErrorIs(t, err, engine.ErrBadName)
}

func TestCRUDAndQueries(t *testing.T) {
	ctx := context.Background()
	e := enginetest.NewEngine(t)
	db, err := e.Create(ctx, "crud")
	require.NoError(t, err)
	c := db.Collection("people")
	type person struct {
		ID   string   `json:"_id,omitempty"`
		Name string   `json:"name"`
		Age  int      `json:"age"`
		Tags []string `json:"tags,omitempty"`
	}
	res, err := c.InsertOne(ctx, person{Name: "ada", Age: 36, Tags: []string{"math"}})
	require.NoError(t, err)
	require.Len(t, res.InsertedID, 24, "generated ObjectID-like _id")
	_, err = c.InsertMany(ctx, []any{
		person{ID: "grace", Name: "grace", Age: 45, Tags: []string{"navy", "cobol"}},
		engine.M{"_id": int64(7), "name": "alan", "age": 41},
		engine.M{"name": "edsger", "age": 72, "address": engine.M{"city": "austin"}},
	})
	require.NoError(t, err)

	var p person
	require.NoError(t, c.FindByID(ctx, "grace").Decode(&p))
	require.Equal(t, person{ID: "grace", Name: "grace", Age: 45, Tags: []string{"navy", "cobol"}}, p)
	var seven engine.M
	require.NoError(t, c.FindByID(ctx, 7).Decode(&seven), "numeric _id")
	require.Equal(t, "alan", seven["name"])
	require.ErrorIs(t, c.FindByID(ctx, "7").Err(), engine.ErrNoDocuments, "string and number ids differ")

	cur, err := c.Find(ctx, engine.M{"age": engine.M{"$gte": 40}}, query.Sort("age", -1), query.Project(engine.M{"name": 1, "_id": 0}))
	require.NoError(t, err)
	var names []engine.M
	require.NoError(t, cur.All(ctx, &names))
	require.Equal(t, []engine.M{{"name": "edsger"}, {"name": "grace"}, {"name": "alan"}}, names)

	cur, err = c.Find(ctx, engine.M{"address.city": "austin"})
	require.NoError(t, err)
	require.True(t, cur.Next(ctx))
	var m engine.M
	require.NoError(t, cur.Decode(&m))
	require.Equal(t, "edsger", m["name"])
	require.False(t, cur.Next(ctx))

	n, err := c.CountDocuments(ctx, engine.M{"tags": "navy"})
	require.NoError(t, err)
	require.EqualValues(t, 1, n)

	vals, err := c.Distinct(ctx, "tags", nil)
	require.NoError(t, err)
	require.Equal(t, []any{"cobol", "math", "navy"}, vals)

	up, err := c.UpdateOne(ctx, engine.M{"name": "nobody"}, engine.M{"$set": engine.M{"age": 1}}, engine.Upsert(true))
	require.NoError(t, err)
	require.NotNil(t, up.UpsertedID)
	require.NoError(t, c.FindByID(ctx, up.UpsertedID).Decode(&m))
	require.Equal(t, "nobody", m["name"])

	up, err = c.UpdateMany(ctx, engine.M{"age": engine.M{"$lt": 50}}, engine.M{"$inc": engine.M{"age": 1}})
	require.NoError(t, err)
	require.EqualValues(t, 4, up.MatchedCount)
	require.EqualValues(t, 4, up.ModifiedCount)

	var before, after engine.M
	require.NoError(t, c.FindOneAndUpdate(ctx, engine.M{"_id": "grace"}, engine.M{"$set": engine.M{"rank": "admiral"}}).Decode(&before))
	require.Nil(t, before["rank"])
	require.NoError(t, c.FindOneAndUpdate(ctx, engine.M{"_id": "grace"}, engine.M{"$unset": engine.M{"rank": ""}}, engine.ReturnDocument(engine.After)).Decode(&after))
	require.NotContains(t, after, "rank")

	rr, err := c.ReplaceOne(ctx, engine.M{"_id": int64(7)}, engine.M{"name": "turing"})
	require.NoError(t, err)
	require.EqualValues(t, 1, rr.ModifiedCount)
	require.NoError(t, c.FindByID(ctx, 7).Decode(&m))
	require.Equal(t, engine.M{"_id": int64(7), "name": "turing"}, m)
	_, err = c.ReplaceOne(ctx, engine.M{"_id": int64(7)}, engine.M{"$set": engine.M{"x": 1}})
	require.ErrorIs(t, err, engine.ErrBadDocument)

	require.NoError(t, c.FindOneAndDelete(ctx, engine.M{"name": "turing"}).Decode(&m))
	require.Equal(t, "turing", m["name"])
	del, err := c.DeleteMany(ctx, engine.M{"age": engine.M{"$gt": 70}})
	require.NoError(t, err)
	require.EqualValues(t, 1, del.DeletedCount)
	n, err = c.CountDocuments(ctx, nil)
	require.NoError(t, err)
	require.EqualValues(t, 3, n)

	colls, err := db.Collections(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"people"}, colls)
	require.NoError(t, c.Drop(ctx))
	colls, err = db.Collections(ctx)
	require.NoError(t, err)
	require.Empty(t, colls)
}

func TestIndexesAnswerLikeScans(t *testing.T) {
	ctx := context.Background()
	e := enginetest.NewEngine(t)
	db, err := e.Create(ctx, "idx")
	require.NoError(t, err)
	c := db.Collection("items")
	docs := make([]any, 0, 200)
	for i := 0; i < 200; i++ {
		d := engine.M{"n": i % 17, "s": strings.Repeat("k", i%5), "tags": []any{i % 3, "t"}}
		if i%10 == 0 {
			delete(d, "n")
		}
		if i%7 == 0 {
			d["n"] = float64(i%17) + 0.5
		}
		docs = append(docs, d)
	}
	_, err = c.InsertMany(ctx, docs)
	require.NoError(t, err)
	filters := []engine.M{
		{"n": 3},
		{"n": engine.M{"$in": []any{1, 2, 3.5}}},
		{"n": engine.M{"$gt": 4, "$lte": 9}},
		{"n": engine.M{"$gte": 15}},
		{"n": engine.M{"$lt": 2}},
		{"n": nil},
		{"tags": 2},
		{"n": 3, "s": "kk"},
		{"$or": []any{engine.M{"n": 1}, engine.M{"s": ""}}},
	}
	scan := make([]string, len(filters))
	for i, f := range filters {
		cur, err := c.Find(ctx, f)
		require.NoError(t, err)
		var got []engine.M
		require.NoError(t, cur.All(ctx, &got))
		scan[i] = toJSON(t, got)
	}
	_, err = c.CreateIndex(ctx, "n")
	require.NoError(t, err)
	_, err = c.CreateIndex(ctx, "tags")
	require.NoError(t, err)
	// Index maintenance on writes after creation too.
	_, err = c.UpdateMany(ctx, engine.M{"n": 16}, engine.M{"$set": engine.M{"n": 99}})
	require.NoError(t, err)
	_, err = c.UpdateMany(ctx, engine.M{"n": 99}, engine.M{"$set": engine.M{"n": 16}})
	require.NoError(t, err)
	for i, f := range filters {
		cur, err := c.Find(ctx, f)
		require.NoError(t, err)
		var got []engine.M
		require.NoError(t, cur.All(ctx, &got))
		require.Equal(t, scan[i], toJSON(t, got), "filter %v", f)
	}
	require.NoError(t, c.DropIndex(ctx, "n_1"))
	require.Error(t, c.DropIndex(ctx, "n_1"))
}

func TestEventsReportLocalWrites(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := enginetest.NewEngine(t)
	db, err := e.Create(ctx, "ev")
	require.NoError(t, err)
	events := db.Events(ctx)
	_, err = db.Collection("c").InsertOne(ctx, engine.M{"_id": "x"})
	require.NoError(t, err)
	ev := <-events
	require.Equal(t, engine.Event{Type: engine.EventWrite, Collection: "c", ID: "x"}, ev)
	_, err = db.Collection("c").DeleteOne(ctx, engine.M{"_id": "x"})
	require.NoError(t, err)
	ev = <-events
	require.Equal(t, engine.Event{Type: engine.EventWrite, Collection: "c", ID: "x", Deleted: true}, ev)
	require.EqualValues(t, 2, db.Stats().LocalWrites)
}

func TestClosedDatabaseRefusesWork(t *testing.T) {
	ctx := context.Background()
	e := enginetest.NewEngine(t)
	db, err := e.Create(ctx, "closing")
	require.NoError(t, err)
	require.NoError(t, db.Close())
	_, err = db.Collection("c").InsertOne(ctx, engine.M{})
	require.True(t, errors.Is(err, engine.ErrClosed), "%v", err)
	// It can be reopened.
	db, err = e.Open(ctx, db.Address())
	require.NoError(t, err)
	_, err = db.Collection("c").InsertOne(ctx, engine.M{})
	require.NoError(t, err)
}

func TestCloseEndsEventSubscriptions(t *testing.T) {
	ctx := context.Background()
	e := enginetest.NewEngine(t)
	db, err := e.Create(ctx, "subs")
	require.NoError(t, err)
	events := db.Events(ctx) // a context that never ends
	done := make(chan error, 1)
	go func() { done <- db.Close() }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Close blocked on an event subscription")
	}
	_, open := <-events
	require.False(t, open, "the subscription channel is closed")
}

func TestDropDeletesLocalData(t *testing.T) {
	ctx := context.Background()
	e := enginetest.NewEngine(t)
	db, err := e.Create(ctx, "dropme")
	require.NoError(t, err)
	addr := db.Address()
	_, err = db.Collection("c").InsertOne(ctx, engine.M{"_id": "x"})
	require.NoError(t, err)
	keep, err := e.Create(ctx, "keep")
	require.NoError(t, err)
	_, err = keep.Collection("c").InsertOne(ctx, engine.M{"_id": "y"})
	require.NoError(t, err)

	require.NoError(t, e.Drop(ctx, addr))
	dbs, err := e.Databases(ctx)
	require.NoError(t, err)
	require.Len(t, dbs, 1)
	require.Equal(t, keep.Address(), dbs[0].Address)
	require.ErrorIs(t, e.Drop(ctx, addr), engine.ErrNoDatabase)

	// The manifest is still known: opening again starts from nothing.
	db, err = e.Open(ctx, addr)
	require.NoError(t, err)
	n, err := db.Collection("c").CountDocuments(ctx, nil)
	require.NoError(t, err)
	require.Zero(t, n)
	require.True(t, has(keep.Collection("c"), "y"), "other databases are untouched")
}

func TestIntegralFloatsAreStoredAsIntegers(t *testing.T) {
	ctx := context.Background()
	e := enginetest.NewEngine(t)
	db, err := e.Create(ctx, "floats")
	require.NoError(t, err)
	c := db.Collection("c")
	res, err := c.InsertOne(ctx, engine.M{"_id": 1.0, "n": 2.0, "f": 2.5})
	require.NoError(t, err)
	require.Equal(t, int64(1), res.InsertedID)
	for _, id := range []any{1, 1.0, int64(1)} {
		var d engine.M
		require.NoError(t, c.FindByID(ctx, id).Decode(&d), "%T", id)
		require.Equal(t, engine.M{"_id": int64(1), "n": int64(2), "f": 2.5}, d)
	}
}
