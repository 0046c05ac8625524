package node_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
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
