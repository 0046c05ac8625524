package node_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/node"
)

// listed returns the entry of GET /v1/databases for address, or nil.
func listed(tn *testNode, address string) map[string]any {
	tn.t.Helper()
	for _, d := range tn.ok(200, "GET", "/v1/databases", nil)["databases"].([]any) {
		if m := d.(map[string]any); m["address"] == address {
			return m
		}
	}
	return nil
}

// TestLeaveKeepsData: leaving closes the database and marks it left, its
// data kept; actions on it are refused with a sentence saying so; opening
// it again brings it back with its documents.
func TestLeaveKeepsData(t *testing.T) {
	state := t.TempDir()
	a := startNode(t, func(c *node.Config) { c.StateDir = state })
	db := a.createDB("Errands")
	a.act("insertOne", db, map[string]any{"document": map[string]any{"_id": "x", "title": "post the letter"}})

	out := a.ok(200, "POST", "/v1/databases/leave", map[string]any{"address": db})
	require.Equal(t, map[string]any{"address": db, "forgotten": false}, out)
	entry := listed(a, db)
	require.NotNil(t, entry, "a left database is still listed")
	require.Equal(t, true, entry["left"])
	require.Equal(t, false, entry["open"])
	_, open := a.e.Database(db)
	require.False(t, open, "the engine still has it open")

	status, out := a.do("POST", "/v1/action/find", map[string]any{"database": db, "collection": "todos"})
	require.Equal(t, http.StatusNotFound, status)
	require.Equal(t, "not_found", errCode(out))
	require.Contains(t, out["error"].(map[string]any)["message"], "was left on this node")

	// A node started again on the same engine and state does not reopen
	// it; opening it again brings it back, documents and all.
	require.NoError(t, a.n.Close())
	cfg := node.DefaultConfig()
	cfg.StateDir = state
	n2, err := node.New(context.Background(), a.e, cfg)
	require.NoError(t, err)
	defer n2.Close()
	serve := func(method, path, body string) string {
		t.Helper()
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.RemoteAddr, req.Host = "127.0.0.1:1", "127.0.0.1"
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		n2.Handler().ServeHTTP(rec, req)
		require.Equal(t, 200, rec.Code, "%s %s: %s", method, path, rec.Body.String())
		return rec.Body.String()
	}
	require.Contains(t, serve("GET", "/v1/databases", ""), `"left":true`)
	_, open = a.e.Database(db)
	require.False(t, open, "a new node reopened a left database")

	serve("POST", "/v1/databases/open", `{"address":"`+db+`"}`)
	require.NotContains(t, serve("GET", "/v1/databases", ""), `"left"`, "opening again clears left")
	require.Contains(t, serve("POST", "/v1/action/findOne", `{"database":"`+db+`","collection":"todos","filter":{"_id":"x"}}`), "post the letter")
}

// TestLeaveForget: leaving with forget deletes the local data; the
// database is no longer listed, and actions on it say it is not here.
func TestLeaveForget(t *testing.T) {
	a := startNode(t)
	db := a.createDB("Errands")
	keep := a.createDB("Groceries")
	a.act("insertOne", db, map[string]any{"document": map[string]any{"title": "post the letter"}})

	out := a.ok(200, "POST", "/v1/databases/leave", map[string]any{"address": db, "forget": true})
	require.Equal(t, true, out["forgotten"])
	require.Nil(t, listed(a, db))
	require.NotNil(t, listed(a, keep), "another database went too")
	status, out := a.do("POST", "/v1/action/find", map[string]any{"database": db, "collection": "todos"})
	require.Equal(t, http.StatusNotFound, status)
	require.Equal(t, "not_found", errCode(out))
}

// TestLeaveErrors: a missing, malformed or unknown address gets a 4xx
// naming the problem.
func TestLeaveErrors(t *testing.T) {
	a := startNode(t)
	db := a.createDB("Errands")
	unknown := strings.Replace(db, "/Errands", "/Other", 1)
	for _, c := range []struct {
		body   string
		status int
		code   string
		says   string
	}{
		{`{}`, 400, "bad_request", `missing field "address"`},
		{`{"address":"/lattice/nope/X"}`, 400, "bad_address", "nope"},
		{`{"address":"` + unknown + `"}`, 404, "not_found", "is not on this node"},
		{`{"address":"` + db + `","forget":"yes"}`, 400, "bad_request", "forget"},
	} {
		status, out := a.do("POST", "/v1/databases/leave", c.body)
		require.Equal(t, c.status, status, "%s: %v", c.body, out)
		require.Equal(t, c.code, errCode(out), c.body)
		msg, _ := out["error"].(map[string]any)["message"].(string)
		require.Contains(t, msg, c.says, c.body)
	}
	require.NotNil(t, listed(a, db), "a refused leave left the database")
}
