package discovery_test

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/latticedb/lattice/discovery"
	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/poll"
)

// Two engines meet through a static bootstrap list: the second is told
// where the first is, and a database created on the first opens on the
// second by address alone.
func Example() {
	ctx := context.Background()
	a, _ := engine.New(ctx, engine.WithInMemory(), engine.WithListenAddrs("/ip4/127.0.0.1/tcp/0"))
	defer a.Close()
	b, _ := engine.New(ctx, engine.WithInMemory(), engine.WithListenAddrs("/ip4/127.0.0.1/tcp/0"),
		engine.WithDiscovery(discovery.Bootstrap(peer.AddrInfo{ID: a.ID(), Addrs: a.Host().Addrs()})))
	defer b.Close()

	db, _ := a.Create(ctx, "todos")
	err := poll.Wait(ctx, func() error {
		octx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_, err := b.Open(octx, db.Address())
		return err
	})
	fmt.Println("opened on b:", err == nil, "dialled by discovery:", b.DiscoveryStats().Connected)
	// Output: opened on b: true dialled by discovery: 1
}

// A private DHT: one host serves it, and engines that know only that host
// find the peers of the databases they open through it. The rendezvous of
// a database is a hash of its address.
func ExampleDHT() {
	h, _ := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	defer h.Close()
	server := discovery.DHT(discovery.DHTConfig{Mode: discovery.DHTServer})
	_ = server.Start(h, func(peer.AddrInfo) {})
	defer server.Close()

	boot := []peer.AddrInfo{{ID: h.ID(), Addrs: h.Addrs()}}
	e, _ := engine.New(context.Background(), engine.WithInMemory(), engine.WithListenAddrs("/ip4/127.0.0.1/tcp/0"),
		engine.WithDiscovery(discovery.DHT(discovery.DHTConfig{Mode: discovery.DHTClient, BootstrapPeers: boot})))
	defer e.Close()
	fmt.Println("serves", discovery.DHTPrefix+"/kad/1.0.0:", slices.Contains(h.Mux().Protocols(), discovery.DHTPrefix+"/kad/1.0.0"))
	fmt.Println("namespace:", discovery.Namespace("/lattice/bafy.../todos")[:12]+"...")
	// Output:
	// serves /lattice/kad/1.0.0: true
	// namespace: /lattice/rv/...
}
