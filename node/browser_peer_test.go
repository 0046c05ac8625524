package node_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/poll"
	"github.com/latticedb/lattice/internal/wasmtest"
	"github.com/latticedb/lattice/node"
)

// peerAssets builds the browser peer (cmd/lattice-peer) and returns a
// directory with lattice.wasm and wasm_exec.js, as scripts/build-peer.sh
// makes it.
func peerAssets(t *testing.T) string {
	t.Helper()
	bin := wasmtest.BuildProgram(t, "../cmd/lattice-peer")
	dir := t.TempDir()
	wasm, err := os.ReadFile(bin)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "lattice.wasm"), wasm, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "wasm_exec.js"), wasmtest.WasmExecJS(t), 0o644))
	return dir
}

// The browser peer at /peer/ joins a list from a link: the page holds a
// replica in its own IndexedDB, a to-do added in the page reaches the Go
// node and one added on the node reaches the page, and after the node has
// stopped a reload still shows both, from the browser's store. The page
// comes from another node acting as a static host (any static host can
// serve it; the link says whom to dial), so that it still loads when the
// list's node is gone.
func TestBrowserPeer(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	wasmtest.Chromium(t)
	assets := peerAssets(t)
	br := startBrowser(t)
	tn := startNodeWith(t, []engine.Option{engine.WithListenAddrs(testListen, "/ip4/127.0.0.1/tcp/0/ws")})
	static := startNode(t, func(c *node.Config) { c.PeerAssets = os.DirFS(assets) })
	list := tn.createDB("TodoList")
	inv := tn.ok(200, "POST", "/v1/invites", map[string]any{"database": list, "collection": "todos", "title": "Groceries"})
	link := inv["link"].(string)
	require.Regexp(t, `&addr=/ip4/127\.0\.0\.1/tcp/\d+/ws&`, link, "a browser peer needs the node's WebSocket address")
	require.Nil(t, inv["peer"], "a node without the browser peer's assets offers no /peer/ link")
	peerLink := static.ok(200, "POST", "/v1/invites", map[string]any{"database": static.createDB("Other"), "collection": "todos"})["peer"].(string)
	require.Regexp(t, `^http://127\.0\.0\.1:\d+/peer/#join=lattice`, peerLink)

	page := br.page(t)
	peerRunOn(t, page,
		chromedp.Navigate(static.url+"/peer/#join="+url.QueryEscape(link)),
		until(`document.body.dataset.ready === "true"`),
	)
	require.Equal(t, "Groceries", textOn(t, page, chromedp.Text("#list-title")))

	// Page -> node.
	peerRunOn(t, page,
		chromedp.SendKeys("#new-title", "oat milk"),
		chromedp.Click("#add-form button"),
		hasTodoAction("oat milk", false),
	)
	poll.Eventually(t, 30*time.Second, func() error {
		out := tn.act("find", list, map[string]any{"filter": map[string]any{"title": "oat milk"}})
		if docs, _ := out["documents"].([]any); len(docs) != 1 {
			return fmt.Errorf("the node holds %v", out)
		}
		return nil
	})

	// Node -> page.
	tn.act("insertOne", list, map[string]any{"document": map[string]any{"title": "bread", "isDone": false, "createdAt": time.Now().UnixMilli()}})
	peerRunOn(t, page, hasTodoAction("bread", false))

	// How long a write in the page takes to be readable on the node (the
	// issue asks for 200 ms on loopback): ten writes, one at a time.
	var lat []time.Duration
	for i := 0; i < 10; i++ {
		title := fmt.Sprintf("timed %d", i)
		start := time.Now()
		textOn(t, page, chromedp.Evaluate[string](fmt.Sprintf(`latticeApp.todos.insertOne({title: %q, isDone: false, createdAt: Date.now()}).then(() => "ok")`, title), chromedp.EvalAwaitPromise))
		poll.Eventually(t, 30*time.Second, func() error {
			out := tn.act("countDocuments", list, map[string]any{"filter": map[string]any{"title": title}})
			if fmt.Sprint(out["count"]) != "1" {
				return fmt.Errorf("not on the node yet")
			}
			return nil
		})
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	t.Logf("a write in the page readable on the node after %s (median of 10; min %s, max %s; polled every %s)", lat[5], lat[0], lat[9], poll.Interval)

	// The node goes away; the page reloads from its own store.
	tn.stop()
	peerRunOn(t, page,
		chromedp.Reload(),
		until(`document.body.dataset.ready === "true"`),
		hasTodoAction("oat milk", false),
		hasTodoAction("bread", false),
	)
}

// peerRunOn runs steps on the peer's page within a deadline; on failure it
// logs what the page shows.
func peerRunOn(t *testing.T, page context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(page, 45*time.Second)
	defer cancel()
	err := chromedp.Do(ctx, steps...)
	if err != nil {
		dump, _ := chromedp.Run(page, chromedp.Evaluate[string](`JSON.stringify({message: document.querySelector("#message")?.textContent, status: document.querySelector("#status-text")?.textContent, todos: [...document.querySelectorAll(".todo")].map(li => li.textContent), ready: document.body.dataset.ready})`))
		t.Logf("page: %s", dump)
	}
	require.NoError(t, err)
}
