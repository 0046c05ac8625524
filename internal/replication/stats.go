package replication

import (
	"context"
	"time"
)

// Stats are a database's replication counters since it was opened, and
// its state now. Replica.Stats fills every figure but the document
// engine's own, which it adds: LocalWrites, RemoteApplied, EventsDropped,
// PendingChanges and Documents.
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

	History      HistoryStats  `json:"history"`      // the history held here
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

// HistoryStats are what a database's history holds on this replica.
type HistoryStats struct {
	// Blocks and Bytes: the blocks merged and still stored, and their
	// bytes. Measured once after the database opens (Measured), then kept
	// current as blocks merge and compactions finish; exact when nothing
	// merged during a measurement.
	Blocks   int   `json:"blocks"`
	Bytes    int64 `json:"bytes"`
	Measured bool  `json:"measured"`
	// Merged counts blocks merged since the last compaction (or the
	// open): what automatic compaction weighs against the live state.
	Merged int64 `json:"merged"`
	// Compactions finished since the database opened.
	Compactions uint64 `json:"compactions"`
}

// SnapshotInfo describes the snapshot a replica stands on: the one it was
// installed from or last compacted to.
type SnapshotInfo struct {
	Height   uint64    `json:"height"` // its highest head's height
	Time     time.Time `json:"time"`   // when it was produced, by its producer's clock
	Producer string    `json:"producer"`
	Covered  int       `json:"covered"` // blocks in its past
}

func (r *Replica) historyStats(s *Stats) {
	h := r.History()
	s.History = HistoryStats{Blocks: h.Blocks, Bytes: h.Bytes, Measured: h.Measured, Merged: h.Merged, Compactions: r.Compactions()}
	if h.Last != nil {
		info := &SnapshotInfo{Time: h.Last.Time, Producer: h.Last.Producer.String(), Covered: h.Last.Coverage.Len()}
		for _, hd := range h.Last.Heads {
			info.Height = max(info.Height, hd.Height)
		}
		s.LastSnapshot = info
	}
}

// Stats reports the replica's figures: every field of Stats but the
// document engine's own. A closed replica reports its counters and
// history only.
func (r *Replica) Stats(ctx context.Context) Stats {
	c := r.cfg.Counters
	s := Stats{
		Commits:           c.Commits.Load(),
		HeadsSent:         c.HeadsSent.Load(),
		HeadsSentOnJoin:   c.HeadsSentOnJoin.Load(),
		PeerJoins:         c.PeerJoins.Load(),
		LostSubscriptions: c.LostSubscriptions.Load(),
		MergeRepairs:      c.MergeRepairs.Load(),
		HeadsServed:       c.HeadsServed.Load(),
		HeadsSuppressed:   c.HeadsSuppressed.Load(),
		HeadsReceived:     c.HeadsReceived.Load(),
		HeadsDropped:      c.HeadsDropped.Load(),
		FetchFailures:     c.FetchFailures.Load(),
		Rejected:          c.Rejected.Load(),
		Invalid:           c.Invalid.Load(),
		BytesIn:           c.BytesIn.Load(),
		BytesOut:          c.BytesOut.Load(),
		Reconnects:        c.Reconnects.Load(),
		Resigned:          c.Resigned.Load(),
		Catchup: CatchupStats{
			Runs:      c.Catchup.Runs.Load(),
			Failures:  c.Catchup.Failures.Load(),
			Blocks:    c.Catchup.Blocks.Load(),
			Bytes:     c.Catchup.Bytes.Load(),
			Remaining: c.Catchup.Remaining.Load(),
			Running:   r.CatchingUp(),
		},
		QueuedHeads: r.Queued(), // waiting for go-ds-crdt or for their block
		Peers:       r.Peers(),
	}
	is := r.InternalStats(ctx) // zero once closed
	s.Heads, s.MaxHeight, s.QueuedHeads = len(r.Heads(ctx)), is.MaxHeight, s.QueuedHeads+is.QueuedJobs
	r.historyStats(&s)
	if fs, err := r.n.FetchStats(); err == nil {
		s.BlocksFetched, s.BitswapDataIn, s.BitswapDataOut = fs.Blocks, fs.BytesIn, fs.BytesOut
	}
	return s
}
