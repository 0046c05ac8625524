package sim

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"testing"
	"testing/synctest"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/require"
)

// sock attaches a raw socket to a node, as the QUIC transport would.
func sock(t *testing.T, nd *Node) *hostConn {
	t.Helper()
	c, err := nd.gw.attach(net.UDPAddrFromAddrPort(nd.Listen))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// recv reads one packet, or reports that none came within a second.
func recv(t *testing.T, c *hostConn) (netip.AddrPort, bool) {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(time.Second)))
	buf := make([]byte, 100)
	_, from, err := c.ReadFrom(buf)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return netip.AddrPort{}, false
	}
	require.NoError(t, err)
	return from.(*net.UDPAddr).AddrPort(), true
}

func send(t *testing.T, c *hostConn, to netip.AddrPort) {
	t.Helper()
	_, err := c.WriteTo([]byte("x"), net.UDPAddrFromAddrPort(to))
	require.NoError(t, err)
}

// TestMappingAndFiltering drives the NAT with raw packets: mapping per
// destination or not, filtering by address and port, the idle timeout,
// and partitions.
func TestMappingAndFiltering(t *testing.T) {
	for _, typ := range []NATType{FullCone, AddressRestricted, PortRestricted, Symmetric} {
		t.Run(typ.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				nw := NewNetwork(NetworkConfig{MappingTimeout: 30 * time.Second})
				p := nw.AddNode(NodeConfig{NAT: Public, Latency: time.Millisecond})
				q := nw.AddNode(NodeConfig{NAT: Public, Latency: time.Millisecond})
				n := nw.AddNode(NodeConfig{NAT: typ, Latency: time.Millisecond})
				nw.Start()
				defer nw.Close()
				ps, qs, ns := sock(t, p), sock(t, q), sock(t, n)
				pAddr, qAddr := netip.AddrPortFrom(p.PublicIP, listenPort), netip.AddrPortFrom(q.PublicIP, listenPort)
				qOther := netip.AddrPortFrom(q.PublicIP, 9999) // q's address, another port
				qo := sock2(t, nw, q, qOther)

				send(t, ns, pAddr)
				toP, ok := recv(t, ps)
				require.True(t, ok)
				require.Equal(t, n.PublicIP, toP.Addr(), "the packet leaves from the NAT's address")
				send(t, ns, qAddr)
				toQ, ok := recv(t, qs)
				require.True(t, ok)
				m, f := typ.Behaviour()
				if m == EndpointIndependentMapping {
					require.Equal(t, toP, toQ, "one mapping for every destination")
				} else {
					require.NotEqual(t, toP, toQ, "a mapping per destination")
				}

				// p answers: always admitted.
				send(t, ps, toP)
				_, ok = recv(t, ns)
				require.True(t, ok)
				// q writes to the mapping n made towards p, from the
				// port n sent to, and from another port.
				send(t, qs, toP)
				_, fromSentPort := recv(t, ns)
				send(t, qo, toP)
				_, fromOtherPort := recv(t, ns)
				switch {
				case m == EndpointDependentMapping:
					require.False(t, fromSentPort, "a symmetric mapping admits only its destination")
					require.False(t, fromOtherPort)
				case f == EndpointIndependentFiltering:
					require.True(t, fromSentPort)
					require.True(t, fromOtherPort)
				case f == AddressDependentFiltering:
					require.True(t, fromSentPort)
					require.True(t, fromOtherPort, "same address, any port")
				default:
					require.True(t, fromSentPort)
					require.False(t, fromOtherPort, "same address, another port")
				}

				// Idle past the timeout: the mapping is gone.
				time.Sleep(31 * time.Second)
				send(t, ps, toP)
				_, ok = recv(t, ns)
				require.False(t, ok, "an expired mapping admits nothing")
				send(t, ns, pAddr)
				again, ok := recv(t, ps)
				require.True(t, ok)
				require.NotEqual(t, toP, again, "a new mapping after the timeout")

				// A partition drops packets both ways; healing restores.
				nw.Partition([]int{n.Index})
				send(t, ns, pAddr)
				_, ok = recv(t, ps)
				require.False(t, ok)
				nw.Heal()
				send(t, ns, pAddr)
				_, ok = recv(t, ps)
				require.True(t, ok)
			})
		})
	}
}

// sock2 attaches a second socket on a public node at another port (only
// the test does this; a peer has one QUIC socket).
func sock2(t *testing.T, nw *Network, nd *Node, at netip.AddrPort) *hostConn {
	t.Helper()
	g := &gateway{net: nw, node: nd.Index, nat: Public, publicIP: nd.PublicIP, timeout: nw.mappingTimeout, link: nd.gw.link}
	c, err := g.attach(net.UDPAddrFromAddrPort(at))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestRelaysOf: with more relays than MaxRelaysPerPeer, each peer gets
// that many distinct ones and the reservations spread evenly; with fewer,
// every peer gets them all.
func TestRelaysOf(t *testing.T) {
	var relays []peer.AddrInfo
	for i := range 5 {
		relays = append(relays, peer.AddrInfo{ID: peer.ID(fmt.Sprint("relay-", i))})
	}
	require.Len(t, relaysOf(3, relays[:2]), 2)
	uses := map[peer.ID]int{}
	for i := range 100 {
		got := relaysOf(i, relays)
		require.Len(t, got, MaxRelaysPerPeer)
		require.NotEqual(t, got[0].ID, got[1].ID)
		for _, r := range got {
			uses[r.ID]++
		}
	}
	for _, r := range relays {
		require.Equal(t, 100*MaxRelaysPerPeer/len(relays), uses[r.ID], "relay %s", r.ID)
	}
}
