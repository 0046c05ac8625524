package node_test

import (
	"fmt"

	"github.com/latticedb/lattice/node"
)

func ExampleParseInvite() {
	inv, err := node.ParseInvite("lattice://join?peer=12D3KooWGRUVh5ZQ8s5ZArrH4ydW2xVV1dGNF6TUSqQdvD2SxLGT" +
		"&addr=/ip4/192.0.2.1/tcp/4001&addr=/ip4/192.0.2.1/udp/4001/quic-v1" +
		"&db=/lattice/baguqeerajj3lgc2usaywwnt2v5jvuwr4paylwdcf6owabg2hqwgcc4673rra/TodoList")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(inv.Peer)
	for _, a := range inv.Addrs {
		fmt.Println(a)
	}
	fmt.Println(inv.Database)
	fmt.Println(node.InviteTopic(inv.Peer))
	// Output:
	// 12D3KooWGRUVh5ZQ8s5ZArrH4ydW2xVV1dGNF6TUSqQdvD2SxLGT
	// /ip4/192.0.2.1/tcp/4001
	// /ip4/192.0.2.1/udp/4001/quic-v1
	// /lattice/baguqeerajj3lgc2usaywwnt2v5jvuwr4paylwdcf6owabg2hqwgcc4673rra/TodoList
	// /lattice/invite/12D3KooWGRUVh5ZQ8s5ZArrH4ydW2xVV1dGNF6TUSqQdvD2SxLGT
}
