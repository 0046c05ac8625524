package transportstest_test

import (
	"testing"

	"github.com/latticedb/lattice/transports"
	"github.com/latticedb/lattice/transports/transportstest"
)

// TestBuiltins runs the conformance suite against every built-in transport.
func TestBuiltins(t *testing.T) {
	for _, tr := range transports.Builtins() {
		t.Run(tr.Name(), func(t *testing.T) { transportstest.Run(t, tr) })
	}
}
