package sim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
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
	o := sim.Options{Mode: "virtual"}
	if v := os.Getenv("LATTICE_SIM_TAIL"); v != "" {
		// A diagnosis of the pairs slower than this many ms.
		over, err := strconv.Atoi(v)
		require.NoError(t, err)
		o.Tail, o.TailOver = os.Stdout, time.Duration(over)*time.Millisecond
	}
	synctest.Test(t, func(t *testing.T) {
		var err error
		o.TempDir = t.TempDir()
		rep, err = sim.Run(context.Background(), s, o)
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

// TestRelayOnly: every peer behind a symmetric NAT, so no hole punch can
// work and every peer-to-peer connection goes through the relays; the
// replicas still converge.
func TestRelayOnly(t *testing.T) {
	s := small()
	s.Name, s.NATShare, s.Relays = "relay-only", 1, 2
	s.NATMix = map[sim.NATType]float64{sim.Symmetric: 1}
	rep := runVirtual(t, s)
	require.True(t, rep.Converged, "diff: %s", rep.Diff)
	require.Zero(t, rep.Connections.Direct+rep.Connections.Holepunched, "%+v", rep.Connections)
	require.Positive(t, rep.Connections.Relayed)
	require.Zero(t, rep.HolePunch.Successes)
}

// TestPartitionHeals: writes made on the cut-off side during a partition
// reach the other side only after it heals, and then every replica
// converges.
func TestPartitionHeals(t *testing.T) {
	s := small()
	s.Name = "partition"
	s.Duration = sim.Duration(20 * time.Second)
	s.Writes = 40
	at, heal := 5*time.Second, 12*time.Second
	s.Partitions = []sim.Partition{{At: sim.Duration(at), Heal: sim.Duration(heal), Share: 0.4}}
	rep := runVirtual(t, s)
	require.True(t, rep.Converged, "diff: %s", rep.Diff)
	var cut map[int]bool
	for _, ev := range rep.Timeline {
		if ev.Kind == sim.EventPartition {
			cut = map[int]bool{}
			for _, i := range ev.Peers {
				cut[i] = true
			}
		}
	}
	require.NotEmpty(t, cut)
	crossed := 0
	for _, w := range rep.PerWrite {
		// A write on the cut side, well inside the partition.
		if !cut[w.Writer] || w.AtMS < ms(at)+500 || w.AtMS > ms(heal)-500 {
			continue
		}
		for i, d := range w.Reached {
			if cut[i] {
				continue
			}
			crossed++
			require.GreaterOrEqual(t, w.AtMS+d, ms(heal), "write %s by %d reached %d across the partition", w.Doc, w.Writer, i)
		}
	}
	require.Positive(t, crossed, "no write was made on the cut-off side during the partition: change the seed")
}

func ms(d time.Duration) float64 { return float64(d.Milliseconds()) }

// TestCrashRestart: a peer with a pebble store crashes and restarts;
// no write it acknowledged before the crash is lost (every replica holds
// every acknowledged write, its own included) and it converges.
func TestCrashRestart(t *testing.T) {
	s := small()
	s.Name = "crash"
	s.Duration = sim.Duration(20 * time.Second)
	s.Writes = 40
	s.Crashes = []sim.Crash{{At: sim.Duration(8 * time.Second), Down: sim.Duration(5 * time.Second), Count: 1}}
	rep := runVirtual(t, s)
	require.True(t, rep.Converged, "diff: %s", rep.Diff)
	var crashed int
	for _, ev := range rep.Timeline {
		if ev.Kind == sim.EventCrash {
			crashed = ev.Peers[0]
		}
	}
	before := 0
	for _, w := range rep.PerWrite {
		if w.Writer == crashed && w.AtMS < 8000 {
			before++
			require.Len(t, w.Reached, s.Peers-1, "write %s of the crashed peer", w.Doc)
		}
	}
	require.Positive(t, before, "the crashed peer wrote nothing before its crash: change the seed")
	require.Equal(t, 40, rep.Writes+skipped(rep, crashed, 8000, 13000))
}

// skipped counts the writes scheduled on peer while it was down.
func skipped(rep *sim.Report, peer int, from, to float64) int {
	n := 0
	for _, ev := range rep.Timeline {
		if ev.Kind == sim.EventWrite && ev.Peers[0] == peer && ms(ev.At) >= from && ms(ev.At) < to {
			n++
		}
	}
	return n
}

// TestSameSeedSameSchedule: two runs of one scenario with one seed carry
// out the same schedule of events on the same network; another seed
// gives another.
func TestSameSeedSameSchedule(t *testing.T) {
	s := small()
	s.Crashes = []sim.Crash{{At: sim.Duration(3 * time.Second), Down: sim.Duration(2 * time.Second), Count: 1}}
	s.Partitions = []sim.Partition{{At: sim.Duration(4 * time.Second), Heal: sim.Duration(6 * time.Second), Share: 0.3}}
	require.Equal(t, s.Plan(), s.Plan())
	a, b := runVirtual(t, s), runVirtual(t, s)
	require.Equal(t, a.Timeline, b.Timeline)
	require.Equal(t, a.NATs, b.NATs)
	for i := range a.ByPeer {
		require.Equal(t, a.ByPeer[i].NAT, b.ByPeer[i].NAT)
		require.Equal(t, a.ByPeer[i].LatencyMS, b.ByPeer[i].LatencyMS)
	}
	other := s
	other.Seed++
	require.NotEqual(t, s.Plan().Events, other.Plan().Events)
}

// TestTenMinutesVirtual: ten simulated minutes of a small network cost
// seconds of wall time under synctest (the log says how many).
func TestTenMinutesVirtual(t *testing.T) {
	s := small()
	s.Name, s.Duration, s.Writes = "ten-minutes", sim.Duration(10*time.Minute), 30
	rep := runVirtual(t, s)
	require.True(t, rep.Converged, "diff: %s", rep.Diff)
	require.GreaterOrEqual(t, rep.ElapsedMS, float64(9*time.Minute/time.Millisecond))
}

// TestDefaultScenarioVirtual runs the embedded default scenario under
// synctest: it converges.
func TestDefaultScenarioVirtual(t *testing.T) {
	if testing.Short() {
		t.Skip("30 engines")
	}
	rep := runVirtual(t, sim.DefaultScenario())
	require.True(t, rep.Converged, "diff: %s", rep.Diff)
}

// TestScaleVirtual measures the scale scenario of BENCHMARKS.md (N peers,
// 60% behind NATs, 50 ms between peers, 2 relays) for each N in
// LATTICE_SIM_SCALE (comma-separated), with LATTICE_SIM_WRITES writes
// (default 100), writing each report under LATTICE_SIM_OUT if set;
// skipped without LATTICE_SIM_SCALE.
func TestScaleVirtual(t *testing.T) {
	ns := os.Getenv("LATTICE_SIM_SCALE")
	if ns == "" {
		t.Skip("set LATTICE_SIM_SCALE=10,50,100")
	}
	writes := 100
	if w := os.Getenv("LATTICE_SIM_WRITES"); w != "" {
		var err error
		writes, err = strconv.Atoi(w)
		require.NoError(t, err)
	}
	defer func() {
		// The plot has every scale-N report under the directory, from this
		// run or earlier ones (large N run alone).
		dir := os.Getenv("LATTICE_SIM_OUT")
		if dir == "" {
			return
		}
		points := scalePoints(t, dir)
		if len(points) > 1 {
			require.NoError(t, os.WriteFile(filepath.Join(dir, "p99-vs-peers.svg"), []byte(sim.ScaleSVG(points)), 0o644))
		}
	}()
	for _, f := range strings.Split(ns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		require.NoError(t, err)
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			s := sim.Scenario{
				// Each peer behind a NAT reserves on 2 relays, and a relay
				// holds 128 reservations: 2 relays up to ~200 peers, then
				// one per 64 peers behind NATs.
				Name: fmt.Sprintf("scale-%d", n), Seed: 1, Peers: n, NATShare: 0.6, Relays: max(2, (n*6/10+63)/64),
				LatencyMin: sim.Duration(25 * time.Millisecond), LatencyMax: sim.Duration(25 * time.Millisecond),
				Degree: 4, Duration: sim.Duration(20 * time.Second), Writes: writes, Settle: sim.Duration(5 * time.Minute),
			}
			var ms runtime.MemStats
			rep := runVirtual(t, s)
			runtime.ReadMemStats(&ms)
			if !testing.Verbose() {
				require.NoError(t, rep.WriteSummary(os.Stdout))
			}
			fmt.Printf("heap in use after the run: %d MiB\n", ms.HeapInuse>>20)
			if dir := os.Getenv("LATTICE_SIM_OUT"); dir != "" {
				require.NoError(t, rep.WriteFiles(filepath.Join(dir, s.Name)))
			}
		})
	}
}

// scalePoints reads DIR/scale-N/report.json for every N, sorted by N.
func scalePoints(t *testing.T, dir string) []sim.ScalePoint {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "scale-*", sim.ReportJSON))
	require.NoError(t, err)
	var points []sim.ScalePoint
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		var rep sim.Report
		require.NoError(t, json.Unmarshal(b, &rep), f)
		points = append(points, sim.ScalePoint{Peers: rep.Peers, P99MS: rep.ConvergenceMS.P99, BoundMS: sim.Bound(rep.Peers, 50)})
	}
	sort.Slice(points, func(i, j int) bool { return points[i].Peers < points[j].Peers })
	return points
}

// TestLossyLinks: with 5% of packets lost everywhere, QUIC's retransmits
// and the engine's rebroadcasts still bring every replica every write.
func TestLossyLinks(t *testing.T) {
	s := small()
	s.Name, s.Loss = "lossy", 0.05
	rep := runVirtual(t, s)
	require.True(t, rep.Converged, "diff: %s", rep.Diff)
}

// TestLateJoiners: two peers start after a third of the writes; they open
// the database from their neighbours, catch up on the history and
// converge with the rest.
func TestLateJoiners(t *testing.T) {
	s := small()
	s.Name = "late-joiners"
	s.Joins = []sim.Join{{At: sim.Duration(4 * time.Second), Count: 2}}
	rep := runVirtual(t, s)
	require.True(t, rep.Converged, "diff: %s", rep.Diff)
	require.Len(t, rep.JoinCatchupMS, 2, "both joiners caught up on what was written before they started")
}

// TestGossipLeavesTheRelay: once a hole punch gives two peers behind
// NATs a direct connection, their gossipsub streams leave the relay
// circuit (transports closes it and gossipsub reopens them on the direct
// connection). Left on the circuit, every announcement between them
// crosses the relay's link, shared with every relayed peer: at N = 100 that
// queue made the p99 tail of seconds (BENCHMARKS.md, "Network simulator").
func TestGossipLeavesTheRelay(t *testing.T) {
	s := small()
	s.Name = "punched"
	s.NATShare = 0.75
	s.NATMix = map[sim.NATType]float64{sim.FullCone: 1, sim.PortRestricted: 1}
	rep := runVirtual(t, s)
	require.True(t, rep.Converged, "diff: %s", rep.Diff)
	require.Positive(t, rep.HolePunch.Successes)
	require.Positive(t, rep.Connections.Holepunched)
	require.Zero(t, rep.PubsubOverRelay, "peer pairs with gossipsub on a circuit beside a direct connection")
	a := rep.Announcements
	require.Equal(t, len(rep.Samples), a.Flood+a.Mesh+a.Gossip+a.Other+a.None, "%+v", a)
	require.Positive(t, a.Flood+a.Mesh, "%+v", a)
}

// TestTailDiagnosis: Options.Tail lists the pairs slower than TailOver,
// each with how the announcement came and the replica's mesh.
func TestTailDiagnosis(t *testing.T) {
	var out strings.Builder
	synctest.Test(t, func(t *testing.T) {
		rep, err := sim.Run(context.Background(), small(), sim.Options{Mode: "virtual", TempDir: t.TempDir(), Tail: &out, TailOver: time.Nanosecond})
		require.NoError(t, err)
		require.True(t, rep.Converged, "diff: %s", rep.Diff)
	})
	require.Contains(t, out.String(), "pairs over 1ns: ")
	require.Regexp(t, `(?m)^write w\d+ by \d+ at .* -> replica \d+ .*: \d+ms; announcement at \+\d+ms via (flood|mesh|gossip|other) from \d+ over a (direct|relayed) stream`, out.String())
}
