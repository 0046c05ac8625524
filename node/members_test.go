package node_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/internal/enginetest"
	"github.com/latticedb/lattice/internal/poll"
)

// TestSealedOverHTTP: "sealed": true on POST /v1/databases is echoed there
// and in GET /v1/databases; a peer that is no reader gets 403 from reads;
// granting it "reader" by peer ID lets it read; GET /v1/members lists the
// roles; revoking takes it out.
func TestSealedOverHTTP(t *testing.T) {
	a, b := startNode(t), startNode(t)
	enginetest.ConnectAll(t, a.e, b.e)

	out := a.ok(http.StatusCreated, http.MethodPost, "/v1/databases", map[string]any{
		"name": "private", "sealed": true,
		"access": map[string]any{"type": "dynamic", "admins": []string{a.e.ID().String()}},
	})
	require.Equal(t, true, out["sealed"])
	db := out["address"].(string)
	list := a.ok(http.StatusOK, http.MethodGet, "/v1/databases", nil)["databases"].([]any)
	require.Equal(t, true, list[0].(map[string]any)["sealed"])
	a.act("insertOne", db, map[string]any{"document": map[string]any{"_id": "x", "secret": "milk"}})

	out = b.ok(http.StatusOK, http.MethodPost, "/v1/databases/open", map[string]any{"address": db})
	require.Equal(t, true, out["sealed"])
	status, out := b.do(http.MethodPost, "/v1/action/find", map[string]any{"database": db, "collection": "todos"})
	require.Equal(t, http.StatusForbidden, status, "%v", out)
	require.Equal(t, "forbidden", errCode(out))
	require.Contains(t, fmt.Sprint(out), "not a reader of this database")

	grant := map[string]any{"database": db, "peer": b.e.ID().String(), "role": "reader"}
	out = a.ok(http.StatusOK, http.MethodPost, "/v1/members/grant", grant)
	require.Len(t, out["members"], 2)
	members := a.ok(http.StatusOK, http.MethodGet, "/v1/members?database="+db, nil)["members"].([]any)
	roles := map[string]any{}
	for _, m := range members {
		mm := m.(map[string]any)
		roles[mm["peerId"].(string)] = mm["roles"]
	}
	require.Equal(t, []any{"admin", "reader", "writer"}, roles[a.e.ID().String()])
	require.Equal(t, []any{"reader"}, roles[b.e.ID().String()])

	poll.Eventually(t, 20*time.Second, func() error {
		status, out := b.do(http.MethodPost, "/v1/action/findOne", map[string]any{"database": db, "collection": "todos", "filter": map[string]any{"_id": "x"}})
		if status != http.StatusOK || out["document"] == nil {
			return fmt.Errorf("b: %d %v", status, out)
		}
		return nil
	})
	// A reader cannot write.
	status, out = b.do(http.MethodPost, "/v1/action/insertOne", map[string]any{"database": db, "collection": "todos", "document": map[string]any{"_id": "y"}})
	require.Equal(t, http.StatusForbidden, status, "%v", out)

	out = a.ok(http.StatusOK, http.MethodPost, "/v1/members/revoke", grant)
	require.Len(t, out["members"], 1)
	status, out = a.do(http.MethodPost, "/v1/members/grant", map[string]any{"database": db, "peer": b.e.ID().String(), "role": "owner"})
	require.Equal(t, http.StatusBadRequest, status, "%v", out)
}
