// Package accesscontrol decides who may write to a Lattice database.
//
// A database's manifest names its controller with a Config (a type and JSON
// parameters), so the database address pins the rules. When a database is
// opened the engine builds the Controller through a plugins.Registry and asks
// it, through CanWrite, about every local write before it is stored and every
// remote delta before it is merged. Reads are not controlled by a
// controller: a database is readable by whoever holds its address, unless
// it is sealed (see "Sealed databases" below).
//
// Four controllers are built in, each with a Config constructor and a
// factory:
//
//   - open (Open, NewOpen): anyone may write. AllowAll is its null object.
//   - static (Static, StaticReaders, NewStatic): a fixed list of writers,
//     and optionally of readers (for sealed databases), pinned by the
//     manifest.
//   - dynamic (Dynamic, NewDynamic): founding admins grant and revoke the
//     writer and admin roles with signed entries (NewGrant, NewRevoke)
//     replicated inside the database; see DynamicController.
//   - token (Token, NewToken): writers carry capability tokens signed by an
//     issuer key (IssueToken, ParseToken), bounded in time and optionally
//     to one collection; see TokenController.
//
// Custom controllers implement Controller (and Replicated if their state
// lives in the database), register a factory with a plugins.Registry and
// prove themselves with accesscontroltest.Run.
//
// # What the engine must do
//
// A controller judges a Write; it can only be as honest as the Write it is
// given. The engine must:
//
//   - Fill Write.Author from a signature it verified over the whole delta
//     (payload, collections, ACL entries, token and time), never from an
//     unsigned field, and fill Write.Database from the database it is
//     merging into, not from the message.
//   - Set Write.Collections to every collection the delta touches and
//     Write.ACL when it carries access-control entries or other entries
//     only admins may write (schema changes, see package validation).
//   - For a Replicated controller, store each entry under the reserved key
//     and Apply every entry it sees, local or remote, including those that
//     arrive inside deltas it merges by DAG sync. Entries in a delta
//     should be issued by the delta's author.
//   - Ask CanWrite before storing a local write and before merging a
//     remote delta, and refuse both on error.
//
// # Threat model
//
// Access control is about writes. What an attacker can still do:
//
//   - Read. Anyone who holds the address and can reach a peer can fetch the
//     database's blocks by CID and follow its pubsub topic. A database that
//     is not sealed is readable by them; a sealed one shows them ciphertext
//     and the metadata listed under "Sealed databases".
//   - Flood the topic with junk. The engine's validator rejects malformed
//     broadcasts, and gossipsub's peer score for their sender falls with
//     each; past a threshold its traffic is dropped unread. Well-formed
//     announcements from an author the controller refuses are ignored, not
//     scored: replicas may disagree about the controller's state for a
//     while, and an honest peer that relays them is not punished.
//     (engine: TestFloodJunkBroadcasts, TestFloodPhantomHeads,
//     TestRelayOfRefusedAnnouncementIsNotPenalised.)
//   - Rebroadcast old heads. Harmless: blocks are content-addressed, so a
//     rebroadcast head names blocks that were authorised when first written,
//     and merging them again is a no-op. (engine: TestReplayedAnnouncements.)
//   - Replay a signed write as it is. Harmless: a replayed delta is the
//     same block, already merged or merged once. A write cannot be
//     re-targeted to another database, since the engine's signature covers
//     it and Write.Database comes from the receiving database.
//     (engine: TestReplayedAnnouncements; internal/replication:
//     TestVerifyDelta, "other database".)
//   - Re-publish a writer's signed elements in a block of its own, to set
//     a key back to a value its author wrote earlier (registers resolve
//     conflicts by height, so the copy would only need a greater one).
//     Refused: the signature binds the delta's height, and a receiver
//     refuses a delta found at another height than the one signed. A copy
//     at the signed height with other links changes nothing a register
//     shows. What stays open: deltas signed before heights were bound
//     (envelopes without a height) can still be copied to any height.
//     (engine: TestReplayAtGreaterHeightCannotRollBack,
//     TestDeltaSignedAgainWhenItsHeightMoves; internal/replication:
//     TestVerifyDelta, "replayed higher".)
//   - Keep writing after revocation, for a while. Replicas judge a delta by
//     the controller state they hold when they receive it. A writer revoked
//     while it (or the replica) is offline is still accepted by any replica
//     that has not yet received the revocation, and once a delta is merged
//     it stays merged: revocation is not retroactive and does not undo
//     writes. Conversely a replica that learns of a grant late refuses the
//     grantee's deltas until it does, and only a later rebroadcast or DAG
//     walk brings them back. So replicas agree on the controller state once
//     they hold the same entries, but may disagree for a while about which
//     deltas were admitted. Revocation guarantees that once a replica holds
//     the revocation it refuses every later delta from the revoked peer.
//     (engine: TestDynamicGrantAndRevokeWithOfflineReplica; here:
//     TestDynamicScenarios, TestDynamicOrderIndependence.)
//   - Backdate. Write.Time is the author's claim. A write may not claim a
//     time more than MaxClockSkew before the writes it builds on
//     (Write.After, read by the engine from the deltas it links to): the
//     token controller judges it at that later time (EffectiveTime), so a
//     holder whose token expired cannot backdate a write on top of
//     anything written after the expiry. What stays open: a holder that
//     builds only on writes from before its expiry (its own, in a quiet
//     database) can still sign writes dated before the expiry, and a holder
//     can date a write in the future to use a token before its NotBefore.
//     The receiver's clock is not used: an offline device that wrote before
//     its token expired must still sync afterwards. Expiry bounds honest
//     use, not a malicious holder: issue short tokens to peers you would
//     not mind writing until then. (engine: TestTokens,
//     TestBackdatedWriteOnLaterHistoryIsRefused; here: TestEffectiveTime,
//     TestTokenController.)
//   - Backdate entries. A dynamic admin that is revoked keeps a key that can
//     still sign entries with a Lamport time below its revocation, and those
//     take effect. Revocation of an admin stops an honest admin; it does not
//     contain a stolen admin key. A rogue admin can also sign entries at
//     MaxLamport that no later entry can override. Founding admins cannot be
//     revoked, so they keep control of the database; against a stolen
//     founder key the remedy is a new database. (TestDynamicEntriesAndLamport,
//     TestDynamicRefusesInvalidEntries.)
//   - Write garbage within its rights. A Byzantine writer may write any
//     well-formed data to the collections it may write, sign conflicting
//     deltas (equivocate), or flood. Controllers bound who writes, not what:
//     a database's validator (package validation) bounds what.
//   - Make a replica hold blocks that are never merged, but not on disk.
//     A peer the broadcast gate admits (any signer, for the open and token
//     controllers) can announce heads with inline blocks, and any peer can
//     answer a bitswap request. The engine holds such blocks in memory, in
//     a quarantine bounded to 32 MiB and evicted oldest first, and writes a
//     block to disk only once the delta it holds has a valid signature
//     whose author the controller admits. A refused block is dropped at
//     once. Quarantined blocks are not served over bitswap. The cost an
//     attacker can impose is bandwidth and the CPU to verify a signature
//     per block, not storage. (internal/replication: TestQuarantine; engine:
//     TestFloodPhantomHeads, TestEvictedQueuedHeadIsFetchedAgain,
//     TestStaticNonWritersCannotWrite.)
//
// # Sealed databases
//
// A manifest with "sealed": true (engine.WithSealed) makes the database
// readable by its members only: readers, writers (a writer is a reader)
// and admins. A controller says who reads by implementing ReadGate
// (static: its writers and readers; dynamic: its admins, writers and RoleReader
// grants); without one (open, token: a token with a read right is not
// built yet) the readers are the peers a writer shared the database with
// (engine.Database.Share), and nobody can be removed. The conformance
// suite checks a ReadGate. The full design is in docs/sealed.md and the
// primitives in internal/seal. In short:
//
//   - Each member has an HPKE key pair (X25519 by default; the ML-KEM-768
//     hybrid optional) apart from its libp2p identity, published as a
//     record signed by that identity.
//   - Content is sealed under epoch keys (32 random bytes), wrapped per
//     reader in key packages: entries under /k/ replicated inside the
//     database, signed by their issuer and judged like ACL entries. Each
//     epoch links the keys of the level below, so members read history.
//     Removing a reader starts a new epoch it is not wrapped to. The
//     current epoch is the highest-level epoch wrapped only to current
//     readers, ties to the smallest id: concurrent rotations converge.
//   - Values are sealed with a key-committing AEAD bound to their key and
//     database; key components (collection names, document ids, field
//     names, ...) are sealed deterministically (SIV) under a per-database
//     name key, so merges, counters and prefix scans work unchanged.
//   - The delta signature covers the sealed elements: relays and
//     replicators verify and judge without a key.
//
// What a non-member that holds the address and every block still sees:
// the manifest (name, controller and its peer IDs); ACL entries; key
// package metadata (epochs, issuers, reader counts, 8-byte reader tags);
// every delta's author, time, height and links; the shape of every key
// (how many collections, documents, fields, counters, set elements,
// deletions) and which keys change together; equality of key components;
// value and component sizes in 16-byte steps; timing.
//
// What a removed reader keeps: what it could read before, and the name
// key, so the key components (not the values) of later writes. Writes
// made by a writer that has not yet received the revocation are sealed
// under the old epoch. Not given: forward secrecy of content (new members
// read history by design), hiding the metadata above.
package accesscontrol
