// The DHT source is left out of js/wasm builds (a page speaks no DHT, and
// go-libp2p-kad-dht with gonum is 0.36 MB of the browser peer, 67 KB gzipped).

//go:build !js

package discovery

import (
	"fmt"

	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	drouting "github.com/libp2p/go-libp2p/p2p/discovery/routing"
)

// DHTPrefix is the protocol prefix of Lattice's private DHT: its peers
// speak /lattice/kad/1.0.0, so they form a DHT of their own and never
// join (or burden) the public Amino DHT, /ipfs/kad/1.0.0.
const DHTPrefix protocol.ID = "/lattice"

// DHTMode is whether this peer serves the DHT (answers queries, stores
// provider records) or only asks it.
type DHTMode int

// DHT modes.
const (
	// DHTAuto serves once AutoNAT finds the peer publicly reachable, and
	// only asks before: the default, right for laptops and phones.
	DHTAuto DHTMode = iota
	// DHTServer always serves: for always-on nodes, relays, and tests on
	// one machine (where AutoNAT never says public).
	DHTServer
	// DHTClient never serves.
	DHTClient
)

// DHTConfig configures a DHT source. The zero value is a private
// (/lattice) DHT in auto mode, with no bootstrap peers of its own (peers
// it connects to by other means that speak its protocol join its routing
// table).
type DHTConfig struct {
	// Prefix is the DHT's protocol prefix; empty means DHTPrefix. Joining
	// the public Amino DHT (dht.DefaultPrefix, "/ipfs") also needs its
	// record validators (/pk and /ipns) in Options.
	Prefix protocol.ID
	// Mode is DHTAuto, DHTServer or DHTClient.
	Mode DHTMode
	// BootstrapPeers are DHT peers to connect to while the routing table
	// is empty.
	BootstrapPeers []peer.AddrInfo
	// Rendezvous tunes the advertise-and-find loop of each namespace.
	Rendezvous RendezvousConfig
	// Options are passed to dht.New after the ones above.
	Options []dht.Option
}

// DHTSource is rendezvous on a Kademlia DHT (go-libp2p-kad-dht, through
// go-libp2p's routing discovery): each joined namespace is advertised as a
// provider record and its other providers are looked up. The DHT runs on
// the engine's host. Make one with DHT.
type DHTSource struct {
	cfg DHTConfig
	dht *dht.IpfsDHT
	rv  *RendezvousSource
	life
}

var _ Namespaced = (*DHTSource)(nil)

// DHT returns a DHT source with cfg.
func DHT(cfg DHTConfig) *DHTSource { return &DHTSource{cfg: cfg} }

// Start implements Source: it starts the DHT on h and bootstraps it.
func (d *DHTSource) Start(h host.Host, found Found) error {
	if err := d.start(h); err != nil {
		return err
	}
	prefix := d.cfg.Prefix
	if prefix == "" {
		prefix = DHTPrefix
	}
	mode := dht.ModeAuto
	switch d.cfg.Mode {
	case DHTAuto:
	case DHTServer:
		mode = dht.ModeServer
	case DHTClient:
		mode = dht.ModeClient
	default:
		return fmt.Errorf("%w: DHT mode %d", ErrBadConfig, d.cfg.Mode)
	}
	opts := []dht.Option{dht.ProtocolPrefix(prefix), dht.Mode(mode)}
	if len(d.cfg.BootstrapPeers) > 0 {
		opts = append(opts, dht.BootstrapPeers(d.cfg.BootstrapPeers...))
	}
	kad, err := dht.New(h, append(opts, d.cfg.Options...)...)
	if err != nil {
		return fmt.Errorf("discovery: dht: %w", err)
	}
	rv := FromDiscovery(drouting.NewRoutingDiscovery(kad), d.cfg.Rendezvous)
	if err := rv.Start(h, found); err != nil {
		_ = kad.Close()
		return err
	}
	d.mu.Lock()
	d.dht, d.rv = kad, rv
	d.mu.Unlock()
	// Bootstrap refreshes the routing table in the DHT's own goroutines.
	if err := kad.Bootstrap(d.ctx); err != nil {
		_ = d.Close()
		return fmt.Errorf("discovery: dht bootstrap: %w", err)
	}
	return nil
}

// Routing returns the running DHT (nil before Start and after Close), for
// callers that use it for more than rendezvous.
func (d *DHTSource) Routing() *dht.IpfsDHT {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dht
}

// Join implements Namespaced.
func (d *DHTSource) Join(ns string, found Found) (leave func()) {
	d.mu.Lock()
	rv := d.rv
	d.mu.Unlock()
	if rv == nil {
		return func() {}
	}
	return rv.Join(ns, found)
}

// Close implements Source: it ends the joins and closes the DHT.
func (d *DHTSource) Close() error {
	d.mu.Lock()
	kad, rv := d.dht, d.rv
	d.dht, d.rv = nil, nil
	d.mu.Unlock()
	d.close()
	if rv != nil {
		_ = rv.Close()
	}
	if kad != nil {
		return kad.Close()
	}
	return nil
}
