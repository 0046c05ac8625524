package replication

import (
	"sync"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Who gets blocks. Bitswap serves any stored block to any peer that asks
// for its CID, and a peer connected to a member learns CIDs (from the
// wants members send every connected peer). A Node's bitswap therefore
// serves a block only to a peer admitted for at least one database open
// here (or open here since it connected), and the manifest block of an
// open database to anyone (it is
// fetched before the database is open, and only by its address, which
// is what admission proves). A peer is admitted for a database once its
// Claim for that database verified (a heads exchange, a catch-up or a
// snapshot it asked this node for), until it disconnects. Blocks are
// shared by content across databases, so the rule is per node, not per
// database: go-ds-crdt keeps no block -> database index.
//
// Joins stay fast because each side of a join proves itself with its
// heads exchange before it knows a CID to ask for: its first heads come
// from that exchange, and a fetch of heads a peer announced waits for the
// first exchange with that peer (Broadcaster.awaitPull).

// admissions are the peers whose claims verified, per database.
type admissions struct {
	mu    sync.Mutex
	peers map[peer.ID]map[cid.Cid]struct{}
}

// admit records that p proved it holds the address of manifest.
func (a *admissions) admit(p peer.ID, manifest cid.Cid) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.peers == nil {
		a.peers = make(map[peer.ID]map[cid.Cid]struct{})
	}
	if a.peers[p] == nil {
		a.peers[p] = make(map[cid.Cid]struct{})
	}
	a.peers[p][manifest] = struct{}{}
}

// forget drops p's admissions.
func (a *admissions) forget(p peer.ID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.peers, p)
}

// of lists the databases p is admitted for.
func (a *admissions) of(p peer.ID) []cid.Cid {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]cid.Cid, 0, len(a.peers[p]))
	for m := range a.peers[p] {
		out = append(out, m)
	}
	return out
}

// serveBlock is bitswap's PeerBlockRequestFilter: whether p may have the
// block c (see above). It runs on bitswap's goroutines.
func (n *Node) serveBlock(p peer.ID, c cid.Cid) bool {
	admitted := n.admitted.of(p)
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.replicas[c] != nil {
		return true // an open database's manifest
	}
	// Admitted for a database that is open here, or was: a writer that
	// closes a database right after its writes announces them as it
	// closes, and its peers fetch the blocks the announcement did not
	// carry after that (TestCloseRightAfterWritesAnnouncesThem). The
	// peer proved the address; a closed database's blocks stay here.
	return len(admitted) > 0
}

// Admitted tells whether p is admitted for the database with manifest m
// (its claim verified here since it connected).
func (n *Node) Admitted(p peer.ID, m cid.Cid) bool {
	for _, a := range n.admitted.of(p) {
		if a == m {
			return true
		}
	}
	return false
}

// admissionNotifee forgets a peer's admissions when its last connection
// closes.
type admissionNotifee struct{ n *Node }

var _ network.Notifiee = admissionNotifee{}

func (a admissionNotifee) Disconnected(net network.Network, c network.Conn) {
	if p := c.RemotePeer(); net.Connectedness(p) != network.Connected {
		a.n.admitted.forget(p)
	}
}

func (admissionNotifee) Listen(network.Network, ma.Multiaddr)      {}
func (admissionNotifee) ListenClose(network.Network, ma.Multiaddr) {}
func (admissionNotifee) Connected(network.Network, network.Conn)   {}
