// Package transports builds the libp2p hosts Lattice peers run on.
//
// The network seam of Lattice is go-libp2p's own host.Host: New builds one
// from a Config (identity, listen addresses, circuit-relay reservations,
// extra libp2p options), and engine.WithHost hands any host to an engine —
// one built here, one a test built on a simulated network, or one an
// embedder configured itself. An engine closes only the host it built.
//
// Subpackage relay is the circuit relay v2 service (lattice relay) and the
// reservations a peer behind a NAT keeps on it.
package transports
