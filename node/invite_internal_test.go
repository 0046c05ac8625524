package node

import (
	"fmt"
	"testing"

	ma "github.com/multiformats/go-multiaddr"
	"github.com/stretchr/testify/require"
)

// A node behind a NAT with many addresses of its own keeps its relay
// circuit in its links: the circuit is what works from elsewhere.
func TestInviteAddrsKeepCircuitsFirst(t *testing.T) {
	var as []ma.Multiaddr
	for i := 0; i < MaxLinkAddrs+3; i++ {
		as = append(as, ma.StringCast(fmt.Sprintf("/ip4/198.51.100.%d/tcp/4001", i+1)))
	}
	circuit := ma.StringCast("/ip4/203.0.113.7/tcp/4002/p2p/12D3KooWGRUVh5ZQ8s5ZArrH4ydW2xVV1dGNF6TUSqQdvD2SxLGT/p2p-circuit")
	as = append(as, ma.StringCast("/ip4/127.0.0.1/tcp/4001"), circuit)
	got := inviteAddrs(as)
	require.Len(t, got, MaxLinkAddrs)
	require.Equal(t, circuit.String(), got[0].String())
	require.Equal(t, "/ip4/198.51.100.1/tcp/4001", got[1].String())
}
