package relay_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/transports/relay"
)

// A relay, and a peer that keeps a reservation on it: the peer's addresses
// then include a circuit address through the relay, which peers that
// cannot dial it directly use (and which invite links carry).
func Example() {
	r, err := relay.Start(relay.Config{Listen: []string{"/ip4/127.0.0.1/tcp/0"}})
	if err != nil {
		panic(err)
	}
	defer r.Close()

	e, err := engine.New(context.Background(),
		engine.WithInMemory(),
		engine.WithListenAddrs("/ip4/127.0.0.1/tcp/0"),
		engine.WithRelays(r.AddrInfo()),
	)
	if err != nil {
		panic(err)
	}
	defer e.Close()

	// Wait for the reservation (a real program just runs on).
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, a := range e.Addrs() {
			if strings.Contains(a.String(), "/p2p-circuit") {
				fmt.Println("reachable through the relay")
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	fmt.Println("no reservation")
	// Output: reachable through the relay
}
