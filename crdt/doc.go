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
//   - A document marker holds the document's incarnation (a fresh nonce) and
//     its base: the whole document as inserted or replaced. Insert writes
//     exactly one key, whatever the document's size.
//   - A field register per top-level field written by an update, under the
//     incarnation. A register overrides the base value of its field. Its
//     value is a plain value, an unset, a counter or a set.
//   - Counter contributions: one key per (field, epoch, replica) holding that
//     replica's running total. Only its own replica writes it, and each write
//     sits higher in the DAG than the last, so it never conflicts.
//   - Set elements: one key per (field, epoch, element), element identity
//     being a hash of its canonical JSON.
//
// An epoch is derived from the exact register state a field is converted
// from, so two replicas that convert the same state concurrently (say, both
// $inc a plain number) write identical registers and share contributions.
//
// # Conflict semantics
//
// These are the rules every replica applies; each is pinned by a test that
// makes the conflict happen between real replicas.
//
//   - $set vs $set of the same field: one value wins, by DAG height, then by
//     the larger encoded value. Neither write is merged into the other.
//   - Writes to different top-level fields: both survive.
//   - Writes to different paths under one top-level field ($set "a.b" and
//     $set "a.c"): the field is one register, so one of the two whole values
//     of "a" wins. Merge is per top-level field.
//   - $inc vs $inc: increments add up, whichever replicas made them.
//   - $set (or $unset, $mul, $min, $max, $rename, $push) vs concurrent $inc
//     of the same field: the assignment wins and the concurrent increments
//     are dropped, unless the $inc's delta sits higher in the DAG, in which
//     case the counter (with the increments) wins. $mul, $min and $max of a
//     counter are assignments of the computed value.
//   - $addToSet vs $pull of the same element: add wins (a pull removes only
//     the additions it has seen). Sets hold each element once and list
//     elements in query comparison order, not insertion order.
//   - $addToSet vs $set of the same field: as for counters, the register
//     with the higher priority wins, with all of its elements.
//   - $push and $pull of a field that is not yet a set are assignments.
//   - update vs delete: delete wins. An update writes under the incarnation
//     the updater saw; the delete removes the marker, so the update never
//     shows. A later insert with the same _id starts a new incarnation and
//     does not revive the old fields.
//   - replace vs update: replace wins; it starts a new incarnation.
//   - replace vs delete: the replacement survives (its marker is a version
//     the deleter had not seen: add-wins).
//   - insert vs insert of the same _id: one whole document wins (marker
//     register rule); fields are not merged.
//   - $unset of a counter vs a concurrent $inc: the unset wins as above.
//
// Only top-level fields are counters or sets; $inc "a.b" is an assignment of
// the whole field "a".
package crdt
