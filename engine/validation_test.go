package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/enginetest"
	"github.com/latticedb/lattice/internal/poll"
	"github.com/latticedb/lattice/plugins"
	"github.com/latticedb/lattice/validation"
)

var todoSchemas = map[string]json.RawMessage{"todos": json.RawMessage(`{
	"type": "object",
	"properties": {
		"title": {"type": "string", "maxLength": 1000},
		"isDone": {"type": "boolean"},
		"votes": {"type": "integer", "minimum": 0, "maximum": 10},
		"tags": {"type": "array", "items": {"type": "string"}}
	},
	"required": ["title"]
}`)}

// TestSchemaRefusesLocalWrites: a write that would leave a document
// invalid fails whole, with an error naming the place and the rule, and
// nothing of it is stored.
func TestSchemaRefusesLocalWrites(t *testing.T) {
	ctx := context.Background()
	e := enginetest.NewEngine(t)
	db, err := e.Create(ctx, "schema", engine.WithSchemas(todoSchemas))
	require.NoError(t, err)
	todos := db.Collection("todos")
	_, err = todos.InsertOne(ctx, engine.M{"_id": "milk", "title": "milk", "isDone": false, "votes": 1})
	require.NoError(t, err)

	long := strings.Repeat("x", 1001)
	refused := func(err error, place string) {
		t.Helper()
		require.ErrorIs(t, err, engine.ErrBadDocument)
		require.ErrorIs(t, err, validation.ErrInvalid)
		require.ErrorContains(t, err, place)
	}
	_, err = todos.InsertOne(ctx, engine.M{"_id": "long", "title": long})
	refused(err, "at /title: maxLength")
	_, err = todos.InsertOne(ctx, engine.M{"_id": "untitled", "isDone": true})
	refused(err, "required")
	_, err = todos.InsertMany(ctx, []any{engine.M{"_id": "ok1", "title": "a"}, engine.M{"_id": "bad", "title": 5}})
	refused(err, "at /title: type")
	_, err = todos.UpdateOne(ctx, engine.M{"_id": "milk"}, engine.M{"$set": engine.M{"title": long}})
	refused(err, "at /title")
	_, err = todos.UpdateOne(ctx, engine.M{"_id": "milk"}, engine.M{"$inc": engine.M{"votes": 20}})
	refused(err, "at /votes: maximum")
	_, err = todos.UpdateOne(ctx, engine.M{"_id": "milk"}, engine.M{"$unset": engine.M{"title": ""}})
	refused(err, "required")
	_, err = todos.UpdateOne(ctx, engine.M{"_id": "milk"}, engine.M{"$addToSet": engine.M{"tags": 7}})
	refused(err, "at /tags/0: type")
	_, err = todos.UpdateOne(ctx, engine.M{"_id": "new"}, engine.M{"$set": engine.M{"isDone": true}}, engine.Upsert(true))
	refused(err, "required")

	// Nothing refused was stored; the valid document is as it was.
	n, err := todos.CountDocuments(ctx, nil)
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	var got map[string]any
	require.NoError(t, todos.FindByID(ctx, "milk").Decode(&got))
	require.Equal(t, map[string]any{"_id": "milk", "title": "milk", "isDone": false, "votes": int64(1)}, got)

	// Valid writes pass; a collection without a schema takes anything.
	_, err = todos.UpdateOne(ctx, engine.M{"_id": "milk"}, engine.M{"$set": engine.M{"isDone": true}, "$addToSet": engine.M{"tags": "shop"}})
	require.NoError(t, err)
	_, err = db.Collection("notes").InsertOne(ctx, engine.M{"title": 5})
	require.NoError(t, err)
}

// TestCreateRefusesUnsafeSchemas: a schema that field-level merge could
// break, or a validator the registry does not know, never becomes a
// database.
func TestCreateRefusesUnsafeSchemas(t *testing.T) {
	ctx := context.Background()
	e := enginetest.NewEngine(t)
	_, err := e.Create(ctx, "oneof", engine.WithSchemas(map[string]json.RawMessage{
		"todos": json.RawMessage(`{"oneOf": [{"required": ["a"]}, {"required": ["b"]}]}`),
	}))
	require.ErrorIs(t, err, engine.ErrBadManifest)
	require.ErrorIs(t, err, validation.ErrBadSchema)
	require.ErrorContains(t, err, `keyword "oneOf"`)

	_, err = e.Create(ctx, "xsd", engine.WithValidator(validation.Config{Type: "xsd"}))
	require.ErrorIs(t, err, plugins.ErrUnknownPlugin)
	dbs, err := e.Databases(ctx)
	require.NoError(t, err)
	require.Empty(t, dbs)
}

// schemalessRegistry builds a modified peer: the real access controllers,
// but a "jsonschema" validator that accepts everything, so it writes what
// honest peers would refuse and signs it properly.
func schemalessRegistry(t *testing.T) *plugins.Registry {
	t.Helper()
	r := plugins.NewRegistry()
	for typ, f := range map[string]plugins.AccessFactory{
		accesscontrol.TypeOpen: accesscontrol.NewOpen, accesscontrol.TypeStatic: accesscontrol.NewStatic,
		accesscontrol.TypeDynamic: accesscontrol.NewDynamic, accesscontrol.TypeToken: accesscontrol.NewToken,
	} {
		require.NoError(t, r.RegisterAccess(typ, f))
	}
	require.NoError(t, r.RegisterValidator(validation.TypeJSONSchema, func(json.RawMessage) (validation.Validator, error) {
		return validation.Open{}, nil
	}))
	return r
}

// TestSchemaRefusesRemoteInvalidDeltas: a peer that bypasses the local
// checks writes documents the schema forbids; no honest replica merges
// them (each counts the refusal), and honest writes keep replicating.
func TestSchemaRefusesRemoteInvalidDeltas(t *testing.T) {
	ctx := context.Background()
	a, b := enginetest.NewEngine(t), enginetest.NewEngine(t)
	rogue := enginetest.NewEngine(t, engine.WithRegistry(schemalessRegistry(t)))
	enginetest.ConnectAll(t, a, b, rogue)

	dbA, err := a.Create(ctx, "schema", engine.WithAccess(accesscontrol.Open()), engine.WithSchemas(todoSchemas))
	require.NoError(t, err)
	dbB, dbR := enginetest.Open(t, b, dbA.Address()), enginetest.Open(t, rogue, dbA.Address())
	ca, cb, cr := dbA.Collection("todos"), dbB.Collection("todos"), dbR.Collection("todos")

	// The rogue stores each locally (its check is gone) and sends it.
	for i, doc := range []engine.M{
		{"_id": "long", "title": strings.Repeat("x", 1001)},
		{"_id": "typed", "title": 5},
		{"_id": "voted", "title": "v", "votes": -3},
	} {
		_, err := cr.InsertOne(ctx, doc)
		require.NoError(t, err, "rogue write %d", i)
	}
	_, err = ca.InsertOne(ctx, engine.M{"_id": "from-a", "title": "a"})
	require.NoError(t, err)
	_, err = cb.InsertOne(ctx, engine.M{"_id": "from-b", "title": "b"})
	require.NoError(t, err)
	settledAmong(t, []string{"from-a", "from-b"}, ca, cb)
	poll.Eventually(t, 30*time.Second, func() error {
		if n := dbA.Stats().Invalid + dbB.Stats().Invalid; n == 0 {
			return fmt.Errorf("no honest replica has judged the rogue's deltas yet")
		}
		return nil
	})
	for _, c := range []*engine.Collection{ca, cb} {
		for _, id := range []string{"long", "typed", "voted"} {
			require.False(t, has(c, id), "an honest replica merged the invalid %q", id)
		}
	}
}
