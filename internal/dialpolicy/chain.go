package dialpolicy

import (
	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Chain returns a gater that allows what every one of gs allows, asking
// them in order and stopping at the first refusal; nil entries are
// skipped. A libp2p host takes one gater: Chain lets the dial policy sit
// beside a test's fault injector (internal/faultnet, internal/natgate).
func Chain(gs ...connmgr.ConnectionGater) connmgr.ConnectionGater {
	out := make(chain, 0, len(gs))
	for _, g := range gs {
		if g != nil {
			out = append(out, g)
		}
	}
	return out
}

type chain []connmgr.ConnectionGater

var _ connmgr.ConnectionGater = chain(nil)

func (c chain) InterceptPeerDial(p peer.ID) bool {
	for _, g := range c {
		if !g.InterceptPeerDial(p) {
			return false
		}
	}
	return true
}

func (c chain) InterceptAddrDial(p peer.ID, a ma.Multiaddr) bool {
	for _, g := range c {
		if !g.InterceptAddrDial(p, a) {
			return false
		}
	}
	return true
}

func (c chain) InterceptAccept(cm network.ConnMultiaddrs) bool {
	for _, g := range c {
		if !g.InterceptAccept(cm) {
			return false
		}
	}
	return true
}

func (c chain) InterceptSecured(d network.Direction, p peer.ID, cm network.ConnMultiaddrs) bool {
	for _, g := range c {
		if !g.InterceptSecured(d, p, cm) {
			return false
		}
	}
	return true
}

func (c chain) InterceptUpgraded(conn network.Conn) (bool, control.DisconnectReason) {
	for _, g := range c {
		if ok, reason := g.InterceptUpgraded(conn); !ok {
			return false, reason
		}
	}
	return true, 0
}
