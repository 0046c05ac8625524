package engine

import "sort"

// Stats returns the database's replication counters and state.
func (db *Database) Stats() Stats {
	var s Stats
	if db.rep != nil {
		s = db.rep.Stats(db.ctx)
	}
	s.LocalWrites, s.RemoteApplied = db.stats.localWrites.Load(), db.stats.remoteApplied.Load()
	s.EventsDropped = db.stats.eventsDropped.Load()
	s.PendingChanges, s.Documents = db.mat.Pending(), db.mat.LiveDocuments()
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
