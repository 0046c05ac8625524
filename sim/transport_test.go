package sim_test

import (
	"testing"

	"github.com/latticedb/lattice/sim"
	"github.com/latticedb/lattice/transports/transportstest"
)

// TestTransportConformance runs the transport conformance suite over the
// simulated network: engines on it replicate, carry large documents and
// many streams, and leave nothing behind, as over a real wire.
func TestTransportConformance(t *testing.T) {
	n := sim.NewNetwork(sim.NetworkConfig{})
	n.Start()
	t.Cleanup(n.Close) // after the suite's hosts, which it closes in its own cleanups
	transportstest.RunWithOptions(t, n.Transport(), transportstest.Options{
		// Each host gets a node whose links run until the network closes.
		Medium: []string{
			"github.com/marcopolo/simnet.(*Simlink).Start.(*linkDriver).Start.func1",
			"github.com/marcopolo/simnet.(*Simlink).Start.(*linkDriver).Start.func2",
		},
	})
}
