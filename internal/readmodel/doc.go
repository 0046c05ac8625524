// Package readmodel is a database's read side: the materialised view of
// every document (JSON form, by collection, with secondary indexes) that
// finds and reads answer from, kept in step with go-ds-crdt's store.
//
// WatchStore wraps the datastore go-ds-crdt writes to and reports, after
// each commit is durable, the CRDT keys whose visible value changed; a
// Model re-reads those documents from the store (through crdt.StoreLayout,
// the one reader of go-ds-crdt's key layout) and installs them, unless a
// newer read of the same document came first. Local writes go through
// BeginLocal, Install and EndLocal so that a writer reads its own writes
// at once and never hides a remote change that raced it.
//
// A caller builds a Model with New, sets its OnChange and OnMeta delegates
// (and Durable, to make a remote change survive a crash before it is
// shown), calls Rebuild, then Run in a goroutine of its own until the
// database closes. Every method is safe for concurrent use; the Model's
// one lock is never held while the store is read.
package readmodel
