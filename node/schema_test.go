package node_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/internal/enginetest"
)

// TestSchemasOnCreate: "schemas" on POST /v1/databases makes every write
// that would leave a document invalid fail with 400 bad_document naming
// the place and the rule; a schema field-level merge could break is
// refused with 400 bad_request naming the keyword.
func TestSchemasOnCreate(t *testing.T) {
	tn := startNode(t)
	schemas := map[string]any{"todos": map[string]any{
		"type":       "object",
		"properties": map[string]any{"title": map[string]any{"type": "string", "maxLength": 1000}, "isDone": map[string]any{"type": "boolean"}},
		"required":   []any{"title"},
	}}
	out := tn.ok(http.StatusCreated, http.MethodPost, "/v1/databases", map[string]any{"name": "Todo", "access": map[string]any{"type": "open"}, "schemas": schemas})
	db := out["address"].(string)
	plain := tn.ok(http.StatusCreated, http.MethodPost, "/v1/databases", map[string]any{"name": "Todo", "access": map[string]any{"type": "open"}})
	require.NotEqual(t, db, plain["address"], "the address pins the schemas")

	tn.act("insertOne", db, map[string]any{"document": map[string]any{"_id": "a", "title": "milk", "isDone": false}})
	for _, c := range []struct {
		action string
		body   map[string]any
		want   string
	}{
		{"insertOne", map[string]any{"document": map[string]any{"title": strings.Repeat("x", 1001)}}, "at /title: maxLength"},
		{"insertOne", map[string]any{"document": map[string]any{"isDone": true}}, "required"},
		{"updateOne", map[string]any{"filter": map[string]any{"_id": "a"}, "update": map[string]any{"$set": map[string]any{"isDone": "yes"}}}, "at /isDone: type"},
	} {
		status, out := tn.do(http.MethodPost, "/v1/action/"+c.action, map[string]any{"database": db, "collection": "todos", "document": c.body["document"], "filter": c.body["filter"], "update": c.body["update"]})
		require.Equal(t, http.StatusBadRequest, status, "%v", out)
		require.Equal(t, "bad_document", errCode(out))
		require.Contains(t, out["error"].(map[string]any)["message"], c.want)
	}
	count := tn.act("countDocuments", db, map[string]any{"filter": map[string]any{}})["count"]
	require.Equal(t, "1", fmt.Sprint(count))

	status, out := tn.do(http.MethodPost, "/v1/databases", map[string]any{"name": "Bad", "schemas": map[string]any{"todos": map[string]any{"anyOf": []any{}}}})
	require.Equal(t, http.StatusBadRequest, status, "%v", out)
	require.Equal(t, "bad_request", errCode(out))
	require.Contains(t, out["error"].(map[string]any)["message"], `keyword "anyOf"`)
}

// TestSchemaChangeOverHTTP: POST /v1/databases/schema changes a
// collection's schema on a dynamic database: later writes are judged by
// it (400 bad_document naming the place and the rule), GET answers the
// version and the schema, a non-admin gets 403, an unusable schema 400
// bad_request naming the keyword, and a database that is not dynamic 400.
func TestSchemaChangeOverHTTP(t *testing.T) {
	a, b := startNode(t), startNode(t)
	enginetest.ConnectAll(t, a.e, b.e)
	out := a.ok(http.StatusCreated, http.MethodPost, "/v1/databases", map[string]any{
		"name": "Todo", "access": map[string]any{"type": "dynamic", "admins": []string{a.e.ID().String()}},
	})
	db := out["address"].(string)
	a.act("insertOne", db, map[string]any{"document": map[string]any{"_id": "old", "title": "a title of forty characters, more or less"}})

	schema := map[string]any{"type": "object", "properties": map[string]any{"title": map[string]any{"type": "string", "maxLength": 10}}}
	out = a.ok(http.StatusOK, http.MethodPost, "/v1/databases/schema", map[string]any{"database": db, "collection": "todos", "schema": schema})
	require.Equal(t, "todos", out["collection"])
	require.NotZero(t, out["version"])
	require.Equal(t, a.e.ID().String(), out["issuer"])
	got := a.ok(http.StatusOK, http.MethodGet, "/v1/databases/schema?database="+url.QueryEscape(db)+"&collection=todos", nil)
	require.Equal(t, out, got)
	require.Equal(t, "0", fmt.Sprint(a.ok(http.StatusOK, http.MethodGet, "/v1/databases/schema?database="+url.QueryEscape(db)+"&collection=notes", nil)["version"]))

	status, res := a.do(http.MethodPost, "/v1/action/insertOne", map[string]any{"database": db, "collection": "todos", "document": map[string]any{"title": "far too long a title"}})
	require.Equal(t, http.StatusBadRequest, status, "%v", res)
	require.Equal(t, "bad_document", errCode(res))
	require.Contains(t, res["error"].(map[string]any)["message"], "at /title: maxLength")
	count := a.act("countDocuments", db, map[string]any{"filter": map[string]any{}})["count"]
	require.Equal(t, "1", fmt.Sprint(count), "the document stored before stays")

	b.ok(http.StatusOK, http.MethodPost, "/v1/databases/open", map[string]any{"address": db})
	status, res = b.do(http.MethodPost, "/v1/databases/schema", map[string]any{"database": db, "collection": "todos", "schema": true})
	require.Equal(t, http.StatusForbidden, status, "%v", res)

	status, res = a.do(http.MethodPost, "/v1/databases/schema", map[string]any{"database": db, "collection": "todos", "schema": map[string]any{"oneOf": []any{}}})
	require.Equal(t, http.StatusBadRequest, status, "%v", res)
	require.Equal(t, "bad_request", errCode(res))
	require.Contains(t, res["error"].(map[string]any)["message"], `keyword "oneOf"`)
	status, res = a.do(http.MethodPost, "/v1/databases/schema", map[string]any{"database": db, "collection": "todos"})
	require.Equal(t, http.StatusBadRequest, status, "%v", res)
	require.Contains(t, res["error"].(map[string]any)["message"], `missing field "schema"`)

	open := a.ok(http.StatusCreated, http.MethodPost, "/v1/databases", map[string]any{"name": "Open", "access": map[string]any{"type": "open"}})["address"].(string)
	status, res = a.do(http.MethodPost, "/v1/databases/schema", map[string]any{"database": open, "collection": "todos", "schema": true})
	require.Equal(t, http.StatusBadRequest, status, "%v", res)
	require.Contains(t, res["error"].(map[string]any)["message"], "schema changes need a dynamic controller")
}
