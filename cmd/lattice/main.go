// Command lattice runs Lattice peers and tools: a node with its HTTP API and
// to-do web app, invites, and a two-peer demo.
//
// Exit codes: 0 success; 1 failure; 2 usage error or a command that is not
// implemented yet; 3 the node's API could not be reached.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

// Exit codes.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitUnreachable = 3
)

// exitError carries an exit code with its message.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the CLI with args and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "lattice:", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return exitFailure
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "lattice",
		Short: "Peer-to-peer replicated JSON document databases",
		Long: `Lattice runs peer-to-peer, replicated JSON document databases: each peer
keeps a full replica, writes anywhere, and replicas converge.

Start with a node: it serves an HTTP/JSON API and a to-do web app that you
can share with another node by link or QR code.`,
		Example: `  lattice node                      # run a peer; open http://127.0.0.1:5080
  lattice demo                      # two peers in one process, converging
  lattice invite --database /lattice/bag.../TodoList
  lattice join 'lattice://join?peer=...&addr=...&db=...'`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageErr("%v (see %s --help)", err, c.CommandPath())
	})
	root.AddCommand(newNodeCmd(), newInviteCmd(), newJoinCmd(), newCompactCmd(), newDemoCmd(),
		newRelayCmd(), newSimCmd(), newBenchCmd())
	// Unknown commands and wrong argument counts are usage errors too.
	for _, c := range root.Commands() {
		if c.Args != nil {
			args := c.Args
			c.Args = func(cmd *cobra.Command, a []string) error {
				if err := args(cmd, a); err != nil {
					return usageErr("%v (see %s --help)", err, cmd.CommandPath())
				}
				return nil
			}
		}
	}
	root.Args = func(cmd *cobra.Command, a []string) error {
		if len(a) > 0 {
			return usageErr("unknown command %q (see lattice --help)", a[0])
		}
		return nil
	}
	root.RunE = func(cmd *cobra.Command, _ []string) error {
		return cmd.Help()
	}
	return root
}
