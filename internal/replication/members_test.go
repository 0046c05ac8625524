package replication

import (
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/require"
)

// TestLeftSince: a broadcaster remembers for a minute which peers left its
// topic and did not join it again; the node's relay switch repair asks.
func TestLeftSince(t *testing.T) {
	var l leavers
	p, q := peer.ID("p"), peer.ID("q")
	t0 := time.Now()
	require.False(t, l.since(p, t0.Add(-time.Hour)), "never a member")
	l.note(p, true, t0)
	l.note(p, false, t0)
	require.True(t, l.since(p, t0.Add(-time.Second)))
	require.True(t, l.since(p, t0), "at t counts")
	require.False(t, l.since(p, t0.Add(time.Second)), "left before t")
	l.note(p, true, t0.Add(time.Second))
	require.False(t, l.since(p, t0.Add(-time.Second)), "joined again")

	l.note(p, false, t0)
	l.note(q, false, t0.Add(leftMemory+time.Second)) // prunes p's
	require.False(t, l.since(p, t0.Add(-time.Second)), "forgotten after leftMemory")
	require.True(t, l.since(q, t0))
	require.Equal(t, 1, l.len(), "bounded by the last leftMemory's leaves")
}
