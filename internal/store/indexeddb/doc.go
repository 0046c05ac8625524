// Package indexeddb is a go-datastore (ds.Batching) on the browser's
// IndexedDB, for a Lattice peer running in a page (GOOS=js GOARCH=wasm):
// hand it to the engine with engine.WithDatastore, and the peer's data
// survives reloads, closed tabs and nights offline.
//
// Layout: one IndexedDB database per datastore, holding one object store
// "kv" whose keys are the datastore keys as binary (Uint8Array) keys, so
// IndexedDB orders them byte-wise as pebble does, and any byte sequence is
// a key; values are stored as Uint8Array.
//
// Reads come from memory: Open loads the whole database into an in-memory
// B-tree (the mirror), and every read and query is answered from it. An
// IndexedDB transaction costs about 2 ms here, and go-ds-crdt reads a
// dozen keys for each delta it merges: read from IndexedDB, a 1,000-delta
// join took 22 s; from the mirror, see BENCHMARKS.md. The price is memory:
// the mirror holds everything the datastore holds (a to-do list of 10,000
// items is a few tens of megabytes), so this datastore is for a page's
// own databases, not an archive.
//
// Writes go behind: Put, Delete and a batch's Commit apply to the mirror
// at once (a batch all at once: no reader sees half of it) and join a
// queue that one goroutine hands to IndexedDB, everything queued in one
// readwrite transaction, in order. So what IndexedDB holds is always a
// prefix of the writes, whole batches only. Sync waits until every write
// returned before it is committed (the engine calls it after each local
// write, before the write returns, so a returned local write is on
// IndexedDB); a page closed in between loses the tail of the remote
// merges, which the peer fetches again, as pebble loses the writes after
// its last fsync. More than 8 MiB queued makes writers wait for a flush.
// A transaction that fails makes the datastore refuse every later write
// and Sync, naming the error; reopen it. Transactions use IndexedDB's
// "relaxed" durability by default (committed to the browser's storage,
// not fsynced: a crash of the browser keeps it, a power cut may not);
// Options.Strict asks for "strict".
//
// What a cleared or evicted browser storage means: the datastore, and with
// it every document the page held and its peer identity if kept there, is
// gone; the page starts as a new peer and catches up from others. Call
// navigator.storage.persist() to ask the browser not to evict it.
//
// The package builds only for js/wasm; its tests run in Chromium
// (indexeddb_test.go runs go-datastore's own suite, dstest, in a page).
package indexeddb
