// Package snapshot makes a database's history stop mattering: a signed
// snapshot of a replica's state that a new replica installs instead of
// replaying the history, and into which any branch, even one forked long
// before, still merges with exactly the result the uncompacted history
// gives. docs/snapshots.md is the design; this is its summary.
//
// # What a snapshot is
//
// A Snapshot, signed by its producer over the database's address:
//
//   - Heads: the frontier blocks and their heights (go-ds-crdt
//     priorities).
//   - Coverage: the exact set of blocks in the frontier's past, as 16-byte
//     digests of their multihashes, sorted. go-ds-crdt decides "already
//     merged" from a link's multihash alone (before fetching it), and a
//     covered block may be gone everywhere, so the coverage must answer
//     from the multihash: a per-author version vector cannot (it needs the
//     block to read the author).
//   - Live: every live version of every key, with its original element
//     id (the block that wrote it) and that block's height. Every live
//     version, not the antichain of the newest ones: in go-ds-crdt a put
//     tombstones nothing and a delete tombstones every version its replica
//     holds, so a replica that dropped an overwritten version would, on
//     deleting the key, leave that version live on every other replica
//     (TestSnapshotKeepsOverwrittenVersionsForDeletes). Concurrent
//     versions are kept for the same reason, which is go-ds-crdt PR #369's
//     winner-only divergence (TestSnapshotKeepsConcurrentVersionsXYZ).
//     Delta signatures (crdt.KindSig keys) are left out: never state,
//     never deleted.
//   - The access-control state needs no field of its own: a replicated
//     controller's entries are keys of the database (crdt.ACLKey), live
//     versions like any other.
//
// A Bundle carries the snapshot and the blocks it needs: each block
// holding a live version (go-ds-crdt re-reads them when a delete arrives)
// and the heads' blocks.
//
// # Who may produce one
//
// A new access-control question, Producers.CanSnapshot, which a controller
// answers by implementing it; otherwise ProducerRule: a writer under a
// static controller, an admin under a dynamic one, nobody yet under token
// and open controllers (a snapshot right in tokens, and k attestations
// for open databases, are the next steps).
//
// # Receiving one
//
// Verifier.Verify checks, without the history: the signature and the
// producer's right; that the coverage holds every head, every live
// version's block and every link of a carried block, and at least as many
// blocks as the highest head's height; that every listed version is in a
// carried block at its height; and every carried block's judgment as any
// remote delta (signature, height, access controller). Each failure has
// its error (ErrBadSignature, ErrUnauthorizedProducer, ErrFalseCoverage,
// ErrMissingLiveElement, ErrBlockRefused, ErrWrongDatabase).
//
// Install writes a verified bundle into an empty replica in one batch
// (the blocks first, content-addressed). The replica's go-ds-crdt then
// runs over a CoveredStore, which answers "processed" for every covered
// block: a walk down any branch stops at the snapshot's past without
// fetching it, so a writer that forked before the snapshot merges its
// branch on the joiner, and the tail above the snapshot is merged by the
// usual catch-up.
//
// # Compaction
//
// Compact turns a closed replica's history into a snapshot of itself: the
// coverage is recorded first, then covered blocks without a live version,
// their markers, dead versions and their tombstones, and the signatures of
// dropped blocks are deleted in bounded batches; the blocks of live
// versions stay. CompactLive does the same beside an open go-ds-crdt
// instance that keeps merging: its deletions go through a Batcher the
// caller gives (Lattice's merge guard), and blocks only after Settle.
package snapshot
