// Package leaktest is the goroutine-leak check every Lattice test package
// runs from its TestMain: one list of the process-wide goroutines that
// dependencies start on first use (and that no engine owns), so a package
// cannot drift from the others.
package leaktest

import (
	"testing"

	"go.uber.org/goleak"
)

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
func VerifyTestMain(m *testing.M) { goleak.VerifyTestMain(m, Options()...) }
