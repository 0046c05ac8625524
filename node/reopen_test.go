package node_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/internal/poll"
	"github.com/latticedb/lattice/node"
)

// TestRestartAnswersWhileDatabasesReopen: a restarted node serves its API
// before its stored databases are open again. While a database's reopen is
// held (the hook), /v1/id and /v1/health answer, the listing says
// "opening", and a request about it gets 503 "opening" with Retry-After
// (ReopenWait 0) or waits for it (the default ReopenWait) and then answers
// with every document.
func TestRestartAnswersWhileDatabasesReopen(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	withState := func(c *node.Config) { c.StateDir = state }
	a := startNodeIn(t, dir, "127.0.0.1:0", nil, nil, withState)
	db := a.createDB("Big")
	docs := make([]any, 500)
	for i := range docs {
		docs[i] = map[string]any{"_id": fmt.Sprintf("d%04d", i), "title": "todo"}
	}
	a.act("insertMany", db, map[string]any{"documents": docs})
	a.stop()

	count := func(tn *testNode) (int, map[string]any) {
		return tn.do(http.MethodPost, "/v1/action/countDocuments", map[string]any{"database": db, "collection": "todos", "filter": map[string]any{}})
	}
	// restart starts the node again with its reopens held until the
	// returned release runs (also at cleanup, before the node stops).
	restart := func(wait time.Duration) (*testNode, func()) {
		gate, reached := make(chan struct{}), make(chan string, 1)
		tn := startNodeIn(t, dir, "127.0.0.1:0", nil, nil, withState, func(c *node.Config) {
			c.ReopenWait = wait
			node.SetReopenHook(c, func(address string) {
				reached <- address
				<-gate
			})
		})
		var once sync.Once
		release := func() { once.Do(func() { close(gate) }) }
		t.Cleanup(release) // runs before the node's own cleanup stops it
		require.Equal(t, db, <-reached)
		return tn, release
	}

	b, release := restart(0)
	b.ok(200, http.MethodGet, "/v1/id", nil)
	h := b.ok(200, http.MethodGet, "/v1/health", nil)
	require.Equal(t, "opening", h["status"])
	require.Equal(t, "1", fmt.Sprint(h["opening"]))
	entry := listed(b, db)
	require.NotNil(t, entry)
	require.Equal(t, true, entry["opening"])
	require.Equal(t, false, entry["open"])

	status, out := count(b)
	require.Equal(t, http.StatusServiceUnavailable, status, "%v", out)
	require.Equal(t, "opening", errCode(out))
	require.Contains(t, out["error"].(map[string]any)["message"], "still opening")
	res, err := b.client.Post(b.url+"/v1/action/find", "application/json",
		strings.NewReader(`{"database":"`+db+`","collection":"todos"}`))
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
	require.Equal(t, "1", res.Header.Get("Retry-After"))

	release()
	poll.Eventually(t, 60*time.Second, func() error {
		if h := b.ok(200, http.MethodGet, "/v1/health", nil); h["status"] != "ok" {
			return fmt.Errorf("health: %v", h)
		}
		return nil
	})
	out = b.ok(200, http.MethodPost, "/v1/action/countDocuments", map[string]any{"database": db, "collection": "todos", "filter": map[string]any{}})
	require.Equal(t, "500", fmt.Sprint(out["count"]))
	require.Nil(t, listed(b, db)["opening"])
	b.stop()

	// With the default wait, a request that arrives while the database
	// reopens waits for it.
	c, release := restart(node.DefaultConfig().ReopenWait)
	go release()
	status, out = count(c)
	require.Equal(t, 200, status, "%v", out)
	require.Equal(t, "500", fmt.Sprint(out["count"]))
}
