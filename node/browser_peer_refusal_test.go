package node_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/poll"
	"github.com/latticedb/lattice/internal/wasmtest"
	"github.com/latticedb/lattice/node"
)

// TestBrowserPeerRefusals (issue 22): the browser peer says what went
// wrong in words. A page given a link that is not an invite says it
// cannot be joined; a page on a list it may read but not write shows the
// list, and an add is refused with the controller's reason, leaving the
// list as it was on both sides.
func TestBrowserPeerRefusals(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	br, tn, _ := peerBed(t)

	t.Run("BadLink", func(t *testing.T) {
		page := br.page(t)
		bad := "lattice://join?peer=not-a-peer&addr=/ip4/127.0.0.1/tcp/1/ws&db=/lattice/x/y"
		peerRunOn(t, page,
			chromedp.Navigate(tn.url+"/peer/#join="+url.QueryEscape(bad)),
			until(`document.querySelector("#status-text").textContent === "Bad link"`),
		)
		msg := textOn(t, page, chromedp.Text("#message"))
		require.True(t, strings.HasPrefix(msg, "This link cannot be joined: "), msg)
		require.Contains(t, msg, "peer", "the message names what is wrong: %s", msg)
	})

	t.Run("NotAWriter", func(t *testing.T) {
		out := tn.ok(http.StatusCreated, http.MethodPost, "/v1/databases", map[string]any{
			"name": "ReadOnly", "access": map[string]any{"type": "static", "writers": []string{tn.e.ID().String()}},
		})
		list := out["address"].(string)
		tn.act("insertOne", list, map[string]any{"document": map[string]any{"_id": "r1", "title": "read me", "isDone": false, "createdAt": 1}})
		link := tn.ok(http.StatusOK, http.MethodPost, "/v1/invites", map[string]any{"database": list, "collection": "todos"})["link"].(string)
		page := br.page(t)
		peerRunOn(t, page,
			chromedp.Navigate(tn.url+"/peer/#join="+url.QueryEscape(link)),
			until(`document.body.dataset.ready === "true"`),
			hasTodoAction("read me", false),
			chromedp.SendKeys("#new-title", "not allowed"),
			chromedp.Click("#add-form button"),
			until(`document.querySelector("#message").textContent.startsWith("Not saved: ")`),
		)
		msg := textOn(t, page, chromedp.Text("#message"))
		require.Contains(t, msg, "not a writer of this database", msg)
		require.Equal(t, "1", textOn(t, page, chromedp.Text("#count")), "the refused to-do shows in the page")
		n := tn.act("countDocuments", list, map[string]any{"filter": map[string]any{}})["count"]
		require.Equal(t, "1", fmt.Sprint(n), "the refused to-do reached the node")
	})
}

// TestBrowserPeersSyncThroughANode (issue 22): two pages, each a peer of
// its own (loaded from two origins, so each has its own IndexedDB and
// identity), join one list from a node and sync with each other through
// it: what one page adds, the other shows, both ways.
func TestBrowserPeersSyncThroughANode(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	br, tn, other := peerBed(t)
	list := tn.createDB("Shared")
	link := tn.ok(http.StatusOK, http.MethodPost, "/v1/invites", map[string]any{"database": list, "collection": "todos"})["link"].(string)

	pages := []context.Context{br.page(t), br.page(t)}
	for i, origin := range []string{tn.url, other.url} {
		peerRunOn(t, pages[i],
			chromedp.Navigate(origin+"/peer/#join="+url.QueryEscape(link)),
			until(`document.body.dataset.ready === "true"`),
		)
	}
	ids := [2]string{}
	for i, p := range pages {
		ids[i] = textOn(t, p, chromedp.Text("#peer-id"))
	}
	require.NotEqual(t, ids[0], ids[1], "the two pages share an identity")
	// Each page's peer runs in a Web Worker of its own, not on the page.
	infos, err := chromedp.Targets(pages[0])
	require.NoError(t, err)
	workers := 0
	for _, info := range infos {
		if info.Type == "worker" && strings.HasSuffix(info.URL, "/peer/lattice-worker.js") {
			workers++
		}
	}
	require.Equal(t, 2, workers, "pages' peers in workers")
	require.Equal(t, "undefined", textOn(t, pages[0], chromedp.Evaluate[string](`typeof latticeGo`)))

	for i, title := range []string{"from the first page", "from the second page"} {
		peerRunOn(t, pages[i],
			chromedp.SendKeys("#new-title", title),
			chromedp.Click("#add-form button"),
			hasTodoAction(title, false),
		)
		peerRunOn(t, pages[1-i], hasTodoAction(title, false))
	}
}

// TestBrowserPeerRedeemsAnInvite (issues 20 and 22): the phone's flow on a
// sealed list. The page joins from a link whose one-time key makes its
// peer a member: it reads the sealed list and writes to it. A second page
// given the same link is told the invite was already used, and reads
// nothing.
func TestBrowserPeerRedeemsAnInvite(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	br, tn, other := peerBed(t)
	out := tn.ok(http.StatusCreated, http.MethodPost, "/v1/databases", map[string]any{
		"name": "Private", "sealed": true,
		"access": map[string]any{"type": "dynamic", "admins": []string{tn.e.ID().String()}},
	})
	list := out["address"].(string)
	tn.act("insertOne", list, map[string]any{"document": map[string]any{"_id": "s1", "title": "sealed to-do", "isDone": false, "createdAt": 1}})
	link := tn.ok(http.StatusOK, http.MethodPost, "/v1/invites", map[string]any{"database": list, "collection": "todos"})["link"].(string)
	require.Contains(t, link, "&key=")

	page := br.page(t)
	peerRunOn(t, page,
		chromedp.Navigate(tn.url+"/peer/#join="+url.QueryEscape(link)),
		until(`document.body.dataset.ready === "true"`),
		hasTodoAction("sealed to-do", false),
		chromedp.SendKeys("#new-title", "from the phone"),
		chromedp.Click("#add-form button"),
		hasTodoAction("from the phone", false),
	)
	waitDoc := func() error {
		n := tn.act("countDocuments", list, map[string]any{"filter": map[string]any{"title": "from the phone"}})["count"]
		if fmt.Sprint(n) != "1" {
			return fmt.Errorf("the node holds %v copies of the page's to-do", n)
		}
		return nil
	}
	poll.Eventually(t, 30*time.Second, waitDoc)

	second := br.page(t)
	peerRunOn(t, second,
		chromedp.Navigate(other.url+"/peer/#join="+url.QueryEscape(link)),
		until(`document.querySelector("#status-text").textContent === "Invite refused"`),
	)
	msg := textOn(t, second, chromedp.Text("#message"))
	require.Contains(t, msg, "already used", msg)
	require.Equal(t, "", textOn(t, second, chromedp.Evaluate[string](`[...document.querySelectorAll(".todo")].map(li => li.textContent).join(",")`)))
}

// peerBed starts what the browser peer's tests need: Chromium, a node
// that serves the peer's page and listens on WebSocket (the inviter), and
// a second node serving the page from another origin (a page of its own,
// with its own IndexedDB and identity).
func peerBed(t *testing.T) (br *browser, inviter, other *testNode) {
	t.Helper()
	wasmtest.Chromium(t)
	assets := peerAssets(t)
	br = startBrowser(t)
	inviter = startNodeWith(t, []engine.Option{engine.WithListenAddrs(testListen, "/ip4/127.0.0.1/tcp/0/ws")},
		func(c *node.Config) { c.PeerAssets = os.DirFS(assets) })
	other = startNode(t, func(c *node.Config) { c.PeerAssets = os.DirFS(assets) })
	return br, inviter, other
}
