package snapshot

import (
	"fmt"
	"testing"
)

// TestCompactionKeepsStateAndShrinks: a replica compacts a history of
// overwrites and deletes; it shows the same values, keeps merging, a
// writer forked before the compaction merges on it, its history shrinks
// to the blocks of live versions, and it never fetches what it dropped.
func TestCompactionKeepsStateAndShrinks(t *testing.T) {
	w := newWorld(t)
	defer w.close()
	a, off := w.writer("A"), w.writer("Offline")
	var keys []string
	for i := 0; i < 4; i++ {
		keys = append(keys, fmt.Sprintf("/k%d", i))
	}
	a.put(keys[0], "first")
	w.deliver(a, off) // off forks here
	for i := 0; i < 40; i++ {
		k := keys[i%4]
		a.batch([]op{{key: k, del: true}, {key: k, value: fmt.Sprintf("v%d", i)}}) // overwrite, tombstoning what it saw
	}
	a.del(keys[3])
	before := a.state(keys)
	c := w.compact(a)
	if got := a.state(keys); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Fatalf("after compaction %v, before %v", got, before)
	}
	if c.Before.Blocks != 42 || c.After.Blocks != 4 {
		t.Fatalf("blocks %d -> %d, want 42 -> 4 (the live versions' blocks and the head)", c.Before.Blocks, c.After.Blocks)
	}
	if c.After.Bytes >= c.Before.Bytes/10 {
		t.Fatalf("bytes %d -> %d", c.Before.Bytes, c.After.Bytes)
	}
	off.del(keys[0])
	off.put(keys[3], "off")
	a.put(keys[1], "after")
	b := w.writer("B")
	w.syncAll(a, off, b)
	sameState(t, keys, b, a, off)
	// A second compaction, of a replica that compacted before.
	w.compact(a)
	sameState(t, keys, b, a)
}
