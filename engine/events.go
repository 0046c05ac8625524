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

// Stats are a database's replication counters since it was opened.
type Stats struct {
	LocalWrites   uint64 `json:"localWrites"`   // documents changed by local writes
	RemoteApplied uint64 `json:"remoteApplied"` // documents changed by remote writes
	Commits       uint64 `json:"commits"`       // deltas written locally
	HeadsSent     uint64 `json:"headsSent"`     // heads announced, for any cause
	// HeadsSentOnJoin is the share of HeadsSent announced on the topic
	// because a peer that cannot exchange heads (an older Lattice) joined
	// it; HeadsSent less this and Commits is heads forwarded from heads
	// exchanges and go-ds-crdt's rebroadcasts.
	HeadsSentOnJoin uint64 `json:"headsSentOnJoin"`
	// HeadsServed counts heads sent straight to joining peers that asked
	// for them (the heads exchange), not on the topic.
	HeadsServed uint64 `json:"headsServed"`
	PeerJoins   uint64 `json:"peerJoins"` // peers that joined the database's topic
	// LostSubscriptions counts peers gossipsub dropped from the topic
	// while they stayed connected with the database open; each was
	// reconnected so that pubsub starts afresh.
	LostSubscriptions uint64 `json:"lostSubscriptions"`
	// MergeRepairs counts visible values rewritten after concurrent
	// merges in go-ds-crdt left them wrong (a tombstoned element's value
	// brought back, or a live one's lost).
	MergeRepairs uint64 `json:"mergeRepairs"`
	// HeadsSuppressed counts heads left out of rebroadcasts because
	// another peer had announced them within the rebroadcast interval.
	HeadsSuppressed uint64       `json:"headsSuppressed"`
	HeadsReceived   uint64       `json:"headsReceived"` // heads received in valid messages
	HeadsDropped    uint64       `json:"headsDropped"`  // heads dropped because the queue was full
	FetchFailures   uint64       `json:"fetchFailures"` // announced heads whose block could not be fetched
	Rejected        uint64       `json:"rejected"`      // messages or blocks refused (malformed or unauthorised)
	Invalid         uint64       `json:"invalid"`       // remote deltas the database's validator refused
	BytesIn         uint64       `json:"bytesIn"`       // broadcast bytes received
	BytesOut        uint64       `json:"bytesOut"`      // broadcast bytes sent
	EventsDropped   uint64       `json:"eventsDropped"` // events a slow subscriber missed
	Reconnects      uint64       `json:"reconnects"`    // peers of the address book redialled successfully
	Resigned        uint64       `json:"resigned"`      // local deltas signed again because a remote head moved their height
	Catchup         CatchupStats `json:"catchup"`
	Heads           int          `json:"heads"`          // current DAG heads
	MaxHeight       uint64       `json:"maxHeight"`      // current DAG height
	QueuedHeads     int          `json:"queuedHeads"`    // heads waiting for go-ds-crdt
	PendingChanges  int          `json:"pendingChanges"` // merged changes not yet visible to queries
	Documents       int          `json:"documents"`      // live documents, all collections
	BlocksFetched   uint64       `json:"blocksFetched"`  // blocks received by bitswap (whole engine)
	BitswapDataIn   uint64       `json:"bitswapDataIn"`  // bytes received by bitswap (whole engine)
	BitswapDataOut  uint64       `json:"bitswapDataOut"` // bytes sent by bitswap (whole engine)

	// Peers is the number of peers subscribed to the database's topic now:
	// the replicas it syncs with, not every peer the node knows.
	Peers int `json:"peers"`

	History      HistoryStats  `json:"history"`      // the history held here (snapshot.go)
	LastSnapshot *SnapshotInfo `json:"lastSnapshot"` // the snapshot it stands on; null if none
}

// CatchupStats report catch-up: streams of a missing history from one
// peer, used when a replica learns a head whose past it lacks.
type CatchupStats struct {
	Runs      uint64 `json:"runs"`      // catch-up streams started
	Failures  uint64 `json:"failures"`  // refused or broken streams (another peer is asked)
	Blocks    uint64 `json:"blocks"`    // missing blocks received
	Bytes     uint64 `json:"bytes"`     // bytes of those blocks
	Remaining int64  `json:"remaining"` // blocks known missing and not yet received (an estimate: the history below them is not known yet)
	Running   bool   `json:"running"`   // a catch-up is under way
}

type counters struct {
	replication.Counters
	localWrites, remoteApplied, commits atomic.Uint64
	eventsDropped, reconnects           atomic.Uint64
	resigned                            atomic.Uint64 // deltas signed again: their height moved
}
