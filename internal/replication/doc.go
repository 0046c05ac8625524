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
// What a peer without the address can still do, and the design that
// closes it (not built yet):
//
//   - Subscribe to a topic it saw (gossipsub shows every connected peer
//     the topics of its neighbours) and receive what is published on it:
//     heads, and the blocks sent inline with them, which hold the deltas
//     of small writes. Close it with pubsub.WithSubscriptionFilter: a
//     peer's subscription to an open database's topic is accepted only
//     once the peer is admitted for that database, and the member set is
//     fed by the heads exchange (a peer whose Claim verified is admitted,
//     per database, until it disconnects). The exchange then cannot wait
//     for pubsub's PeerJoin (the filter drops the join it waits for):
//     the filter itself starts it for a subscription it drops, each side
//     proves itself with its pull, and once both are admitted the pubsub
//     stream between them is reset once, so each side resends its
//     subscriptions and the filters now accept them.
//   - Fetch any stored block by CID through bitswap, which serves every
//     block to every peer: with the heads it got from the topic, the
//     whole history. Close it with bitswap's WithPeerBlockRequestFilter:
//     serve a block only to a peer admitted for at least one database
//     this node has open (blocks are shared by content across databases,
//     so a finer rule needs a block -> database index, which go-ds-crdt's
//     store does not keep), and the manifest block only to any peer (it
//     is fetched before the database is open and only by its address).
//   - Publish heads on a topic it saw: they are judged like any broadcast
//     (the access controller must let the author announce; for an open
//     database anyone may) and a member fetches them, but every delta
//     must carry a signature over the database's address (SignChunk), so
//     a peer without the address cannot write; its junk costs it score.
//
// Nothing here imports package engine: what a broadcaster needs of its
// database is the Delegate interface and a Config, and a validating DAG
// takes a ValidatorConfig. Every decoder of network input is bounded and
// fuzzed, and no network input can panic a peer.
package replication
