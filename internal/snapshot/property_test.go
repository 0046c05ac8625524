package snapshot

import (
	"fmt"
	"testing"

	"pgregory.net/rapid"
)

// TestPropertySnapshotEqualsUncompacted: random histories on 2-4 writers
// (puts, deletes, multi-key batches, partial deliveries, so versions are
// concurrent and branches fork), a snapshot of a random replica at a
// random point, compactions of random replicas at random points, a
// joiner installed from it (and, in some cases, a second
// joiner from a snapshot of the first), then more random writes on every
// replica, the joiners included, by writers that forked before the
// snapshot too. After full anti-entropy every replica shows the same
// value for every key, and no joiner ever asked for a block its snapshot
// covers without carrying. The X/Y/Z case is
// TestSnapshotKeepsConcurrentVersionsXYZ.
//
// Short by default (rapid's 100 cases); the long run is
// go test ./internal/snapshot/ -run TestPropertySnapshotEqualsUncompacted -rapid.checks=10000
func TestPropertySnapshotEqualsUncompacted(t *testing.T) {
	keys := []string{"/a", "/b", "/c", "/a/x"}
	rapid.Check(t, func(rt *rapid.T) {
		w := newWorld(rt)
		defer w.close()
		nw := rapid.IntRange(2, 4).Draw(rt, "writers")
		var all []*replica
		for i := 0; i < nw; i++ {
			all = append(all, w.writer(fmt.Sprintf("W%d", i)))
		}
		serial := 0
		step := func(rs []*replica, label string) {
			r := rs[rapid.IntRange(0, len(rs)-1).Draw(rt, label+" replica")]
			switch rapid.IntRange(0, 6).Draw(rt, label+" op") {
			case 6:
				if len(r.heads()) > 0 && rapid.IntRange(0, 3).Draw(rt, "compact?") == 0 {
					w.compact(r)
				}
			case 0, 1:
				serial++
				r.put(rapid.SampledFrom(keys).Draw(rt, "key"), fmt.Sprintf("v%d", rapid.IntRange(0, serial).Draw(rt, "value")))
			case 2:
				r.del(rapid.SampledFrom(keys).Draw(rt, "key"))
			case 3:
				// Distinct keys: go-ds-crdt merges two versions of one
				// key in one delta order-dependently (docs/snapshots.md).
				var ops []op
				for _, k := range rapid.SliceOfNDistinct(rapid.SampledFrom(keys), 1, len(keys), rapid.ID[string]).Draw(rt, "batch keys") {
					serial++
					ops = append(ops, op{key: k, value: fmt.Sprintf("v%d", serial), del: rapid.Bool().Draw(rt, "delete")})
				}
				r.batch(ops)
			default:
				to := rs[rapid.IntRange(0, len(rs)-1).Draw(rt, label+" to")]
				if to != r {
					w.deliver(r, to)
				}
			}
		}
		for i, n := 0, rapid.IntRange(1, 30).Draw(rt, "steps before"); i < n; i++ {
			step(all, "before")
		}
		producer := all[rapid.IntRange(0, nw-1).Draw(rt, "producer")]
		if len(producer.heads()) == 0 {
			producer.put("/a", "first")
		}
		j := w.join("J", w.snapshot(producer))
		all = append(all, j)
		if rapid.Bool().Draw(rt, "second joiner") {
			for i, n := 0, rapid.IntRange(0, 10).Draw(rt, "steps between"); i < n; i++ {
				step(all, "between")
			}
			if len(j.heads()) > 0 {
				all = append(all, w.join("J2", w.snapshot(j)))
			}
		}
		for i, n := 0, rapid.IntRange(0, 30).Draw(rt, "steps after"); i < n; i++ {
			step(all, "after")
		}
		w.syncAll(all...)
		sameState(w.t, keys, all...)
	})
}
