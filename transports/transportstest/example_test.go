package transportstest_test

import (
	"testing"

	"github.com/latticedb/lattice/transports"
	"github.com/latticedb/lattice/transports/transportstest"
)

// A transport plugin proves itself with one call from its own tests.
func ExampleRun() {
	// In mytransport_test.go:
	_ = func(t *testing.T) { transportstest.Run(t, transports.QUIC()) }
}
