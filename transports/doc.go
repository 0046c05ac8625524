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
//     second after the first reservation). A relayed connection made
//     earlier stays relayed until the next one. Traversal.HolePunchReady
//     says whether the host is ready.
//   - Once a direct connection exists, new streams (bitswap's blocks,
//     catch-up) take it, while the relayed connection stays open with the
//     streams already on it (gossipsub's). Closing it on the spot would
//     move those too, but gossipsub v0.19 then often forgets the peer's
//     subscriptions: each side reopens its stream at once, and a hello that
//     arrives before the other side has processed the dead stream is
//     cleared with it; publishing to that peer stops (seen in 2 of 3 runs of
//     TestRelayedToDirectSwitch when it closed the circuit). So the circuit
//     is left to end with the reservation or the peers.
//
// Subpackage relay is the circuit relay v2 service (lattice relay, which
// also answers AutoNAT for its clients) and the reservations a peer behind
// a NAT keeps on it. scripts/natbed.sh runs all of it through real Linux
// NAT routers in network namespaces.
package transports
