package discovery

import (
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"strings"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Sentinel errors.
var (
	// ErrStarted is returned by Start on a source that was started before:
	// a source serves one host, once.
	ErrStarted = errors.New("discovery: source already started")
	// ErrClosed is returned by Start on a closed source and by calls on a
	// closed Manager.
	ErrClosed = errors.New("discovery: closed")
	// ErrBadConfig wraps every configuration error.
	ErrBadConfig = errors.New("discovery: bad configuration")
)

// Found receives a peer a source found. It is safe for concurrent use and
// returns at once: the Manager that passes it queues the peer (bounded) and
// dials it later, so a source may call it from any goroutine, as often as
// it likes, and must not count on any one call leading to a dial.
type Found func(peer.AddrInfo)

// Source is one way of finding peers: a static list, mDNS on the LAN, a
// DHT, invite links. Start begins it on host h, reporting what it finds to
// found, and returns once it runs (its goroutines are its own); Close
// stops every goroutine Start began and waits for them, and is idempotent.
// A source serves one host once: Start a second time fails with
// ErrStarted. A Manager (and so an engine) starts and closes the sources it
// is given.
type Source interface {
	Start(h host.Host, found Found) error
	Close() error
}

// Namespaced is the optional interface of a Source that finds peers per
// rendezvous namespace, as a DHT does, on top of (or instead of) the peers
// it reports to Start's found: the engine joins the namespace of each
// database it opens (see Namespace) and leaves it when the database closes.
// Join advertises this peer at ns and looks for others there, reporting
// them to found, until leave is called or the source closes; leave is
// idempotent and waits for the goroutines of the join. Join is called only
// after Start; after Close it does nothing and returns a no-op leave.
type Namespaced interface {
	Source
	Join(ns string, found Found) (leave func())
}

// Namespace is the rendezvous namespace of a database: a hash of its
// address, so that a peer that does not know the address (its manifest
// CID and name) cannot look its members up by name, and a DHT node does
// not learn which databases the peers it serves replicate.
func Namespace(address string) string {
	sum := sha256.Sum256([]byte("lattice/rendezvous/v1\n" + address))
	return "/lattice/rv/" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:]))
}
