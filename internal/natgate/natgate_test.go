package natgate

import (
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

func TestBlockDirect(t *testing.T) {
	blocked, other := peer.ID("blocked"), peer.ID("other")
	g := BlockDirect(blocked)
	direct := ma.StringCast("/ip4/127.0.0.1/tcp/4001")
	circuit := ma.StringCast("/ip4/127.0.0.1/tcp/4002/p2p/12D3KooWGRUVh5ZQ8s5ZArrH4ydW2xVV1dGNF6TUSqQdvD2SxLGT/p2p-circuit")
	if g.InterceptAddrDial(blocked, direct) {
		t.Error("a direct dial to a blocked peer got through")
	}
	if !g.InterceptAddrDial(blocked, circuit) {
		t.Error("a relayed dial to a blocked peer was refused")
	}
	if !g.InterceptAddrDial(other, direct) {
		t.Error("a direct dial to another peer was refused")
	}
}
