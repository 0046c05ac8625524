package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/latticedb/lattice/sim"
)

func newSimCmd() *cobra.Command {
	var (
		file, out       string
		seed            uint64
		peers, writes   int
		relays          int
		natShare        float64
		latency, length time.Duration
		quiet           bool
		progressEvery   time.Duration
	)
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Simulate many peers behind NATs and relays, and report convergence",
		Long: `Run N real Lattice engines in one process on a simulated network (simnet,
with a NAT router: full cone, address-restricted, port-restricted, symmetric),
with relays, partitions and crashes, from a seed, and report how fast each
write reached every replica, what it cost in bytes, how peers were connected,
and whether every replica ended identical.

Without --scenario it runs the embedded default scenario. Flags override the
scenario's fields. The run is in real time (go test runs scenarios in virtual
time, under testing/synctest); the report says which. It writes
DIR/report.json, DIR/report.html, DIR/convergence.svg and DIR/connections.svg.

Exit status 1 if the replicas did not converge.`,
		Example: `  lattice sim
  lattice sim --peers 20 --seed 42 --out ./report
  lattice sim --scenario my.json --nat-share 0.9 --latency 50ms --duration 1m`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s := sim.DefaultScenario()
			if file != "" {
				b, err := os.ReadFile(file)
				if err != nil {
					return usageErr("scenario: %v", err)
				}
				if s, err = sim.ParseScenario(b); err != nil {
					return usageErr("%s: %v", file, err)
				}
			}
			f := cmd.Flags()
			if f.Changed("seed") {
				s.Seed = seed
			}
			if f.Changed("peers") {
				s.Peers = peers
				for i := range s.Crashes {
					s.Crashes[i].Count = min(s.Crashes[i].Count, max(1, peers-1))
				}
			}
			if f.Changed("writes") {
				s.Writes = writes
			}
			if f.Changed("relays") {
				s.Relays = relays
			}
			if f.Changed("nat-share") {
				s.NATShare = natShare
			}
			if f.Changed("latency") {
				// A packet crosses two access links.
				s.LatencyMin, s.LatencyMax = sim.Duration(latency/2), sim.Duration(latency/2)
			}
			if f.Changed("duration") {
				s.Duration = sim.Duration(length)
			}
			if err := s.Validate(); err != nil {
				return usageErr("%v", err)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			// Progress on stderr: redrawn in place on a terminal, a line
			// every few seconds elsewhere (a log, CI).
			o := sim.Options{Mode: "real"}
			if !quiet {
				o.Progress = cmd.ErrOrStderr()
				o.ProgressLines = !isTerminal(o.Progress)
				o.ProgressEvery = progressEvery
			}
			wall := time.Now()
			rep, err := sim.Run(ctx, s, o)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if err := rep.WriteSummary(w); err != nil {
				return err
			}
			if err := rep.WriteFiles(out); err != nil {
				return err
			}
			fmt.Fprintf(w, "wall time\t%.1f s\nreport\t%s\n", time.Since(wall).Seconds(), out)
			if !rep.Converged {
				return fmt.Errorf("%w: see %s", sim.ErrNotConverged, out)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&file, "scenario", "", "scenario file, JSON (default: the embedded scenario)")
	fl.Uint64Var(&seed, "seed", 1, "random seed; the same seed replays the same schedule (default: the scenario's)")
	fl.IntVar(&peers, "peers", 0, "number of peers, relays not counted (default: the scenario's)")
	fl.IntVar(&writes, "writes", 0, "number of writes (default: the scenario's)")
	fl.IntVar(&relays, "relays", 0, "number of relays (default: the scenario's)")
	fl.Float64Var(&natShare, "nat-share", 0, "share of peers behind NATs, 0 to 1 (default: the scenario's)")
	fl.DurationVar(&latency, "latency", 0, "one-way latency between two peers, for every pair (default: the scenario's range)")
	fl.DurationVar(&length, "duration", 0, "how long writes go on (default: the scenario's)")
	fl.StringVar(&out, "out", "sim-report", "output directory")
	fl.BoolVar(&quiet, "quiet", false, "no progress on stderr")
	fl.DurationVar(&progressEvery, "progress-every", 2*time.Second, "how often a progress line is printed when stderr is not a terminal")
	return cmd
}
