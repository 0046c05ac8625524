// Package discovery finds the peers a Lattice engine replicates with.
//
// It is built on go-libp2p's own discovery contract (core/discovery's
// Advertiser and Discoverer, which yield peer.AddrInfo values on
// channels): a Source reports the peers it finds, and the optional
// Namespaced interface finds peers per database, at the rendezvous
// namespace Namespace derives from the database's address (a hash, so
// non-members cannot enumerate a database's peers by its name).
//
// Built-in sources:
//
//   - Bootstrap: a static list of peers, reported at start and again
//     every minute.
//   - MDNS: peers on the same LAN, by multicast DNS (go-libp2p's
//     p2p/discovery/mdns). It needs a multicast-capable interface: Linux
//     lo is not one.
//   - DHT: rendezvous per database on a Kademlia DHT (go-libp2p-kad-dht
//     v0.42.2, through go-libp2p's p2p/discovery/routing), private by
//     default: its protocol is /lattice/kad/1.0.0, so it never joins the
//     public Amino DHT (/ipfs/kad/1.0.0) unless asked to.
//   - FromDiscovery: any core/discovery.Discovery as a Namespaced source.
//   - Manual: peers the application hands over, such as the inviter of an
//     invite link.
//
// A Manager runs sources on a host and dials what they find, within
// bounds, because sources carry what strangers say: at most
// Limits.MaxAddrs addresses per peer (malformed, oversized, unspecified,
// multicast and undialable ones dropped), a bounded queue per source and
// namespace (newest first, so a flood evicts itself and fresh finds from
// other sources are not starved), at most Limits.DialRate dials per second
// and Limits.MaxInFlight at once, a peer reported again dialled again
// only after Limits.RetryAfter, and warnings rate limited. Of two peers
// that find each other at once (mDNS), only the lower ID dials: the
// other waits Limits.Yield and dials only if still unconnected, since two
// TCP dials that cross can fuse into one simultaneous open that fails both.
// A failed dial is tried again Limits.DialRetries times, as a source may
// report a peer only once. engine.WithDiscovery hands
// sources to an engine, which runs them in a Manager, joins each open
// database's namespace and closes everything on Close. Peers that connect
// and open the same database enter its address book (engine
// WithReconnect) like any other.
//
// Package discoverytest is the conformance suite a custom source passes
// with one call.
//
// The DHT is go-libp2p-kad-dht v0.42.2: v0.43.0's source is not served by
// this machine's module proxy. v0.42.2 asks for go-libp2p v0.49; minimal
// version selection picks the module's v0.51.0, and it compiles and passes
// this package's tests against it.
package discovery
