package dialpolicy

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

const relayID = "12D3KooWGRUVh5ZQ8s5ZArrH4ydW2xVV1dGNF6TUSqQdvD2SxLGT"

func addrs(ss ...string) []ma.Multiaddr {
	out := make([]ma.Multiaddr, len(ss))
	for i, s := range ss {
		out[i] = ma.StringCast(s)
	}
	return out
}

// TestPolicyTable pins every rule of the package doc against the three
// kinds of node: one on all interfaces (the default), one on loopback (tests,
// demos), and one the user allowed local dials.
func TestPolicyTable(t *testing.T) {
	public := New(Config{Listen: addrs("/ip4/0.0.0.0/tcp/4001", "/ip6/::/udp/4001/quic-v1")})
	onLoopback := New(Config{Listen: addrs("/ip4/127.0.0.1/tcp/0")})
	onLinkLocal := New(Config{Listen: addrs("/ip6zone/eth0/ip6/fe80::1/tcp/0")})
	allowed := New(Config{AllowLocal: true})
	cases := []struct {
		addr                                     string
		public, onLoopback, onLinkLocal, allowed bool
	}{
		{"/ip4/192.0.2.1/tcp/4001", true, true, true, true},
		{"/ip6/2001:db8::1/udp/4001/quic-v1", true, true, true, true},
		{"/ip4/10.1.2.3/tcp/4001", true, true, true, true},
		{"/ip4/192.168.1.20/tcp/4001/ws", true, true, true, true},
		{"/ip4/172.16.0.9/udp/4001/quic-v1", true, true, true, true},
		{"/ip6/fd00::1/tcp/4001", true, true, true, true},
		{"/dns4/example.com/tcp/443/wss", true, true, true, true},
		{"/ip4/127.0.0.1/tcp/5299", false, true, false, true},
		{"/ip4/127.1.2.3/udp/5299/quic-v1", false, true, false, true},
		{"/ip6/::1/tcp/5299/ws", false, true, false, true},
		{"/ip6/::ffff:127.0.0.1/tcp/5299", false, true, false, true},
		{"/dns4/localhost/tcp/5299", false, true, false, true},
		{"/dns/app.localhost./tcp/5299", false, true, false, true},
		{"/ip4/0.0.0.0/tcp/5299", false, false, false, true},
		{"/ip6/::/tcp/5299", false, false, false, true},
		{"/ip4/169.254.169.254/tcp/80", false, false, true, true},
		{"/ip6zone/eth0/ip6/fe80::2/tcp/4001", false, false, true, true},
		{"/ip4/224.0.0.251/udp/5353/quic-v1", false, false, true, true},
		{"/ip4/127.0.0.1/tcp/4002/p2p/" + relayID + "/p2p-circuit", false, true, false, true},
		{"/ip4/192.0.2.1/tcp/4002/p2p/" + relayID + "/p2p-circuit", true, true, true, true},
		{"/p2p/" + relayID + "/p2p-circuit", true, true, true, true},
	}
	for _, c := range cases {
		a := ma.StringCast(c.addr)
		for _, pc := range []struct {
			name string
			p    *Policy
			want bool
		}{{"public", public, c.public}, {"on loopback", onLoopback, c.onLoopback}, {"on link-local", onLinkLocal, c.onLinkLocal}, {"allowed", allowed, c.allowed}} {
			err := pc.p.Check(a)
			if (err == nil) != pc.want {
				t.Errorf("%s node, %s: allowed=%v, want %v (%v)", pc.name, c.addr, err == nil, pc.want, err)
			}
			if err != nil && !errors.Is(err, ErrRefused) {
				t.Errorf("%s: error %v does not wrap ErrRefused", c.addr, err)
			}
			if got := pc.p.InterceptAddrDial(peer.ID(fmt.Sprint("p-", c.addr)), a); got != pc.want {
				t.Errorf("%s node, %s: InterceptAddrDial=%v, want %v", pc.name, c.addr, got, pc.want)
			}
		}
	}
}

func TestTrustedPeersAndLength(t *testing.T) {
	trusted := peer.ID("bootstrap")
	p := New(Config{Trusted: []peer.ID{trusted}})
	local := ma.StringCast("/ip4/127.0.0.1/tcp/4001")
	if !p.InterceptAddrDial(trusted, local) {
		t.Error("a trusted peer's loopback address was refused")
	}
	if p.InterceptAddrDial("stranger", local) {
		t.Error("a stranger's loopback address was allowed")
	}
	long := ma.StringCast("/dns4/" + strings.Repeat("a", 60) + "." + strings.Repeat("b", 60) + "." + strings.Repeat("c", 60) + "." + strings.Repeat("d", 60) + ".example/tcp/1")
	if err := p.Check(long); !errors.Is(err, ErrRefused) {
		t.Errorf("a %d-byte address was allowed", len(long.Bytes()))
	}
	if !p.InterceptPeerDial("stranger") || !p.InterceptAccept(nil) || !p.InterceptSecured(0, "stranger", nil) {
		t.Error("the policy judges inbound connections or whole peers")
	}
}

// A peer that announces many addresses gets MaxAddrsPerPeer of them
// dialed per Window; redialing one already dialed is always allowed.
func TestAddrsPerPeerBound(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	p := New(Config{Now: func() time.Time { return now }})
	addr := func(i int) ma.Multiaddr { return ma.StringCast(fmt.Sprintf("/ip4/198.51.100.%d/tcp/4001", i+1)) }
	for i := 0; i < MaxAddrsPerPeer; i++ {
		if !p.InterceptAddrDial("many", addr(i)) {
			t.Fatalf("address %d refused", i)
		}
	}
	if p.InterceptAddrDial("many", addr(MaxAddrsPerPeer)) {
		t.Error("one address past the bound was allowed")
	}
	if !p.InterceptAddrDial("many", addr(0)) {
		t.Error("a redial of an address already dialed was refused")
	}
	if !p.InterceptAddrDial("other", addr(MaxAddrsPerPeer)) {
		t.Error("the bound is per peer, yet another peer was refused")
	}
	now = now.Add(Window + time.Second)
	if !p.InterceptAddrDial("many", addr(MaxAddrsPerPeer)) {
		t.Error("the bound did not reset after Window")
	}
	// The memory of dialed peers is bounded too.
	for i := 0; i < maxPeers+10; i++ {
		p.InterceptAddrDial(peer.ID(fmt.Sprint(i)), addr(0))
	}
	if n := len(p.dialed); n > maxPeers {
		t.Errorf("%d peers remembered, the bound is %d", n, maxPeers)
	}
}

type refuse struct{ connmgr.ConnectionGater }

func (refuse) InterceptAddrDial(peer.ID, ma.Multiaddr) bool { return false }

func TestChain(t *testing.T) {
	a := ma.StringCast("/ip4/192.0.2.1/tcp/4001")
	if !Chain(New(Config{}), nil).InterceptAddrDial("p", a) {
		t.Error("a chain of allowing gaters refused")
	}
	if Chain(New(Config{}), refuse{}).InterceptAddrDial("p", a) {
		t.Error("a chain allowed what one of its gaters refused")
	}
	if Chain(refuse{}, New(Config{})).InterceptAddrDial("p", a) {
		t.Error("order matters in a chain")
	}
}

// FuzzCheck: whatever bytes a peer or a link calls an address, the policy
// answers without panicking, and never allows a loopback, link-local or
// unspecified first hop to a node on all interfaces.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{"/ip4/127.0.0.1/tcp/1", "/ip6/::/tcp/1", "/dns4/localhost/tcp/1", "/ip6zone/x/ip6/fe80::1/tcp/1", "/ip4/192.0.2.1/tcp/1/ws"} {
		f.Add(ma.StringCast(s).Bytes())
	}
	p := New(Config{Listen: addrs("/ip4/0.0.0.0/tcp/4001")})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ma.NewMultiaddrBytes(b)
		if err != nil {
			return
		}
		err = p.Check(a)
		if err == nil {
			if c := classify(a); c != classOther {
				t.Fatalf("%s (%s) allowed", a, c)
			}
			if len(b) > MaxAddrLen {
				t.Fatalf("%d-byte address allowed", len(b))
			}
		}
		p.InterceptAddrDial("fuzz", a)
	})
}
