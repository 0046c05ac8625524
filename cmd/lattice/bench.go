package main

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/latticedb/lattice/benchmarks"
)

type benchFlags struct {
	quick     bool
	out       string
	run       string
	benchTime time.Duration
	check     bool
	plots     string
	big       bool
}

func newBenchCmd() *cobra.Command {
	var f benchFlags
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Run the benchmark suite and print its report (or write it with --out)",
		Long: `Run Lattice's benchmark suite (package benchmarks: the engine's writes,
reads and replication over loopback, and raw go-ds-crdt baselines) on this
machine, print each result as it comes, then a table of the results with
their goals. With --out the report goes to that file (Markdown or JSON),
and nothing is written unless you ask: the repository's BENCHMARKS.md is
updated with --out BENCHMARKS.md.

A Markdown --out file keeps its hand-written text: the command replaces only
the section between its "lattice bench" markers, or appends one. An --out
ending in .json gets the report as JSON.

The same scenarios run under go test, which is the way to profile them:
  go test -run '^$' -bench . -benchtime 3s ./benchmarks/

Exit status 1 when a scenario fails to run, and with --check when a goal
is missed too (without it a missed goal is reported, not an error).

With --plots DIR the run also measures the scaling curves (write rate vs
concurrent callers, late-join time vs history, convergence and memory per
engine vs peers in one process), writes one SVG plot of each into DIR and
adds their tables to the report, which links the plots. The default sizes
take a minute or two; --big measures up to 200 engines and 20,000-delta
histories (long, and gigabytes of memory).`,
		Example: `  lattice bench --quick
  lattice bench --out BENCHMARKS.md
  lattice bench --quick --out bench.json
  lattice bench --quick --check        # exit 1 when a goal is missed
  lattice bench --run 'Insert' --benchtime 3s
  lattice bench --out BENCHMARKS.md --plots docs/bench   # tables and plots`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBench(cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.quick, "quick", false, "leave out the slow replication scenarios and run each benchmark for 200ms")
	fl.StringVar(&f.out, "out", "", "report file: Markdown (generated section replaced in place) or .json (default: the Markdown report on stdout)")
	fl.StringVar(&f.run, "run", "", "run only the scenarios whose name matches this regular expression")
	fl.DurationVar(&f.benchTime, "benchtime", 0, "how long each benchmark runs (default 1s, 200ms with --quick)")
	fl.BoolVar(&f.check, "check", false, "exit with status 1 when a goal is missed")
	fl.StringVar(&f.plots, "plots", "", "also measure the scaling curves and write their SVG plots into this directory")
	fl.BoolVar(&f.big, "big", false, "with --plots: measure the curves at the issue's scale (long; up to 200 engines)")
	return cmd
}

func runBench(cmd *cobra.Command, f benchFlags) error {
	opts := benchmarks.Options{Quick: f.quick, BenchTime: f.benchTime}
	if f.run != "" {
		re, err := regexp.Compile(f.run)
		if err != nil {
			return usageErr("--run %q: %v", f.run, err)
		}
		opts.Filter = re
	}
	if f.benchTime < 0 {
		return usageErr("--benchtime %s: must be positive", f.benchTime)
	}
	if f.big && f.plots == "" {
		return usageErr("--big sizes the curves of --plots: give --plots DIR too")
	}
	out := cmd.OutOrStdout()
	opts.Progress = func(s benchmarks.Scenario, r *benchmarks.Result) {
		if r == nil {
			fmt.Fprintf(out, "%-22s ", s.Name)
			return
		}
		if r.Error != "" {
			fmt.Fprintf(out, "FAILED: %s\n", r.Error)
			return
		}
		line := fmt.Sprintf("%12.2f %-14s", r.Value, r.Metric)
		if r.Met != nil {
			if *r.Met {
				line += fmt.Sprintf(" goal %g: met", r.Goal)
			} else {
				line += fmt.Sprintf(" goal %g: MISSED", r.Goal)
			}
		}
		fmt.Fprintln(out, line)
	}
	rep, err := benchmarks.Run(opts)
	if err != nil {
		return err
	}
	if len(rep.Results) == 0 {
		return usageErr("--run %q matches no scenario", f.run)
	}
	var curveErr error
	if f.plots != "" {
		sizes := benchmarks.DefaultCurveSizes()
		if f.big {
			sizes = benchmarks.BigCurveSizes()
		}
		ctx := cmd.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		fmt.Fprintln(out, "scaling curves:")
		rep.Curves, curveErr = benchmarks.RunCurves(ctx, sizes, func(line string) { fmt.Fprintln(out, "  "+line) })
		if _, err := benchmarks.WritePlots(f.plots, rep.Curves); err != nil {
			return fmt.Errorf("write plots: %w", err)
		}
		rep.PlotDir = f.plots
		if f.out != "" && !strings.HasSuffix(f.out, ".json") {
			if rel, err := filepath.Rel(filepath.Dir(f.out), f.plots); err == nil {
				rep.PlotDir = rel
			}
		}
		fmt.Fprintf(out, "plots: %s\n", f.plots)
	}
	for _, q := range rep.Ratios {
		fmt.Fprintf(out, "%s: %.2fx (goal <= %.1fx)\n", q.Name, q.Value, q.Goal)
	}
	if f.out == "" {
		fmt.Fprint(out, "\n"+rep.Table())
	} else {
		if err := rep.WriteFile(f.out); err != nil {
			return fmt.Errorf("write %s: %w", f.out, err)
		}
		fmt.Fprintf(out, "report: %s\n", f.out)
	}
	if curveErr != nil {
		return fmt.Errorf("scaling curves: %w", curveErr)
	}
	if rep.Failed() {
		return fmt.Errorf("some scenarios failed to run")
	}
	if missed := rep.Missed(); f.check && len(missed) > 0 {
		return fmt.Errorf("%d goal(s) missed: %s", len(missed), strings.Join(missed, "; "))
	}
	return nil
}
