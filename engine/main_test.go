package engine_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any goroutine outlives the tests: every
// engine, database and subscription must release what it started on Close.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// Process-wide singletons started by dependencies on first use,
		// not by engines: OpenCensus's stats worker and go-log's writer.
		goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"),
		goleak.IgnoreAnyFunction("github.com/ipfs/go-log/writer.(*MirrorWriter).logRoutine"),
	)
}
