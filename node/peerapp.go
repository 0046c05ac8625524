package node

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
)

// ErrNoPeerAssets is returned by ServePeerApp on a node that serves no
// browser peer (Config.PeerAssets is nil).
var ErrNoPeerAssets = errors.New("node: no browser peer to serve (Config.PeerAssets; lattice node --peer-assets DIR)")

// ServePeerApp serves on ln the browser peer's page and nothing else: the
// files under /peer/ and the two it shares with the app (/app.css,
// /favicon.svg), to any client and any Host, without a token. They are
// static files that hold no data, so a node whose API stays on loopback
// can still put the page on its LAN for phones (lattice node
// --peer-listen 0.0.0.0:5081): the page then joins by its invite link
// over WebSocket, and the API is never exposed. It returns nil after
// Close.
func (n *Node) ServePeerApp(ln net.Listener) error {
	if n.cfg.PeerAssets == nil {
		return ErrNoPeerAssets
	}
	web := webHandler(n.cfg.PeerAssets)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		p := r.URL.Path
		if p != "/peer" && !strings.HasPrefix(p, "/peer/") && p != "/app.css" && p != "/favicon.svg" {
			writeError(w, errorf(http.StatusNotFound, "not_found", "%s: this listener serves the browser peer's page only (/peer/)", p))
			return
		}
		web.ServeHTTP(w, r)
	})
	return n.serve(ln, n.metrics.instrument("peer-app", h))
}

// serve serves h on ln until Close, then returns nil.
func (n *Node) serve(ln net.Listener, h http.Handler) error {
	srv := n.server(h)
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return ErrClosed
	}
	n.servers = append(n.servers, srv)
	n.mu.Unlock()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("node: serve %s: %w", ln.Addr(), err)
	}
	return nil
}
