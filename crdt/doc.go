// Package crdt maps JSON documents onto the keys of a go-ds-crdt Merkle-CRDT
// and back, and fixes what happens when replicas write concurrently.
//
// It is pure: plain functions over values, no I/O. The engine reads a
// document's live keys from go-ds-crdt, assembles them into a Doc, plans a
// write into a list of key Mutations, and writes those as one delta.
//
// # Building blocks
//
// go-ds-crdt is a key-value store in which every key is a multi-value
// register with add-wins removal: a Put adds a version, a Delete tombstones
// the versions the deleting replica has seen. The visible version is the one
// with the highest priority, which is the DAG height of the delta that wrote
// it (a replica with a longer history wins over a later write elsewhere); on
// equal height the byte-wise larger value wins. Lattice builds documents out
// of such keys (see keys.go for the layout):
//
//   - A base per creator: the whole document as one replica inserted or
//     replaced it, under the incarnation it created. Insert writes exactly
//     one key, whatever the document's size. The bases of one incarnation
//     merge field by field; a document exists while one of its bases is
//     live.
//   - A grave per deleted incarnation, holding its lineage length.
//   - A field register per top-level field written by an update, under the
//     incarnation. A register overrides the base value of its field, from
//     whichever creator. Its value is a plain value, an unset, a counter or
//     a set.
//   - A register per nested path ("a.b.c") written by an update whose
//     path leads through objects only, with its counter contributions and
//     set elements: a nested path is written as a top-level field is. Its
//     register names its parent: the identity of the register of its
//     nearest ancestor path shown (or of the base), and shows only while
//     that parent does, so an assignment of an ancestor hides it.
//   - Counter contributions: one key per (field, epoch, replica) holding that
//     replica's running total. Only its own replica writes it, and each write
//     sits higher in the DAG than the last, so it never conflicts.
//   - Set elements: one key per (field, epoch, element), element identity
//     being a hash of its canonical JSON.
//
// An epoch is derived from the exact register state a field is converted
// from, so two replicas that convert the same state concurrently (say, both
// $inc a plain number) write identical registers and share contributions.
// A counter converted from the base counts from the merged base's value of
// the field, whichever creators' bases merge into it.
//
// # Incarnations
//
// An incarnation is one life of an _id, from its creation to its delete or
// replacement; every key of a document lives under one. Its identity is
// what makes creation merge and deletion final at once:
//
//   - an insert (or an upsert that creates) derives it from the graves its
//     creator holds: "0" for an _id never deleted, otherwise a hash of the
//     buried incarnations, one generation longer than the longest. Replicas
//     that create an _id having seen the same deletions (usually none)
//     create the same incarnation, and their creations merge;
//   - a delete removes every key it has seen and leaves a grave for each
//     incarnation with a live base, so a creation after it derives a new
//     incarnation and shares no key with the deleted one;
//   - a replace mints a fresh nonce one generation beyond the incarnation it
//     replaces, and removes every key it has seen.
//
// When several incarnations have live bases (replaces concurrent with each
// other or with a creation, a creation concurrent with a delete it had not
// seen), the document shows the one of the longest lineage, ties to the
// larger name, as a whole; the others are garbage until a delete.
//
// # Conflict semantics
//
// These are the rules every replica applies; each is pinned by a test that
// makes the conflict happen between real replicas.
//
//   - insert vs insert of the same _id (replicas that had not seen each
//     other's creation): one document with the fields of both. A field both
//     set holds one of the two values, the byte-wise larger encoding (a
//     creation has no DAG height of its own to compare: this is the register
//     rule's tie-break). Updates after the merge apply to the merged
//     document.
//   - upsert vs upsert, upsert vs insert: an upsert that creates is the
//     insert of the filter's equality fields followed by its update, so the
//     update merges as an update would: $inc of a missing field is a
//     counter to which every upsert's increment adds (on top of a concurrent
//     insert's number in that field), $addToSet a set whose elements union,
//     and other operators assign registers, which override every creator's
//     base value.
//   - $set vs $set of the same field: one value wins, by DAG height, then by
//     the larger encoded value. Neither write is merged into the other.
//   - Writes to different top-level fields: both survive.
//   - Writes to different paths under one field ($set "a.b" and $set "a.c",
//     $unset "a.x", $set "a.c.d"): each path is its own register, so all
//     survive. Writes of one path resolve as $set vs $set above.
//   - A write of a path vs a concurrent assignment of an ancestor ($set "a"
//     or "a.c" vs $set "a.c.d"): the ancestor's assignment wins, whatever
//     the DAG heights: the path register names the ancestor state it was
//     written under, which the assignment replaced.
//   - A path leading through an array ("t.0.x"), and $rename, write the
//     whole top-level field: arrays are one register.
//   - $inc vs $inc (of a field or a nested path): increments add up,
//     whichever replicas made them. (Concurrent $inc of a path and of a path
//     below it, "n" and "n.x.z", each on a replica where the other did not
//     exist, cannot both show: a field is a number or an object. Replicas
//     agree on one, and the other's increments do not show.) Every
//     acknowledged $inc of a document never deleted nor replaced is in the
//     converged value, whatever ran concurrently with it on other fields or
//     at the document's creation; only an assignment of the field itself
//     (below) drops increments.
//   - $set (or $unset, $mul, $min, $max, $rename, $push) vs concurrent $inc
//     of the same field: the assignment wins and the concurrent increments
//     are dropped, unless the $inc's delta sits higher in the DAG, in which
//     case the counter (with the increments) wins. $mul, $min and $max of a
//     counter are assignments of the computed value.
//   - $addToSet vs $pull of the same element: add wins (a pull removes only
//     the additions it has seen). A set lists its elements as MongoDB's
//     $addToSet leaves an array on one replica: the array it was converted
//     from first, in its order and with its duplicates, then each new
//     element in the order of its first addition. Additions made
//     concurrently on several replicas follow in the order of the adding
//     replicas' names, the same on every replica. A $pull removes every
//     copy it has seen.
//   - $addToSet vs $set of the same field: as for counters, the register
//     with the higher priority wins, with all of its elements.
//   - $push and $pull of a field that is not yet a set are assignments.
//   - update vs delete: delete wins. An update writes under the incarnation
//     the updater saw; the delete removes its base, so the update never
//     shows. A later insert with the same _id has seen the delete's grave:
//     it starts a new incarnation and does not revive the old fields.
//   - insert vs delete, by a replica that had never seen the document: the
//     insert survives (add-wins), and it created the same incarnation as
//     the deleted creation, so updates the delete had not seen show with
//     it; counters keep each replica's running total as it last wrote it.
//   - replace vs update: replace wins; it starts a new incarnation.
//   - replace vs delete: the replacement survives (its base is a key the
//     deleter had not seen: add-wins).
//   - replace vs replace, or vs a concurrent creation: one incarnation
//     shows, as a whole (see Incarnations).
//   - $unset of a counter vs a concurrent $inc: the unset wins as above.
//
// Counters and sets live at any depth reached through objects: $inc
// "stats.views" on two replicas adds up, $addToSet "stats.by" unions, by
// the rules above. Nothing merges inside an array: an array is one value.
package crdt
