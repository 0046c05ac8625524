//go:build js

package browser

import (
	"context"
	"fmt"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/transport"
	ma "github.com/multiformats/go-multiaddr"
)

// WebSocket is a libp2p transport over the browser's WebSocket: it dials
// /ws, /wss and /tls/ws addresses and listens on nothing (a page cannot).
// Connections are upgraded (Noise, yamux) by the host's upgrader, as
// go-libp2p's own WebSocket transport does on the listening side.
type WebSocket struct {
	upgrader transport.Upgrader
	rcmgr    network.ResourceManager
}

var _ transport.Transport = (*WebSocket)(nil)

// NewWebSocket returns the transport; u upgrades its connections and rcmgr
// (nil: none) accounts for them. Its signature is a libp2p transport
// constructor's.
func NewWebSocket(u transport.Upgrader, rcmgr network.ResourceManager) (*WebSocket, error) {
	if rcmgr == nil {
		rcmgr = &network.NullResourceManager{}
	}
	return &WebSocket{upgrader: u, rcmgr: rcmgr}, nil
}

// CanDial tells whether a is a WebSocket address (see URL).
func (t *WebSocket) CanDial(a ma.Multiaddr) bool {
	_, err := URL(a)
	return err == nil
}

// Dial opens a WebSocket to raddr and upgrades it to a secured,
// multiplexed libp2p connection with peer p.
func (t *WebSocket) Dial(ctx context.Context, raddr ma.Multiaddr, p peer.ID) (transport.CapableConn, error) {
	url, err := URL(raddr)
	if err != nil {
		return nil, err
	}
	scope, err := t.rcmgr.OpenConnection(network.DirOutbound, true, raddr)
	if err != nil {
		return nil, err
	}
	c, err := dial(ctx, url, raddr)
	if err != nil {
		scope.Done()
		return nil, err
	}
	cc, err := t.upgrader.Upgrade(ctx, t, c, network.DirOutbound, p, scope)
	if err != nil {
		_ = c.Close() // Upgrade has ended the scope
		return nil, err
	}
	return cc, nil
}

// Listen fails: a page cannot accept connections.
func (t *WebSocket) Listen(laddr ma.Multiaddr) (transport.Listener, error) {
	return nil, fmt.Errorf("browser: cannot listen on %s: a page only dials", laddr)
}

// Protocols are the multiaddr protocols the transport dials.
func (t *WebSocket) Protocols() []int { return []int{ma.P_WS, ma.P_WSS} }

// Proxy is false: the transport dials its peers itself.
func (t *WebSocket) Proxy() bool { return false }
