package engine

import (
	"time"

	"github.com/latticedb/lattice/internal/replication"
	"github.com/latticedb/lattice/internal/store"
)

// footprint is the table of the engine's sizes that trade memory and idle
// goroutines for headroom under load: queues, caches and worker pools of
// gossipsub, bitswap and go-ds-crdt. WithSmallFootprint picks the small
// one; everything else uses defaultFootprint.
type footprint struct {
	// gossipsub and bitswap's server (replication.NodeConfig's sizes)
	node replication.NodeConfig
	// go-ds-crdt
	dagWorkers int // goroutines processing fetched DAG nodes per database (go-ds-crdt: 5)
	// pebble, on disk
	store store.Sizes
}

// defaultFootprint is sized for a real node: one engine per process,
// hundreds of peers, bursts of thousands of messages.
var defaultFootprint = footprint{
	node:       replication.DefaultNodeConfig(),
	dagWorkers: 5,
	store:      store.DefaultSizes,
}

// smallFootprint is for many engines in one process (simulations, tests):
// a shorter gossip history and seen-message memory, and fewer idle
// workers. The mesh degrees (D, Dlo, Dhi) and every protocol message stay
// as they are, so small and default engines interoperate.
var smallFootprint = footprint{
	node:       smallNode(),
	dagWorkers: 2,
	// A 1 MiB memtable flushes every few thousand deltas; 1 MiB of cache
	// holds the index and filter blocks of a small store.
	store: store.Sizes{MemTable: 1 << 20, Cache: 1 << 20},
}

func smallNode() replication.NodeConfig {
	n := replication.DefaultNodeConfig()
	n.HistoryLength = 3
	n.HistoryGossip = 2
	n.Connectors = 2
	n.SeenTTL = 30 * time.Second
	n.BlockstoreWorkers = 2
	n.TaskWorkers = 2
	return n
}
