package replication

import "testing"

// TestAutoCompactDue: a compaction is due once the merged blocks reach
// both the minimum and the factor times the live documents (at least
// one), never with a zero factor or no count of the live state.
func TestAutoCompactDue(t *testing.T) {
	live := func(n int) func() int { return func() int { return n } }
	for _, c := range []struct {
		a      AutoCompact
		merged int64
		want   bool
	}{
		{AutoCompact{Factor: 4, MinBlocks: 10, Live: live(100)}, 399, false},
		{AutoCompact{Factor: 4, MinBlocks: 10, Live: live(100)}, 400, true},
		{AutoCompact{Factor: 4, MinBlocks: 1000, Live: live(100)}, 999, false},
		{AutoCompact{Factor: 4, MinBlocks: 1000, Live: live(100)}, 1000, true},
		{AutoCompact{Factor: 2, MinBlocks: 1, Live: live(0)}, 1, false}, // an empty database counts as one document
		{AutoCompact{Factor: 2, MinBlocks: 1, Live: live(0)}, 2, true},
		{AutoCompact{Factor: 0, MinBlocks: 1, Live: live(1)}, 1 << 40, false},
		{AutoCompact{Factor: 2, MinBlocks: 1}, 1 << 40, false},
	} {
		if got := c.a.due(c.merged); got != c.want {
			t.Errorf("factor %v min %d, %d merged: due %v, want %v", c.a.Factor, c.a.MinBlocks, c.merged, got, c.want)
		}
	}
}
