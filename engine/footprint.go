package engine

import (
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"

	"github.com/latticedb/lattice/internal/store"
)

// footprint is the table of the engine's sizes that trade memory and idle
// goroutines for headroom under load: queues, caches and worker pools of
// gossipsub, bitswap and go-ds-crdt. WithSmallFootprint picks the small
// one; everything else uses defaultFootprint.
type footprint struct {
	// gossipsub
	historyLength int           // heartbeats a message is kept for IWANT (gossipsub: 5)
	historyGossip int           // heartbeats of it advertised in IHAVE (gossipsub: 3)
	connectors    int           // goroutines dialling peer-exchange candidates (gossipsub: 8)
	seenTTL       time.Duration // how long a message id is remembered as seen (gossipsub: 2 min)
	validateQueue int           // messages waiting for validation
	outboundQueue int           // RPCs queued per peer
	// bitswap's server
	blockstoreWorkers int // goroutines reading the block store for peers
	taskWorkers       int // goroutines sending blocks to peers (boxo: 8)
	// go-ds-crdt
	dagWorkers int // goroutines processing fetched DAG nodes per database (go-ds-crdt: 5)
	// pebble, on disk
	store store.Sizes
}

// defaultFootprint is sized for a real node: one engine per process,
// hundreds of peers, bursts of thousands of messages.
var defaultFootprint = footprint{
	historyLength:     pubsub.GossipSubHistoryLength,
	historyGossip:     pubsub.GossipSubHistoryGossip,
	connectors:        pubsub.GossipSubConnectors,
	seenTTL:           pubsub.TimeCacheDuration,
	validateQueue:     1024,
	outboundQueue:     1024,
	blockstoreWorkers: bitswapBlockstoreWorkers,
	taskWorkers:       8,
	dagWorkers:        5,
	store:             store.DefaultSizes,
}

// smallFootprint is for many engines in one process (simulations, tests):
// a shorter gossip history and seen-message memory, and fewer idle
// workers. The mesh degrees (D, Dlo, Dhi) and every protocol message stay
// as they are, so small and default engines interoperate.
var smallFootprint = footprint{
	historyLength:     3,
	historyGossip:     2,
	connectors:        2,
	seenTTL:           30 * time.Second,
	validateQueue:     1024,
	outboundQueue:     1024,
	blockstoreWorkers: 2,
	taskWorkers:       2,
	dagWorkers:        2,
	// A 1 MiB memtable flushes every few thousand deltas; 1 MiB of cache
	// holds the index and filter blocks of a small store.
	store: store.Sizes{MemTable: 1 << 20, Cache: 1 << 20},
}

// gossipSubParams are gossipsub's defaults with the footprint's history
// and connectors.
func (f footprint) gossipSubParams() pubsub.GossipSubParams {
	p := pubsub.DefaultGossipSubParams()
	p.HistoryLength = f.historyLength
	p.HistoryGossip = f.historyGossip
	p.Connectors = f.connectors
	return p
}
