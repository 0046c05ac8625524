package replication

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/stretchr/testify/require"
)

// TestSynctestCatchUpCostsRoundTripsNotBlocks: over a link of 40 ms
// round trip, a 500-block history arrives on one catch-up stream in a
// few round trips of virtual time, where a walk of one bitswap round
// trip per block would take 500 (20 s): the property the catch-up
// exists for, measured exactly.
func TestSynctestCatchUpCostsRoundTripsNotBlocks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		const blocks, rtt = 500, 40 * time.Millisecond
		sender, receiver := simPair(t, rtt/2)
		sbs := newBlockstore()
		nodes := chain(t, sbs, blocks)
		serve(t, sender, sbs)
		q := NewQuarantine(newBlockstore(), 64<<20, nil)
		require.NoError(t, q.Put(ctx, nodes[0])) // the head came inline

		start := time.Now()
		var ctr CatchupCounters
		left, err := CatchUp(ctx, receiver, sender.ID(), CatchupRequest{Manifest: manifest, Wanted: []cid.Cid{nodes[0].Cid()}}, quarantineSink{q}, &ctr)
		took := time.Since(start)
		require.NoError(t, err)
		require.Empty(t, left)
		require.EqualValues(t, blocks-1, ctr.Blocks.Load())
		t.Logf("%d blocks in %s of virtual time (%d round trips)", blocks-1, took, took/rtt)
		require.Less(t, took, 10*rtt, "the history came a round trip per block or so")
	})
}
