package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// notImplemented is the RunE of commands whose issue is not done yet: the
// names and flags of the CLI contract exist, the work does not.
func notImplemented(cmd *cobra.Command, _ []string) error {
	return &exitError{code: exitUsage, err: fmt.Errorf("%s: not implemented yet", cmd.CommandPath())}
}

func newSimCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Simulate many peers behind NATs and relays (not implemented yet)",
		Long: `Run N real Lattice engines in one process on a simulated network and report
convergence: writes DIR/report.json, DIR/report.html and the plot.

Not implemented yet: exits with status 2.`,
		Example: `  lattice sim --peers 20 --seed 42 --out ./report`,
		Args:    cobra.NoArgs,
		RunE:    notImplemented,
	}
	cmd.Flags().String("scenario", "", "scenario file (default: the embedded scenario)")
	cmd.Flags().Int64("seed", 1, "random seed; the same seed replays the same run")
	cmd.Flags().Int("peers", 0, "number of peers (default: the scenario's)")
	cmd.Flags().String("out", "sim-report", "output directory")
	return cmd
}
