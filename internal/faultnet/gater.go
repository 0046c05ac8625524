// Package faultnet injects network faults into real libp2p hosts for tests
// and simulations: partitions that hold (no re-dial, no inbound accept)
// until healed.
//
// A Gater is a libp2p connection gater. Give one to each host with
// libp2p.ConnectionGater (for a Lattice engine:
// engine.WithLibp2pOptions(libp2p.ConnectionGater(g))), then Block and
// Unblock peers. Blocking refuses new connections in both directions;
// existing connections are left to the caller to close (Cut does both).
package faultnet

import (
	"sync"

	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Gater refuses connections to and from blocked peers. The zero value is
// not usable; call NewGater. It is safe for concurrent use.
type Gater struct {
	mu      sync.RWMutex
	blocked map[peer.ID]bool
}

var _ connmgr.ConnectionGater = (*Gater)(nil)

// NewGater returns a gater that blocks nobody.
func NewGater() *Gater { return &Gater{blocked: make(map[peer.ID]bool)} }

// Block refuses every future connection with the given peers.
func (g *Gater) Block(ps ...peer.ID) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, p := range ps {
		g.blocked[p] = true
	}
}

// Unblock allows connections with the given peers again.
func (g *Gater) Unblock(ps ...peer.ID) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, p := range ps {
		delete(g.blocked, p)
	}
}

// UnblockAll allows every peer again.
func (g *Gater) UnblockAll() {
	g.mu.Lock()
	defer g.mu.Unlock()
	clear(g.blocked)
}

// Blocked reports whether p is blocked.
func (g *Gater) Blocked(p peer.ID) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.blocked[p]
}

// InterceptPeerDial implements connmgr.ConnectionGater.
func (g *Gater) InterceptPeerDial(p peer.ID) bool { return !g.Blocked(p) }

// InterceptAddrDial implements connmgr.ConnectionGater.
func (g *Gater) InterceptAddrDial(p peer.ID, _ ma.Multiaddr) bool { return !g.Blocked(p) }

// InterceptAccept implements connmgr.ConnectionGater: the remote peer is
// not known yet, so every connection is accepted here and judged once
// secured.
func (g *Gater) InterceptAccept(network.ConnMultiaddrs) bool { return true }

// InterceptSecured implements connmgr.ConnectionGater.
func (g *Gater) InterceptSecured(_ network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	return !g.Blocked(p)
}

// InterceptUpgraded implements connmgr.ConnectionGater.
func (g *Gater) InterceptUpgraded(c network.Conn) (bool, control.DisconnectReason) {
	return !g.Blocked(c.RemotePeer()), 0
}

// Cut partitions a and b: each host's gater (ga for a, gb for b) blocks
// the other peer, and their connections are closed.
func Cut(a host.Host, ga *Gater, b host.Host, gb *Gater) error {
	ga.Block(b.ID())
	gb.Block(a.ID())
	if err := a.Network().ClosePeer(b.ID()); err != nil {
		return err
	}
	return b.Network().ClosePeer(a.ID())
}
