package engine

import "sort"

// Stats returns the database's replication counters.
func (db *Database) Stats() Stats {
	s := Stats{
		LocalWrites:       db.stats.localWrites.Load(),
		RemoteApplied:     db.stats.remoteApplied.Load(),
		Commits:           db.stats.commits.Load(),
		HeadsSent:         db.stats.HeadsSent.Load(),
		HeadsSentOnJoin:   db.stats.HeadsSentOnJoin.Load(),
		PeerJoins:         db.stats.PeerJoins.Load(),
		LostSubscriptions: db.stats.LostSubscriptions.Load(),
		MergeRepairs:      db.stats.MergeRepairs.Load(),
		HeadsServed:       db.stats.HeadsServed.Load(),
		HeadsSuppressed:   db.stats.HeadsSuppressed.Load(),
		HeadsReceived:     db.stats.HeadsReceived.Load(),
		HeadsDropped:      db.stats.HeadsDropped.Load(),
		FetchFailures:     db.stats.FetchFailures.Load(),
		Rejected:          db.stats.Rejected.Load(),
		Invalid:           db.stats.Invalid.Load(),
		BytesIn:           db.stats.BytesIn.Load(),
		BytesOut:          db.stats.BytesOut.Load(),
		EventsDropped:     db.stats.eventsDropped.Load(),
		Reconnects:        db.stats.reconnects.Load(),
		Resigned:          db.stats.resigned.Load(),
		Catchup: CatchupStats{
			Runs:      db.stats.Catchup.Runs.Load(),
			Failures:  db.stats.Catchup.Failures.Load(),
			Blocks:    db.stats.Catchup.Blocks.Load(),
			Bytes:     db.stats.Catchup.Bytes.Load(),
			Remaining: db.stats.Catchup.Remaining.Load(),
			Running:   db.rep != nil && db.rep.CatchingUp(),
		},
	}
	if store := db.store(); store != nil {
		is := store.InternalStats(db.ctx)
		s.Heads, s.MaxHeight, s.QueuedHeads = len(store.Heads(db.ctx)), is.MaxHeight, is.QueuedJobs
	}
	if db.rep != nil {
		s.QueuedHeads += db.rep.Queued() // waiting for go-ds-crdt or for their block
		s.Peers = db.rep.Peers()
	}
	db.historyStats(&s)
	s.PendingChanges = db.mat.Pending()
	s.Documents = db.mat.LiveDocuments()
	if fs, err := db.e.node.FetchStats(); err == nil {
		s.BlocksFetched, s.BitswapDataIn, s.BitswapDataOut = fs.Blocks, fs.BytesIn, fs.BytesOut
	}
	return s
}

// Heads returns the CIDs of the database's current DAG heads, sorted.
// Replicas whose heads differ have not seen the same writes. Equal heads
// with no queued or pending work (Stats.QueuedHeads, Stats.PendingChanges)
// are a strong sign of agreement but not a proof: go-ds-crdt records a head
// before it finishes walking a branch another of its workers is merging, so
// for a moment the documents may still differ. Compare documents to be sure.
func (db *Database) Heads() []string {
	store := db.store()
	if store == nil {
		return nil
	}
	hs := store.Heads(db.ctx)
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.String()
	}
	sort.Strings(out)
	return out
}
