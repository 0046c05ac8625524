package node_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Over HTTP, the review's regex case: a costly pattern on one large
// document answers within its maxTimeMS as a timeout (504), instead of
// after 13 s; in a write's filter, the write path's regex work budget
// stops it, and the answer names the bound (400 limit_exceeded).
func TestRegexOverLargeDocumentHTTP(t *testing.T) {
	a := startNode(t)
	db := a.createDB("Regex")
	a.act("insertOne", db, map[string]any{"document": map[string]any{"_id": "big", "s": strings.Repeat("a", 400<<10)}})
	slow := map[string]any{"s": map[string]any{"$regex": "(a{1,20}){1,20}c"}}

	status, out := a.do(http.MethodPost, "/v1/action/find", map[string]any{"database": db, "collection": "todos", "filter": slow, "maxTimeMS": 50})
	require.Equal(t, http.StatusGatewayTimeout, status, "%v", out)
	require.Equal(t, "timeout", errCode(out))

	status, out = a.do(http.MethodPost, "/v1/action/updateMany", map[string]any{"database": db, "collection": "todos", "filter": slow, "update": map[string]any{"$set": map[string]any{"x": 1}}})
	require.Equal(t, http.StatusBadRequest, status, "%v", out)
	require.Equal(t, "limit_exceeded", errCode(out))
	require.Contains(t, out["error"].(map[string]any)["message"], "RegexWork")
}
