// Package transports builds the libp2p hosts Lattice peers run on: which
// wires they speak, and how they get through NATs.
//
// The network seam of Lattice is go-libp2p's own host.Host: New builds one
// from a Config, and engine.WithHost hands any host to an engine — one
// built here, one a test built on a simulated network, or one an embedder
// configured itself. An engine closes only the host it built.
//
// # Transports
//
// A Transport is a plugin of three methods: its name, the libp2p options
// that install it (libp2p.Transport(...)), and its default listen
// addresses. The built-ins are TCP, QUIC and WebSocket (Defaults, what a
// Config with no Transports speaks), WebTransport and WebRTCDirect (opt
// in). ByName and Parse turn names ("tcp,quic,ws") into transports, with
// ErrUnknownTransport naming the known ones. A transport of one's own, a
// simulated network say, is one more value: transportstest.Run proves that
// Lattice replicates over it.
//
// # NAT traversal
//
// NATConfig chooses it. AutoNAT v2 is on: the host learns which of its
// addresses peers can reach, and AutoNAT v1 (libp2p's, always on) sets its
// overall reachability, announced on the event bus as
// event.EvtLocalReachabilityChanged. Hole punching (DCUtR) is on when the
// host has relays: a peer that reached it through a relay gets a direct
// connection when both NATs map endpoint-independently (Linux MASQUERADE,
// most home routers), and stays relayed when either NAT is symmetric.
// UPnP/NAT-PMP port mapping is an option (PortMap).
//
// Traversal (TraversalOf a host New built) reports all of it: the
// reachability, how the host is connected to each peer (KindDirect,
// KindHolePunched, KindRelayed), and hole punch attempts and successes.
// KindOf tells direct from relayed on any host.
//
// Two facts of go-libp2p v0.51.0 shape what a caller sees:
//
//   - libp2p tries a hole punch once, when the relayed connection opens,
//     and only if both hosts know a public address of their own by then
//     (observed by a peer, typically the relay, about a quarter of a
//     second after the first reservation). Traversal.HolePunchReady says
//     whether the host is ready; when it becomes ready, the Traversal
//     closes and redials the relay circuits to peers it reaches only
//     through a relay (at most once per peer per RepunchEvery), so that a
//     connection made too early (a restart and an immediate redial) is
//     punched too.
//   - Once a direct connection exists, new streams (bitswap's blocks,
//     catch-up) take it, while the relayed connection keeps the streams
//     already on it (gossipsub's). NATConfig.RelayCloseDelay later the
//     side with the lower peer ID closes the circuit, so the relay carries
//     only the setup. gossipsub v0.19 then reopens its streams on the
//     direct connection, and sometimes forgets the peer's subscriptions
//     (the dead stream's cleanup can be processed after the new stream's
//     hello); the replication node checks each database's topic after
//     such a switch and reconnects a peer that is missing
//     (internal/replication/relayswitch.go; TestRelayedToDirectSwitch, run
//     with -count=20, shows both).
//
// Subpackage relay is the circuit relay v2 service (lattice relay, which
// also answers AutoNAT for its clients) and the reservations a peer behind
// a NAT keeps on it. scripts/natbed.sh runs all of it through real Linux
// NAT routers in network namespaces.
package transports
