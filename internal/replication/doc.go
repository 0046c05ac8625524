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
// Nothing here imports package engine: what a broadcaster needs of its
// database is the Delegate interface and a Config, and a validating DAG
// takes a ValidatorConfig. Every decoder of network input is bounded and
// fuzzed, and no network input can panic a peer.
package replication
