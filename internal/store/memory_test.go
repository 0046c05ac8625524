package store

import (
	"testing"

	dstest "github.com/ipfs/go-datastore/test"
)

// The in-memory store passes go-datastore's conformance suite (prefix
// queries, filters, orders, limits, batches), as the map it replaces did.
func TestMemoryDatastoreSuite(t *testing.T) {
	dstest.SubtestAll(t, newMemory())
}
