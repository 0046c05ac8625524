// Package store opens a Lattice peer's local datastore: pebble on disk,
// tuned for go-ds-crdt, with the durability levels the engine promises
// (a returned write survives kill -9; with syncWrites, power loss too), or
// a map in memory for tests and throwaway peers.
package store
