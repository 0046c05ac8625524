// Package dialpolicy decides which addresses a Lattice node may dial when
// they come from outside: invite links, and the addresses peers announce
// (identify, the address book). Without it, an invite link is a port
// scanner: the node sends multistream, QUIC or WebSocket traffic to any
// host and port the link names, loopback services included, and the error
// text tells what answered.
//
// The policy is a libp2p connection gater (connmgr.ConnectionGater), so it
// judges every outbound dial of the host, whoever asked for it. Install it
// when building the host:
//
//	pol := dialpolicy.New(dialpolicy.Config{Listen: listenAddrs})
//	libp2p.ConnectionGater(dialpolicy.Chain(pol, otherGaters...))
//
// (a Lattice node does this in one place, node.DialPolicy). A host takes
// one gater; Chain composes several, each of which must allow.
//
// # Rules
//
//   - Unspecified targets (0.0.0.0, ::) are refused: on Linux they reach
//     the local host.
//   - Loopback targets (127.0.0.0/8, ::1, the DNS names localhost and
//     *.localhost) are refused unless the node itself listens on an
//     explicit loopback address (a node on 127.0.0.1 talks to its
//     neighbours on 127.0.0.1, as in tests and single-machine demos).
//     Listening on 0.0.0.0 does not count: that is every node's default,
//     and the case to protect.
//   - Link-local targets (169.254.0.0/16, fe80::/10) and multicast ones
//     are refused unless the node listens on an explicit link-local
//     address.
//   - Config.AllowLocal lifts the three rules above.
//   - Private ranges (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7)
//     are allowed: syncing with the laptop on the same LAN is the point.
//     An invite link can therefore make the node connect to a host of its
//     LAN; what it sends there is a libp2p handshake, and API clients learn
//     only "could not reach the inviter", never why.
//   - Every address is at most MaxAddrLen bytes; the node dials at most
//     MaxAddrsPerPeer distinct addresses of one peer per Window (a peer
//     announcing hundreds of addresses cannot turn the node into a
//     scanner either).
//   - Trusted peers (bootstrap peers and relays the user configured) are
//     exempt from all of this.
//
// Inbound connections are not judged: the policy is about what the node
// dials.
package dialpolicy
