package transports_test

import (
	"fmt"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/latticedb/lattice/transports"
)

// Choose transports by name, as lattice node --transport does, and build
// a host that speaks only those.
func ExampleNew() {
	ts, err := transports.Parse("quic,ws")
	if err != nil {
		panic(err)
	}
	key, _, _ := crypto.GenerateEd25519Key(nil)
	h, err := transports.New(transports.Config{
		Identity:    key,
		Transports:  ts,
		ListenAddrs: []string{"/ip4/127.0.0.1/udp/0/quic-v1", "/ip4/127.0.0.1/tcp/0/ws"},
		NAT:         transports.NATConfig{HolePunching: transports.On},
	})
	if err != nil {
		panic(err)
	}
	defer h.Close()
	t := transports.TraversalOf(h)
	fmt.Println(len(h.Addrs()), t.Reachability(), t.HolePunches().Attempts)

	_, err = transports.Parse("tcp,carrier-pigeon")
	fmt.Println(err)
	// Output:
	// 2 Unknown 0
	// transports: unknown transport "carrier-pigeon" (known: tcp, quic, ws, webtransport, webrtc-direct)
}
