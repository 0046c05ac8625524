package benchmarks

import (
	"context"
	"flag"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/engine"
)

// The scale scenario of issue 14. Under plain `go test ./benchmarks` it
// runs with 4 engines; sized with flags, e.g.
//
//	go test ./benchmarks -run TestScale -count=1 -v -scale=100
//	go test ./benchmarks -run TestScale -count=1 -v -scale=100 -scale.profile=/tmp/prof
//	go test ./benchmarks -run TestScale -count=1 -v -scale=100 -scale.small -scale.settle=15s -scale.memlimit=1258291200
var (
	scaleEngines = flag.Int("scale", 4, "engines in TestScale")
	scaleWrites  = flag.Int("scale.writes", 10, "InsertOne calls per engine in TestScale")
	scaleDegree  = flag.Int("scale.degree", 4, "peers each engine dials in TestScale")
	scaleTimeout = flag.Duration("scale.timeout", 3*time.Minute, "how long TestScale waits for convergence")
	scaleProfile = flag.String("scale.profile", "", "directory for TestScale's cpu, heap and goroutine profiles")
	scaleSettle  = flag.Duration("scale.settle", 0, "how long TestScale waits after convergence before measuring memory again")
	scaleMemLim  = flag.Int64("scale.memlimit", 0, "soft memory limit in bytes for TestScale (debug.SetMemoryLimit, as GOMEMLIMIT)")
	scaleSmall   = flag.Bool("scale.small", false, "whether TestScale's engines use engine.WithSmallFootprint")
	scaleDisk    = flag.String("scale.disk", "", "directory under which TestScale's engines keep their stores on pebble (default: in memory)")
	scaleCatchup = flag.Bool("scale.catchup", true, "whether TestScale's engines catch up by stream (engine.WithCatchup)")
)

func TestScale(t *testing.T) {
	res, err := Scale(context.Background(), ScaleConfig{
		Engines:     *scaleEngines,
		Writes:      *scaleWrites,
		Degree:      *scaleDegree,
		Seed:        1,
		Timeout:     *scaleTimeout,
		ProfileDir:  *scaleProfile,
		Settle:      *scaleSettle,
		MemoryLimit: *scaleMemLim,
		DataDir:     *scaleDisk,
		Options:     scaleOptions(),
		Measured:    func(r ScaleResult) { t.Log("measured:", r) },
		Progress: func(elapsed time.Duration, slowest, want int) {
			t.Logf("%5.1fs: slowest replica holds %d of %d", elapsed.Seconds(), slowest, want)
		},
	})
	require.NoError(t, err)
	t.Log(res)
	require.True(t, res.Converged, "%s", res)
}

func scaleOptions() []engine.Option {
	opts := []engine.Option{engine.WithCatchup(*scaleCatchup)}
	if *scaleSmall {
		opts = append(opts, engine.WithSmallFootprint())
	}
	return opts
}
