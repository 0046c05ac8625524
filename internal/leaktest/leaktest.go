// Package leaktest is the goroutine-leak check every Lattice test package
// runs from its TestMain: one list of the process-wide goroutines that
// dependencies start on first use (and that no engine owns), so a package
// cannot drift from the others.
package leaktest

import (
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// settle is how long goroutines get to end after the last test. Some
// dependencies end theirs asynchronously after Close returns (pubsub's
// loops see their context cancelled, connections finish closing);
// goleak's own retries give up after well under a second, which a loaded
// CI machine can exceed. A goroutine still there after settle is a leak.
const settle = 10 * time.Second

// Options are goleak's options for Lattice: OpenCensus's stats worker and
// go-log's writer are singletons started by dependencies, not leaks.
func Options() []goleak.Option {
	return []goleak.Option{
		goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"),
		goleak.IgnoreAnyFunction("github.com/ipfs/go-log/writer.(*MirrorWriter).logRoutine"),
	}
}

// VerifyTestMain runs the package's tests and fails it if any goroutine
// outlives them: whatever a test starts must end on Close.
func VerifyTestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if err := find(settle); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: goroutines still running %v after a successful run: %v\n", settle, err)
			code = 1
		}
	}
	os.Exit(code)
}

// find polls goleak until no unexpected goroutine is left or the deadline
// passes, and returns its last report.
func find(within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		err := goleak.Find(Options()...)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond) // goleak.Find itself retries for ~0.4 s
	}
}
