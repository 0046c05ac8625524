package sim_test

import (
	"context"
	"os"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/sim"
)

// small is a scenario that runs in a few seconds of wall time.
func small() sim.Scenario {
	return sim.Scenario{
		Name: "small", Seed: 7, Peers: 8, NATShare: 0.5, Relays: 1,
		LatencyMin: sim.Duration(10 * time.Millisecond), LatencyMax: sim.Duration(30 * time.Millisecond),
		Degree: 3, Duration: sim.Duration(10 * time.Second), Writes: 20, Settle: sim.Duration(2 * time.Minute),
	}
}

// runVirtual runs a scenario under synctest and returns its report.
func runVirtual(t *testing.T, s sim.Scenario) *sim.Report {
	t.Helper()
	var rep *sim.Report
	wall := time.Now()
	synctest.Test(t, func(t *testing.T) {
		var err error
		rep, err = sim.Run(context.Background(), s, sim.Options{Mode: "virtual", TempDir: t.TempDir()})
		require.NoError(t, err)
	})
	t.Logf("%s: %v wall", s.Name, time.Since(wall))
	if testing.Verbose() {
		require.NoError(t, rep.WriteSummary(os.Stderr))
	}
	return rep
}

// TestScenarioUnderSynctest: a scenario of simulated tens of seconds
// finishes under synctest, every replica holds every write, and the
// replicas are identical.
func TestScenarioUnderSynctest(t *testing.T) {
	rep := runVirtual(t, small())
	require.True(t, rep.Converged, "diff: %s", rep.Diff)
	require.Equal(t, 20, rep.Writes)
	require.Zero(t, rep.Missing)
	require.Equal(t, "virtual", rep.Mode)
}
