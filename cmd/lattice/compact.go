package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newCompactCmd() *cobra.Command {
	var (
		f        apiFlags
		database string
	)
	cmd := &cobra.Command{
		Use:   "compact --database ADDRESS",
		Short: "Compact a database's history on a running node",
		Long: `Ask a running node to compact one of its databases while it stays open:
the replica stands on a signed snapshot of itself, and the blocks, markers
and tombstones that snapshot makes unneeded are deleted (docs/snapshots.md).
Writes and replication go on meanwhile. A compacted replica serves the
catch-up stream only above its snapshot: fresh peers join it from a
snapshot. A node started with --archive refuses.

Prints the history before and after:
  before: <blocks> blocks, <bytes> bytes
  after:  <blocks> blocks, <bytes> bytes`,
		Example: `  lattice compact --database /lattice/bagu.../TodoList
  lattice compact --api http://127.0.0.1:5081 --database "$DB"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if database == "" {
				return usageErr("--database is required (list them with: curl %s/v1/databases)", f.api)
			}
			type footprint struct {
				Blocks int   `json:"blocks"`
				Bytes  int64 `json:"bytes"`
			}
			var res struct {
				Before footprint `json:"before"`
				After  footprint `json:"after"`
			}
			if err := f.post(cmd.Context(), "/v1/databases/compact", map[string]any{"database": database}, &res); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "before: %d blocks, %d bytes\n", res.Before.Blocks, res.Before.Bytes)
			fmt.Fprintf(out, "after:  %d blocks, %d bytes\n", res.After.Blocks, res.After.Bytes)
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&database, "database", "", "address of the database to compact (/lattice/<CID>/<name>)")
	return cmd
}
