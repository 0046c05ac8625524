package engine_test

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/enginetest"
	"github.com/latticedb/lattice/internal/simtest"
)

// TestSynctestLateJoinerCatchesUp is TestLateJoinerCatchesUp on a
// simulated network with 5 ms to 20 ms between peers, where a bitswap
// round trip per delta shows in virtual time: the history comes through
// the catch-up stream, and again after a restart (same identity, same
// data, a new address) that missed writes.
func TestSynctestLateJoinerCatchesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := simtest.New(t, 4)
		const first, missed = 300, 200
		a := n.Engine()
		dba := history(t, a, first)
		pb := n.NewPeer(true)
		b := pb.Start()
		n.ConnectAll(a, b)
		start := time.Now()
		dbb := enginetest.Open(t, b, dba.Address())
		n.Converged(5*time.Minute, first, dba.Collection("todos"), dbb.Collection("todos"))
		took := time.Since(start)
		st := dbb.Stats()
		require.NotZero(t, st.Catchup.Runs, "no catch-up ran")
		require.Greater(t, st.Catchup.Blocks, uint64(first/2), "most of the history should come by catch-up: %+v", st.Catchup)
		require.Zero(t, st.Catchup.Failures)
		require.Zero(t, st.Catchup.Remaining, "nothing is left to fetch")
		t.Logf("joined a %d-delta history in %s of virtual time", first, took)

		pb.Stop()
		ctx := context.Background()
		for i := 0; i < missed; i++ {
			_, err := dba.Collection("todos").InsertOne(ctx, engine.M{"_id": fmt.Sprintf("away%03d", i)})
			require.NoError(t, err)
		}
		pb.Move()
		b = pb.Start()
		dbb = enginetest.Open(t, b, dba.Address()) // the manifest is local: no peer needed
		runs := dbb.Stats().Catchup.Runs
		n.ConnectAll(a, b)
		defer func() {
			if t.Failed() {
				t.Logf("a: %+v\nb: %+v\na peers %v, b peers %v", dba.Stats(), dbb.Stats(), a.Peers(), b.Peers())
			}
		}()
		n.Converged(5*time.Minute, first+missed, dba.Collection("todos"), dbb.Collection("todos"))
		require.Greater(t, dbb.Stats().Catchup.Runs, runs, "the restarted replica caught up")
	})
}
