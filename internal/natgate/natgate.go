// Package natgate stands in for NATs and firewalls between peers in one
// process: a libp2p connection gater that refuses every connection with
// chosen peers except through a relay circuit. Tests (and, later, the
// simulator) use it to prove that traffic really takes the relay.
package natgate

import (
	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Relayed reports whether a is a relay circuit address.
func Relayed(a ma.Multiaddr) bool {
	_, err := a.ValueForProtocol(ma.P_CIRCUIT)
	return err == nil
}

// BlockDirect returns a gater (for libp2p.ConnectionGater) that refuses
// direct connections, in either direction, with the given peers: only
// relayed ones get through. Other peers are not affected.
func BlockDirect(peers ...peer.ID) connmgr.ConnectionGater {
	g := gater{blocked: make(map[peer.ID]bool, len(peers))}
	for _, p := range peers {
		g.blocked[p] = true
	}
	return g
}

type gater struct{ blocked map[peer.ID]bool }

func (g gater) InterceptPeerDial(peer.ID) bool { return true }

func (g gater) InterceptAddrDial(p peer.ID, a ma.Multiaddr) bool {
	return !g.blocked[p] || Relayed(a)
}

func (g gater) InterceptAccept(network.ConnMultiaddrs) bool { return true }

func (g gater) InterceptSecured(_ network.Direction, p peer.ID, c network.ConnMultiaddrs) bool {
	return !g.blocked[p] || Relayed(c.RemoteMultiaddr())
}

func (g gater) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }
