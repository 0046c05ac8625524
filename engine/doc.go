// Package engine is Lattice's peer: it opens replicated document databases
// and serves them through an API shaped like the MongoDB Go driver.
//
// An Engine is one peer: a libp2p host, its replication (gossipsub, bitswap
// for DAG blocks, catch-up: internal/replication's Node), and a local store
// (pebble on disk by default). A Database is one Merkle-CRDT (go-ds-crdt)
// over its own namespace of that store, announced on its own pubsub topic
// (a replication Replica), read through a materialised view
// (internal/readmodel); it is addressed by the content address of its
// manifest, /lattice/<manifest CID>/<name>, so the address pins its name and
// its access rules. Databases hold collections of JSON documents; documents
// are CRDT maps (see package crdt for the merge rules), so replicas that
// write concurrently converge without coordination.
//
// # Using it
//
//	e, err := engine.New(ctx, engine.WithDataDir(dir))
//	db, err := e.Create(ctx, "TodoList", engine.WithAccess(accesscontrol.Open()))
//	todos := db.Collection("todos")
//	res, err := todos.InsertOne(ctx, engine.M{"title": "milk", "isDone": false})
//	cur, err := todos.Find(ctx, engine.M{"isDone": false}, query.Sort("title", 1))
//
// On another peer, e.Open(ctx, address) fetches the manifest from connected
// peers and starts replicating. Connect peers with Engine.Connect or a
// bootstrap list (WithBootstrap); a peer behind a NAT keeps reservations on
// circuit relays (WithRelays, and package transports/relay for the relay)
// and is reached through them. Peers can also be found (WithDiscovery, and
// package discovery): on the LAN by mDNS, per database on a private DHT,
// or by a source of the caller's own; Open looks for the database's peers
// while it fetches the manifest.
//
// # Guarantees
//
//   - A write returns once it is committed to the local store, its
//     write-ahead-log records are handed to the operating system (it
//     survives the process being killed; the log is fsynced every 100 ms,
//     or before the write returns with WithSyncWrites(true), which makes it
//     survive power loss too) and it is visible to reads on this peer.
//   - What a replica shows of remote writes (reads, events) is as durable
//     as a local write: the merged changes' log records are handed to the
//     operating system before the view shows them, so a replica killed
//     while it receives keeps everything it showed. The rule for the
//     markers go-ds-crdt keeps (heads, processed blocks): they may reach
//     the disk ahead of the branch below them, so the head being merged is
//     journaled first, and at the next start an interrupted merge becomes
//     a head again and go-ds-crdt's repair merges the rest of its branch
//     (see internal/replication's Journal). A restarted replica then takes
//     the rest of the history like any other.
//   - Each write call is atomic: InsertMany, UpdateMany and DeleteMany change
//     all their documents or none, and an invalid filter, update or document
//     changes nothing.
//   - Replicas that have received the same writes hold the same documents
//     (strong eventual consistency), whatever the order they received them
//     in; Database.Heads and Stats tell when two replicas have.
//   - Only writers the database's access controller admits change it: every
//     delta is signed and judged before it is merged (see accesscontrol),
//     and blocks from the network wait in a bounded memory quarantine until
//     their delta is admitted, so nothing refused reaches the disk.
//   - A peer that sends malformed broadcasts loses gossipsub score and is
//     soon ignored (Engine.PeerScore); honest peers are never penalised for
//     relaying announcements another replica's controller refuses.
//
// # Builds
//
// A native build makes its own host (package transports, WithTransports,
// WithNAT, WithLibp2pOptions) and keeps its data in pebble. The engine
// core also builds for GOOS=js GOARCH=wasm, where neither exists: such an
// engine runs on a host given with WithHost, in memory (WithInMemory).
//
// # Concurrency and lifecycle
//
// Engines, databases and collections are safe for concurrent use. Close an
// Engine to stop every goroutine it started; closing a Database stops
// replicating it. Concurrent writes on one peer are group-committed: they
// share deltas, which is what makes concurrent inserts fast.
package engine
