// Package indexeddb is a go-datastore (ds.Batching) on the browser's
// IndexedDB, for a Lattice peer running in a page (GOOS=js GOARCH=wasm):
// hand it to the engine with engine.WithDatastore, and the peer's data
// survives reloads, closed tabs and nights offline.
//
// Layout: one IndexedDB database per datastore, holding one object store
// "kv" whose keys are the datastore keys as binary (Uint8Array) keys, so
// IndexedDB orders them byte-wise as pebble does, and any byte sequence is
// a key; values are stored as Uint8Array. Every Put, Delete and batch
// Commit is one readwrite transaction, awaited until it completes: a
// returned write is committed. Transactions use IndexedDB's "relaxed"
// durability by default (committed to the browser's storage, not fsynced:
// a crash of the browser keeps it, a power cut may not); Options.Strict
// asks for "strict". A query reads everything under its prefix in one
// readonly transaction (a consistent snapshot), then filters, orders and
// pages it as go-datastore's naive query does.
//
// What a cleared or evicted browser storage means: the datastore, and with
// it every document the page held and its peer identity if kept there, is
// gone; the page starts as a new peer and catches up from others. Call
// navigator.storage.persist() to ask the browser not to evict it.
//
// The package builds only for js/wasm; its tests run in Chromium
// (indexeddb_test.go runs go-datastore's own suite, dstest, in a page).
package indexeddb
