package sim_test

import (
	"context"
	"fmt"
	"time"

	"github.com/latticedb/lattice/sim"
)

// A small network, half of it behind NATs, converges; in real time here
// (a test would wrap it in synctest.Test).
func Example() {
	s := sim.Scenario{
		Name: "example", Seed: 1, Peers: 4, NATShare: 0.5, Relays: 1,
		LatencyMin: sim.Duration(5 * time.Millisecond), LatencyMax: sim.Duration(10 * time.Millisecond),
		Degree: 2, Duration: sim.Duration(time.Second), Writes: 5, Settle: sim.Duration(time.Minute),
	}
	rep, err := sim.Run(context.Background(), s, sim.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rep.Peers, "peers,", rep.Writes, "writes, converged:", rep.Converged)
	// Output: 4 peers, 5 writes, converged: true
}

// The outcome the NAT model predicts for a hole punch between two peers.
func ExamplePairOutcome() {
	fmt.Println(sim.PairOutcome(sim.PortRestricted, sim.PortRestricted))
	fmt.Println(sim.PairOutcome(sim.Symmetric, sim.AddressRestricted))
	fmt.Println(sim.PairOutcome(sim.PortRestricted, sim.Symmetric))
	// Output:
	// holepunched
	// holepunched
	// relayed
}
