package main

import (
	"fmt"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/spf13/pflag"

	"github.com/latticedb/lattice/discovery"
	"github.com/latticedb/lattice/engine"
)

// discoveryFlags are lattice node's discovery flags.
type discoveryFlags struct {
	mdns    bool
	dht     bool
	dhtMode string
}

// discoveryHelp is the discovery paragraph of lattice node's help.
const discoveryHelp = `

Discovery: --mdns finds peers on the same LAN by multicast DNS (and
announces this one), with no link or address at all. --dht finds the peers
of each open database anywhere, by rendezvous on Lattice's own private DHT
(protocol /lattice/kad/1.0.0, not the public IPFS DHT): its --bootstrap
peers are its way in, so give at least one that serves it (a lattice
relay --dht, or a node with --dht --dht-mode server).
--dht-mode server makes an always-on, publicly reachable node serve the DHT
(auto serves once the node learns it is reachable; client never serves).
Discovered peers are dialled within bounds (8 addresses a peer, 8 dials a
second, 8 at once).`

func addDiscoveryFlags(fl *pflag.FlagSet, f *discoveryFlags) {
	fl.BoolVar(&f.mdns, "mdns", false, "find peers on the local network by mDNS")
	fl.BoolVar(&f.dht, "dht", false, "find the peers of open databases on Lattice's private DHT (bootstrapped from --bootstrap)")
	fl.StringVar(&f.dhtMode, "dht-mode", "auto", "with --dht: auto, server or client")
}

// discoveryOptions turns the flags into engine options; bootstrap are the
// --bootstrap peers.
func discoveryOptions(f discoveryFlags, bootstrap []peer.AddrInfo) ([]engine.Option, error) {
	var srcs []discovery.Source
	if f.mdns {
		srcs = append(srcs, discovery.MDNS(""))
	}
	mode := discovery.DHTAuto
	switch f.dhtMode {
	case "auto":
	case "server":
		mode = discovery.DHTServer
	case "client":
		mode = discovery.DHTClient
	default:
		return nil, usageErr("--dht-mode %q: want auto, server or client", f.dhtMode)
	}
	if f.dht {
		srcs = append(srcs, discovery.DHT(discovery.DHTConfig{Mode: mode, BootstrapPeers: bootstrap}))
		if len(bootstrap) > 0 {
			// Dialled again every minute while they are down: the DHT's
			// way in.
			srcs = append(srcs, discovery.Bootstrap(bootstrap...))
		}
	}
	if len(srcs) == 0 {
		return nil, nil
	}
	return []engine.Option{engine.WithDiscovery(srcs...)}, nil
}

// relayDHT serves Lattice's private DHT on the relay's host when on; the
// returned func stops it.
func relayDHT(h host.Host, on bool) (stop func(), err error) {
	if !on {
		return func() {}, nil
	}
	src := discovery.DHT(discovery.DHTConfig{Mode: discovery.DHTServer})
	if err := src.Start(h, func(peer.AddrInfo) {}); err != nil {
		return nil, fmt.Errorf("relay: %w", err)
	}
	return func() { _ = src.Close() }, nil
}
