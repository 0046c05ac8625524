// Package replication moves Lattice databases' deltas between peers and
// judges them before anything is merged. It is the network half of a
// database, beneath package engine (which is the API) and beside
// go-ds-crdt (which merges). Its entry point is one call per peer and one
// per database:
//
//   - NewNode(ctx, host, store, NodeConfig) starts a peer's replication:
//     gossipsub and its scores, bitswap, the quarantine, the catch-up and
//     heads servers, and the repairs of gossipsub's known failures (the
//     pubsub watchdog, watchdog.go; the relay switch, relayswitch.go),
//     with the node's clock and goroutines of their own.
//   - (*Node).Open(ctx, ReplicaConfig) starts a database's Replica: topic,
//     validator, journal, broadcaster, validating DAG, go-ds-crdt and the
//     redialer of its address book, assembled in the one safe order.
//     Writes go to Replica.Batch; what changed is seen through the store
//     go-ds-crdt writes to (ReplicaConfig.Store, the read model's watch
//     store) and the ReplicaDelegate.
//
// Its parts:
//
//   - Broadcaster: go-ds-crdt's Broadcaster over one gossipsub topic, with
//     its own message codec (message.go: heads, and small blocks inline),
//     split by concern, one lock each: announcing (announce.go: coalesced
//     announcements, rebroadcasts that leave out what others just
//     announced), receiving (receive.go: the topic validator, a receive
//     loop that never blocks on go-ds-crdt), fetching (fetch.go: bounded
//     background fetches of announced heads), membership (members.go),
//     heads exchanged with each joining peer on a stream (heads.go)
//     rather than flooded to the topic, and catch-up (catchup.go).
//   - Quarantine: the blockstore remote blocks are fetched into. They wait
//     in bounded memory until their delta is judged; only admitted blocks
//     reach the disk.
//   - ValidatingDAG: the DAG service go-ds-crdt reads through. Each node
//     must carry a valid delta signature (SignChunk, VerifyDelta) whose
//     author the access controller admits, with the access-control entries
//     of its causal past applied first.
//   - Scores: gossipsub peer scoring for objectively malformed broadcasts.
//
// Who may read. A database's address (its manifest CID) is the capability
// to read it: it is 256 bits nobody can guess (the manifest carries a
// random nonce) and it is never put where other peers see it. Peers name
// a database by its TopicKey, a hash of the address with no way back:
// the topic is TopicName, and heads and catch-up requests carry a Claim,
// the TopicKey and a proof, bound to the requester, the responder and the
// protocol, that the requester holds the address. A heads or catch-up
// server answers only claims that verify; a requester's claim tells a
// peer without the address nothing.
//
// What a peer without the address sees, and why it reads nothing:
//
//   - A topic it saw (gossipsub shows every connected peer the topics of
//     its neighbours): it may subscribe and receive what is published
//     there, but every broadcast is sealed to the address (topicseal.go:
//     AES-256-GCM under sha256("lattice-topic-seal-v1" || manifest CID),
//     a key the TopicKey does not give), so it receives ciphertext of
//     the heads and the inline blocks; only sizes and timing show. A
//     broadcast that does not open is malformed and scored. (The design
//     first written here, pubsub.WithSubscriptionFilter admitting a peer
//     per topic once its claim verified, was not built: it needs a
//     pubsub stream reset per join to make peers resend subscriptions,
//     and floodsub peers and flood publishing bypass gossipsub's peer
//     filter; sealing covers every path a message takes.)
//   - Blocks by CID through bitswap (it learns CIDs from the wants
//     members send every connected peer): a node's bitswap serves a
//     block only to a peer admitted for at least one database open there,
//     and an open database's manifest block to anyone (admit.go). A peer
//     is admitted for a database once its Claim verified in a heads
//     exchange, a catch-up or a snapshot request, until it disconnects.
//     Blocks are shared by content across databases and go-ds-crdt keeps
//     no block -> database index, so the rule is per node. A joiner's
//     first heads come from its own heads exchange, which admits it
//     first; a fetch of heads another peer announced waits for the first
//     exchange with that peer (Broadcaster.awaitPull), since a refused
//     want is asked again only on bitswap's rebroadcast.
//   - Publish heads on a topic it saw: it cannot seal them, so they are
//     malformed; and every delta must carry a signature over the
//     database's address (SignChunk), so it cannot write either.
//
// A deterministic address (engine.WithDeterministicAddress) follows from
// a name and rules anyone may guess: it gives none of this.
//
// Nothing here imports package engine: what a broadcaster needs of its
// database is the Delegate interface and a Config, and a validating DAG
// takes a ValidatorConfig. Every decoder of network input is bounded and
// fuzzed, and no network input can panic a peer.
package replication
