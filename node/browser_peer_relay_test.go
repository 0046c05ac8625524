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
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/poll"
	"github.com/latticedb/lattice/internal/wasmtest"
	"github.com/latticedb/lattice/node"
	"github.com/latticedb/lattice/transports/relay"
)

// TestBrowserPeersSyncThroughARelay (issue 22): two pages on one list sync
// with each other through a node they can reach only through a circuit
// relay, as a phone reaches a laptop behind a NAT. The node listens on TCP
// only (a page dials nothing but WebSocket) and holds a reservation on a
// relay that listens on WebSocket too, so the one address of the invite
// link a page can use is the relay's circuit to the node. Every
// connection between the node and the pages is relayed.
func TestBrowserPeersSyncThroughARelay(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	wasmtest.Chromium(t)
	assets := peerAssets(t)
	br := startBrowser(t)
	r, err := relay.Start(relay.Config{Listen: []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/tcp/0/ws"}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	tn := startNodeWith(t, []engine.Option{engine.WithRelays(r.AddrInfo())},
		func(c *node.Config) { c.PeerAssets = os.DirFS(assets) })
	other := startNode(t, func(c *node.Config) { c.PeerAssets = os.DirFS(assets) })
	list := tn.createDB("Shared")

	var link string
	poll.Eventually(t, 30*time.Second, func() error {
		link = tn.ok(http.StatusOK, http.MethodPost, "/v1/invites", map[string]any{"database": list, "collection": "todos"})["link"].(string)
		if !strings.Contains(link, "/ws/p2p/"+r.ID().String()+"/p2p-circuit") {
			return fmt.Errorf("no circuit through the relay's WebSocket in %s", link)
		}
		return nil
	})
	for _, a := range tn.e.Host().Network().ListenAddresses() {
		require.NotContains(t, a.String(), "/ws", "the node must not listen on WebSocket")
	}

	pages := []context.Context{br.page(t), br.page(t)}
	for i, origin := range []string{tn.url, other.url} {
		peerRunOn(t, pages[i],
			chromedp.Navigate(origin+"/peer/#join="+url.QueryEscape(link)),
			until(`document.body.dataset.ready === "true"`),
		)
	}
	for i, title := range []string{"from the first page", "from the second page"} {
		peerRunOn(t, pages[i],
			chromedp.SendKeys("#new-title", title),
			chromedp.Click("#add-form button"),
			hasTodoAction(title, false),
		)
		peerRunOn(t, pages[1-i], hasTodoAction(title, false))
	}
	for _, p := range pages {
		id, err := peer.Decode(textOn(t, p, chromedp.Text("#peer-id")))
		require.NoError(t, err)
		conns := tn.e.Host().Network().ConnsToPeer(id)
		require.NotEmpty(t, conns, "the node has no connection to page %s", id)
		for _, c := range conns {
			require.Contains(t, c.RemoteMultiaddr().String(), "/p2p-circuit", "page %s reached the node directly", id)
		}
	}
}
