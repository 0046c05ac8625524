package replication

import (
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/require"
)

// TestLeftSince: a broadcaster remembers for a minute which peers left its
// topic and did not join it again; the engine's relay switch repair asks.
func TestLeftSince(t *testing.T) {
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	require.NoError(t, err)
	defer h.Close()
	ps, err := pubsub.NewGossipSub(t.Context(), h)
	require.NoError(t, err)
	topic, err := ps.Join("left-since")
	require.NoError(t, err)
	defer topic.Close()
	b := &Broadcaster{topic: topic, left: map[peer.ID]time.Time{}}

	p, q := peer.ID("p"), peer.ID("q")
	t0 := time.Now()
	require.False(t, b.LeftSince(p, t0.Add(-time.Hour)), "never a member")
	b.noteMember(p, true, t0)
	b.noteMember(p, false, t0)
	require.True(t, b.LeftSince(p, t0.Add(-time.Second)))
	require.True(t, b.LeftSince(p, t0), "at t counts")
	require.False(t, b.LeftSince(p, t0.Add(time.Second)), "left before t")
	b.noteMember(p, true, t0.Add(time.Second))
	require.False(t, b.LeftSince(p, t0.Add(-time.Second)), "joined again")

	b.noteMember(p, false, t0)
	b.noteMember(q, false, t0.Add(leftMemory+time.Second)) // prunes p's
	require.False(t, b.LeftSince(p, t0.Add(-time.Second)), "forgotten after leftMemory")
	require.True(t, b.LeftSince(q, t0))
	require.Len(t, b.left, 1, "bounded by the last leftMemory's leaves")
}
