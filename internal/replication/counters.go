package replication

import "sync/atomic"

// Counters are the replication counters of one database. Every field is
// updated atomically, so one Counters may be shared by a database's
// broadcaster and its validating DAG and read at any time.
type Counters struct {
	HeadsSent     atomic.Uint64 // heads announced
	HeadsReceived atomic.Uint64 // heads in announcements received
	HeadsDropped  atomic.Uint64 // heads dropped: queue or per-peer fetch bound reached
	FetchFailures atomic.Uint64 // announced heads whose blocks could not be fetched
	Rejected      atomic.Uint64 // malformed messages and refused deltas or authors
	BytesIn       atomic.Uint64 // broadcast bytes received
	BytesOut      atomic.Uint64 // broadcast bytes sent
	Catchup       CatchupCounters
}
