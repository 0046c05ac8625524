package node_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/poll"
)

// TestCompactRoute: POST /v1/databases/compact compacts an open database
// and answers its footprint before and after; GET /v1/databases/stats
// reports the history, the live documents and the snapshot it now stands
// on. Errors are the other routes': a missing field, an unknown database,
// a wrong method, and an archive node's refusal.
func TestCompactRoute(t *testing.T) {
	a := startNode(t)
	db := a.createDB("Compacted")
	for i := 0; i < 30; i++ {
		a.act("insertOne", db, map[string]any{"document": map[string]any{"_id": fmt.Sprintf("d%02d", i), "n": i}})
	}
	for i := 0; i < 30; i += 3 {
		a.act("deleteOne", db, map[string]any{"filter": map[string]any{"_id": fmt.Sprintf("d%02d", i)}})
	}
	// The history is measured once after the database opens.
	var stats map[string]any
	poll.Eventually(t, 0, func() error {
		stats = a.ok(200, "GET", "/v1/databases/stats?database="+db, nil)
		if stats["history"].(map[string]any)["measured"] != true {
			return fmt.Errorf("history not measured yet")
		}
		return nil
	})
	require.Equal(t, json.Number("40"), stats["history"].(map[string]any)["blocks"], "30 inserts, 10 deletes")
	require.Nil(t, stats["lastSnapshot"])
	require.Equal(t, json.Number("20"), stats["documents"])

	out := a.ok(200, "POST", "/v1/databases/compact", map[string]any{"database": db})
	before, after := out["before"].(map[string]any), out["after"].(map[string]any)
	require.Equal(t, json.Number("40"), before["blocks"])
	require.Equal(t, json.Number("30"), after["blocks"], "the deleted documents' inserts go, the graves stay")
	b, _ := before["bytes"].(json.Number).Int64()
	af, _ := after["bytes"].(json.Number).Int64()
	require.Less(t, af, b)

	stats = a.ok(200, "GET", "/v1/databases/stats?database="+db, nil)
	h := stats["history"].(map[string]any)
	require.Equal(t, json.Number("30"), h["blocks"])
	require.Equal(t, json.Number("1"), h["compactions"])
	snap := stats["lastSnapshot"].(map[string]any)
	require.Equal(t, a.e.ID().String(), snap["producer"])
	require.Equal(t, json.Number("40"), snap["height"])
	require.Equal(t, json.Number("40"), snap["covered"])
	require.NotEmpty(t, snap["time"])
	// Still a database: it reads and writes.
	a.act("insertOne", db, map[string]any{"document": map[string]any{"_id": "after"}})
	require.Equal(t, json.Number("21"), a.act("countDocuments", db, map[string]any{})["count"])

	status, body := a.do("POST", "/v1/databases/compact", map[string]any{})
	require.Equal(t, 400, status)
	require.Equal(t, "bad_request", errCode(body))
	status, _ = a.do("GET", "/v1/databases/compact", nil)
	require.Equal(t, 405, status)

	arch := startNodeWith(t, []engine.Option{engine.WithArchive()})
	adb := arch.createDB("Archived")
	status, body = a.do("POST", "/v1/databases/compact", map[string]any{"database": adb})
	require.Equal(t, 404, status, "not on this node: %v", body)
	status, body = arch.do("POST", "/v1/databases/compact", map[string]any{"database": adb})
	require.Equal(t, 409, status)
	require.Equal(t, "archive", errCode(body))
}
