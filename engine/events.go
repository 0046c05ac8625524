package engine

import (
	"sync/atomic"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/latticedb/lattice/internal/replication"
)

// EventType says what happened in a database.
type EventType string

// Event types.
const (
	// EventWrite is a document changed by a write made on this peer.
	EventWrite EventType = "write"
	// EventReplicated is a document changed by a write from another replica.
	EventReplicated EventType = "replicated"
	// EventPeerJoined is a peer that joined the database's topic.
	EventPeerJoined EventType = "peer-joined"
	// EventPeerLeft is a peer that left the database's topic.
	EventPeerLeft EventType = "peer-left"
	// EventCatchup is the progress of a catch-up: a history this replica
	// lacked arriving on one stream (a few times a second while it runs,
	// and once with Done when it ends).
	EventCatchup EventType = "catchup"
)

// Event is one change observed in a database.
type Event struct {
	Type       EventType `json:"type"`
	Collection string    `json:"collection,omitempty"`
	ID         any       `json:"id,omitempty"`      // the document's _id
	Deleted    bool      `json:"deleted,omitempty"` // the document no longer exists
	Peer       peer.ID   `json:"peer,omitempty"`    // for peer events
	// Catchup is the progress of EventCatchup events.
	Catchup *CatchupProgress `json:"catchup,omitempty"`
}

// CatchupProgress is where a catch-up stands.
type CatchupProgress struct {
	Received  uint64 `json:"received"`  // blocks received so far
	Remaining int64  `json:"remaining"` // blocks known missing (an estimate: what lies below them is not known yet)
	Done      bool   `json:"done"`
}

// eventBuffer is each subscriber's channel capacity. A subscriber that falls
// this far behind misses events (counted in Stats.EventsDropped); events are
// notifications, the database is the source of truth.
const eventBuffer = 1024

// Stats are a database's replication counters since it was opened, and
// its state now (see replication.Stats for each figure).
type Stats = replication.Stats

// CatchupStats report catch-up: streams of a missing history from one
// peer, used when a replica learns a head whose past it lacks.
type CatchupStats = replication.CatchupStats

type counters struct {
	replication.Counters
	localWrites, remoteApplied, eventsDropped atomic.Uint64
}
