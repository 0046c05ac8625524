// Package sealing runs the sealed databases of an engine (docs/sealed.md):
// the I/O and bookkeeping around package seal's cryptography.
//
//   - A Sealer belongs to one open sealed database. It seals every
//     document, collection and index key and value just before they enter
//     go-ds-crdt's batch (SealMutation), opens them for the read model (it
//     is a readmodel.Codec), and folds the database's key packages and
//     member records (its /k/ entries) into a seal.Keyring (Apply). Before
//     a commit group is sealed, Prepare says which entries the group must
//     carry: the writer's member record, a new epoch after a removal, and
//     the current epoch wrapped to readers that miss it.
//   - Records is an engine's member key (made and stored on first use)
//     and the protocol that hands its signed public half to peers that
//     want to make this peer a reader.
//
// Which peers read is the access controller's to say when it is an
// accesscontrol.ReadGate; without one, the readers are the peers a writer
// shared the database with. Nothing here imports package engine.
package sealing
