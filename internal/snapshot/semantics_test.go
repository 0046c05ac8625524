package snapshot

import "testing"

// The X/Y/Z case of go-ds-crdt PR #369 (issue 21): X and Y write k
// concurrently, a snapshot is taken where both versions are live, Z (who
// saw only Y's version) deletes k. Uncompacted replicas keep X's value; a
// snapshot that kept only the winner (Y's: same height, larger bytes)
// would show k deleted.
func TestSnapshotKeepsConcurrentVersionsXYZ(t *testing.T) {
	w := newWorld(t)
	defer w.close()
	x, y, z, p := w.writer("X"), w.writer("Y"), w.writer("Z"), w.writer("P")
	x.put("/k", "x")
	y.put("/k", "y")
	w.deliver(y, z)
	w.deliver(x, p)
	w.deliver(y, p)
	if got := p.state([]string{"/k"})["/k"]; got != "y" {
		t.Fatalf("P shows %q before the snapshot, want the winner y", got)
	}
	j := w.join("J", w.snapshot(p))
	z.del("/k")
	w.syncAll(p, x, y, z, j)
	sameState(t, []string{"/k"}, p, x, y, z, j)
	if got := j.state([]string{"/k"})["/k"]; got != "x" {
		t.Fatalf("J shows %q, want X's version x", got)
	}
}

// A version overwritten on the same replica stays live in go-ds-crdt (a
// put tombstones nothing), and a delete names every live version its
// replica holds. A snapshot that kept only the antichain (the newest
// version) would let a delete made on the joiner miss the older one, and
// uncompacted replicas would show it again.
func TestSnapshotKeepsOverwrittenVersionsForDeletes(t *testing.T) {
	w := newWorld(t)
	defer w.close()
	a, b := w.writer("A"), w.writer("B")
	a.put("/k", "1")
	a.put("/k", "2")
	w.deliver(a, b)
	j := w.join("J", w.snapshot(a))
	j.del("/k")
	w.syncAll(a, b, j)
	sameState(t, []string{"/k"}, a, b, j)
	if st := a.state([]string{"/k"}); len(st) != 0 {
		t.Fatalf("A shows %v after J's delete, want nothing", st)
	}
}

// A writer offline since before the snapshot comes back: its branch
// links to blocks the joiner never had, and merges with the result an
// uncompacted history gives (its delete of a version the snapshot holds,
// its overwrite, its new key).
func TestSnapshotMergesBranchForkedBefore(t *testing.T) {
	w := newWorld(t)
	defer w.close()
	a, off := w.writer("A"), w.writer("Offline")
	a.put("/k1", "a1")
	a.put("/k2", "a2")
	w.deliver(a, off) // off forks here
	a.put("/k1", "a1b")
	a.put("/k3", "a3")
	a.del("/k2")
	j := w.join("J", w.snapshot(a))
	off.del("/k1")
	off.put("/k2", "off2")
	off.put("/k4", "off4")
	j.put("/k5", "j5")
	keys := []string{"/k1", "/k2", "/k3", "/k4", "/k5"}
	w.syncAll(a, off, j)
	sameState(t, keys, a, off, j)
	if got := j.state(keys); got["/k1"] != "a1b" || got["/k2"] != "off2" || got["/k4"] != "off4" {
		t.Fatalf("J shows %v", got)
	}
}

// A snapshot of a replica that joined from a snapshot covers both pasts.
func TestSnapshotOfSnapshotReplica(t *testing.T) {
	w := newWorld(t)
	defer w.close()
	a, off := w.writer("A"), w.writer("Offline")
	a.put("/k1", "1")
	w.deliver(a, off)
	a.put("/k1", "2")
	j1 := w.join("J1", w.snapshot(a))
	j1.put("/k2", "3")
	j2 := w.join("J2", w.snapshot(j1))
	off.del("/k1")
	off.put("/k3", "4")
	keys := []string{"/k1", "/k2", "/k3"}
	w.syncAll(a, off, j1, j2)
	sameState(t, keys, a, off, j1, j2)
}
