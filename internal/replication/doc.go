// Package replication moves one Lattice database's deltas between peers
// and judges them before anything is merged. It is the network half of a
// database, beneath package engine (which is the API) and beside
// go-ds-crdt (which merges):
//
//   - Broadcaster: go-ds-crdt's Broadcaster over one gossipsub topic, with
//     its own message codec (message.go: heads, and small blocks inline),
//     a topic validator, coalesced announcements, heads exchanged with
//     each joining peer on a stream (heads.go) rather than flooded to the
//     topic, rebroadcasts that leave out what others just announced, and
//     bounded background fetches of announced heads.
//   - Quarantine: the blockstore remote blocks are fetched into. They wait
//     in bounded memory until their delta is judged; only admitted blocks
//     reach the disk.
//   - ValidatingDAG: the DAG service go-ds-crdt reads through. Each node
//     must carry a valid delta signature (SignChunk, VerifyDelta) whose
//     author the access controller admits, with the access-control entries
//     of its causal past applied first.
//   - WatchStore: reports the CRDT keys a commit changed, after it is
//     durable, so the engine's read model never misses a change.
//   - Scores: gossipsub peer scoring for objectively malformed broadcasts.
//
// Nothing here imports package engine: what a broadcaster needs of its
// database is the Delegate interface and a Config, and a validating DAG
// takes a ValidatorConfig. Every decoder of network input is bounded and
// fuzzed, and no network input can panic a peer.
package replication
