package replication

import "sync/atomic"

// Counters are the replication counters of one database. Every field is
// updated atomically, so one Counters may be shared by a database's
// broadcaster and its validating DAG and read at any time.
type Counters struct {
	HeadsSent atomic.Uint64 // heads announced on the topic, for any cause
	// HeadsSentOnJoin is the share of HeadsSent announced because a peer
	// that cannot exchange heads joined the topic (the rest are local
	// commits, heads forwarded from an exchange and go-ds-crdt's
	// rebroadcasts).
	HeadsSentOnJoin atomic.Uint64
	HeadsServed     atomic.Uint64 // heads sent to peers in heads exchanges (see HeadsProtocol)
	PeerJoins       atomic.Uint64 // peers that joined the topic
	// LostSubscriptions counts peers gossipsub dropped from the topic
	// while they stayed connected with the database open (see
	// Config.LostSubscription).
	LostSubscriptions atomic.Uint64
	// HeadsSuppressed counts heads go-ds-crdt's rebroadcast would have
	// announced again but another peer had announced within its interval.
	HeadsSuppressed atomic.Uint64
	HeadsReceived   atomic.Uint64 // heads in announcements received
	HeadsDropped    atomic.Uint64 // heads dropped: queue or per-peer fetch bound reached
	FetchFailures   atomic.Uint64 // announced heads whose blocks could not be fetched
	Rejected        atomic.Uint64 // malformed messages and refused deltas or authors
	// Invalid counts remote deltas the database's validator refused (a
	// share of Rejected when they came in a message).
	Invalid  atomic.Uint64
	BytesIn  atomic.Uint64 // broadcast bytes received
	BytesOut atomic.Uint64 // broadcast bytes sent
	// MergeRepairs counts visible values the merge guard rewrote after
	// concurrent merges left them wrong (see mergeguard.go).
	MergeRepairs atomic.Uint64
	Catchup      CatchupCounters
	// Commits counts local deltas committed (Replica.Commit); Resigned
	// those signed again because a remote head moved their height.
	Commits, Resigned atomic.Uint64
	Reconnects        atomic.Uint64 // peers of the address book redialled successfully
}
