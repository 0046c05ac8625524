// Package relay runs a libp2p circuit relay (v2) sized for Lattice, and
// holds the client side: reservations a peer behind a NAT keeps on the
// relays it is given, whose circuit addresses it then advertises.
//
// Two things differ from go-libp2p's defaults, and both are needed for
// replication to work through a relay at all:
//
//   - The relay announces no per-circuit limit. libp2p's default limits
//     (2 minutes, 128 KiB) mark every relayed connection "limited", and
//     neither gossipsub nor bitswap opens streams on a limited connection:
//     peers would connect and never replicate. The relay enforces a limit
//     sized for sync itself instead (CircuitLimit: 30 minutes, 32 MiB each
//     way by default), resetting a circuit past it, and bounds how many
//     reservations and circuits it keeps (Resources: 128 reservations, 4
//     per IP address, one per peer, 16 circuits per peer).
//   - A peer reserves explicitly with each relay it is configured with,
//     rather than through autorelay, which ignores relays whose addresses
//     are not public (a relay on a LAN or on loopback).
//
// A public relay is not an open proxy when it is given an allowlist
// (Config.Allow, lattice relay --allow): only the listed peers reserve,
// and circuits lead only to them; anyone may still dial a listed peer
// through it, which is what a reservation is for.
package relay

import (
	"fmt"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	relayv2 "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	libp2pwebrtc "github.com/libp2p/go-libp2p/p2p/transport/webrtc"
	ws "github.com/libp2p/go-libp2p/p2p/transport/websocket"
	webtransport "github.com/libp2p/go-libp2p/p2p/transport/webtransport"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/latticedb/lattice/internal/identity"
)

// Config configures a relay service.
type Config struct {
	// DataDir keeps the relay's identity key, so its address survives a
	// restart. Empty means a throwaway identity.
	DataDir string
	// Listen are the multiaddrs to listen on; empty means DefaultListen:
	// TCP and QUIC on all interfaces, port 4002, and WebSocket (what
	// browsers dial) on port 4003.
	Listen []string
	// Announce, if set, are the addresses the relay advertises (and Addrs
	// returns) instead of its listen addresses: its public addresses when
	// it runs behind a NAT or a cloud provider's address translation.
	Announce []string
	// Resources bounds the relay; nil means DefaultResources(). Its Limit
	// is announced to the peers (and stops Lattice's protocols): leave it
	// nil and set Circuit instead.
	Resources *relayv2.Resources
	// Circuit bounds each circuit, enforced by the relay without being
	// announced; the zero value means DefaultCircuitLimit(). Both fields
	// must be positive otherwise.
	Circuit CircuitLimit
	// Allow, when not empty, lists the only peers that may reserve (and so
	// be reached through the relay); empty lets any peer reserve.
	Allow []peer.ID
	// Rates bound reservations and circuits per source address; nil
	// means DefaultRates().
	Rates *Rates
	// Transports are the libp2p options that install the relay's
	// transports (libp2p.Transport(...)); nil means all of TCP (without
	// port reuse), QUIC, WebSocket, WebTransport and WebRTC-direct.
	// Package transports builds them: Transport.Options of each.
	Transports []libp2p.Option
	// Options are extra libp2p options for the relay's host. Start sets
	// the transports (libp2p's, with TCP port reuse off) and listens on
	// each Listen address itself, failing if any cannot be listened on.
	Options []libp2p.Option
}

// DefaultListen are the relay's listen addresses when none are given: TCP
// and QUIC on port 4002, and WebSocket on TCP port 4003 so that browser
// peers, which speak only WebSocket, can reserve and be reached through the
// relay too. (TCP and WebSocket would need libp2p's shared TCP listener to
// use one port; two ports keep the transports independent.)
var DefaultListen = []string{"/ip4/0.0.0.0/tcp/4002", "/ip4/0.0.0.0/udp/4002/quic-v1", "/ip4/0.0.0.0/tcp/4003/ws"}

// DefaultResources are libp2p's relay resources without the announced
// per-circuit limit (see the package doc; CircuitLimit replaces it), with
// larger circuit buffers, since Lattice peers move DAG blocks through
// circuits, and at most 4 reservations per IP address (libp2p's 8 let 16
// addresses take all 128). The other bounds are libp2p's: 128
// reservations (one per peer, 32 per ASN), each renewed hourly, and 16
// circuits per peer; the host's resource manager bounds connections and
// relay streams overall.
func DefaultResources() relayv2.Resources {
	rc := relayv2.DefaultResources()
	rc.Limit = nil
	rc.BufferSize = 32 << 10
	rc.MaxReservationsPerIP = 4
	return rc
}

// Service is a running relay.
type Service struct {
	host  host.Host
	relay *relayv2.Relay
}

// Start starts a relay. Close stops it.
func Start(cfg Config) (*Service, error) {
	lim := cfg.Circuit
	if lim == (CircuitLimit{}) {
		lim = DefaultCircuitLimit()
	}
	if lim.Duration <= 0 || lim.Data <= 0 {
		return nil, fmt.Errorf("relay: circuit limit %s / %d bytes: both must be positive", lim.Duration, lim.Data)
	}
	var key crypto.PrivKey
	var err error
	if cfg.DataDir != "" {
		key, err = identity.Load(cfg.DataDir)
	} else {
		key, _, err = crypto.GenerateEd25519Key(nil)
	}
	if err != nil {
		return nil, fmt.Errorf("relay: %w", err)
	}
	listen := cfg.Listen
	if len(listen) == 0 {
		listen = DefaultListen
	}
	addrs := make([]ma.Multiaddr, 0, len(listen))
	for _, l := range listen {
		a, err := ma.NewMultiaddr(l)
		if err != nil {
			return nil, fmt.Errorf("relay: listen address %q: %w", l, err)
		}
		addrs = append(addrs, a)
	}
	opts := []libp2p.Option{
		libp2p.Identity(key),
		// Listened on one by one below: libp2p starts if any address
		// works, and a relay missing one of its addresses should say so.
		libp2p.NoListenAddrs,
		// libp2p's transports, but TCP without SO_REUSEPORT: with it a
		// second relay binds the port the first holds and the kernel
		// splits connections between them. A relay gains nothing from
		// dialing out of its listen port.
		// A relay needs no relay of its own.
		libp2p.DisableRelay(),
		// It answers AutoNAT (v1 and v2) for the peers behind NATs that
		// keep reservations on it: they learn their reachability from it.
		libp2p.EnableNATService(),
		libp2p.EnableAutoNATv2(),
	}
	if cfg.Transports != nil {
		opts = append(opts, cfg.Transports...)
	} else {
		opts = append(opts,
			libp2p.Transport(tcp.NewTCPTransport, tcp.DisableReuseport()),
			libp2p.Transport(quic.NewTransport),
			libp2p.Transport(ws.New),
			libp2p.Transport(webtransport.New),
			libp2p.Transport(libp2pwebrtc.New))
	}
	if len(cfg.Announce) > 0 {
		announce := make([]ma.Multiaddr, 0, len(cfg.Announce))
		for _, a := range cfg.Announce {
			m, err := ma.NewMultiaddr(a)
			if err != nil {
				return nil, fmt.Errorf("relay: announce address %q: %w", a, err)
			}
			announce = append(announce, m)
		}
		opts = append(opts, libp2p.AddrsFactory(func([]ma.Multiaddr) []ma.Multiaddr { return announce }))
	}
	opts = append(opts, cfg.Options...)
	h, err := libp2p.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("relay: host: %w", err)
	}
	for _, a := range addrs {
		if err := h.Network().Listen(a); err != nil {
			_ = h.Close()
			return nil, fmt.Errorf("relay: listen on %s: %w", a, err)
		}
	}
	rc := DefaultResources()
	if cfg.Resources != nil {
		rc = *cfg.Resources
	}
	// Started directly: libp2p.EnableRelayService would wait for AutoNAT
	// to call this host public, which never happens on a LAN.
	ropts := []relayv2.Option{relayv2.WithResources(rc)}
	var acl relayv2.ACLFilter
	if len(cfg.Allow) > 0 {
		list := make(allowlist, len(cfg.Allow))
		for _, p := range cfg.Allow {
			list[p] = true
		}
		acl = list
	}
	rates := DefaultRates()
	if cfg.Rates != nil {
		rates = *cfg.Rates
	}
	ropts = append(ropts, relayv2.WithACL(newRateACL(acl, rates)))
	r, err := relayv2.New(limitHost{Host: h, lim: lim}, ropts...)
	if err != nil {
		_ = h.Close()
		return nil, fmt.Errorf("relay: %w", err)
	}
	s := &Service{host: h, relay: r}
	if len(s.Addrs()) == 0 {
		_ = s.Close()
		return nil, fmt.Errorf("relay: no address to listen on among %v", listen)
	}
	return s, nil
}

// ID is the relay's peer ID.
func (s *Service) ID() peer.ID { return s.host.ID() }

// Host is the relay's libp2p host.
func (s *Service) Host() host.Host { return s.host }

// Addrs are the relay's addresses, each ending in /p2p/<relay ID>: what a
// peer passes to engine.WithRelays (or lattice node --relay).
func (s *Service) Addrs() []ma.Multiaddr {
	out, _ := peer.AddrInfoToP2pAddrs(&peer.AddrInfo{ID: s.host.ID(), Addrs: s.host.Addrs()})
	return out
}

// AddrInfo is the relay's peer ID and addresses.
func (s *Service) AddrInfo() peer.AddrInfo {
	return peer.AddrInfo{ID: s.host.ID(), Addrs: s.host.Addrs()}
}

// Close stops the relay and its host.
func (s *Service) Close() error {
	err := s.relay.Close()
	if herr := s.host.Close(); err == nil {
		err = herr
	}
	return err
}
