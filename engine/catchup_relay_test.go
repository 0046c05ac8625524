package engine_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/internal/enginetest"
)

// TestLateJoinerCatchesUpThroughRelay: a replica that can reach the
// writer only through a circuit relay gets a long history by catch-up
// over the relayed connection, not one bitswap round trip per delta.
func TestLateJoinerCatchesUpThroughRelay(t *testing.T) {
	const n = 300
	a, b := enginetest.RelayedPair(t)
	dba := history(t, a, n)

	enginetest.ConnectThroughRelay(t, b, a)
	dbb := enginetest.Open(t, b, dba.Address())
	enginetest.Converged(t, 90*time.Second, n, dba.Collection("todos"), dbb.Collection("todos"))
	st := dbb.Stats()
	require.NotZero(t, st.Catchup.Runs, "no catch-up ran over the relayed connection")
	require.Greater(t, st.Catchup.Blocks, uint64(n/2), "most of the history should come by catch-up: %+v", st.Catchup)
	require.Zero(t, st.Catchup.Remaining)
}
