package relay

import (
	"fmt"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/x/rate"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/stretchr/testify/require"
)

// TestRatesPerSourceAddress: reservations and circuits from one address
// are admitted up to their burst and refused after it, whatever peer IDs
// the source uses; another address, loopback, and an address the
// allowlist refuses are judged on their own.
func TestRatesPerSourceAddress(t *testing.T) {
	acl := newRateACL(nil, Rates{
		Reservations: rate.Limit{RPS: 1e-9, Burst: 3},
		Circuits:     rate.Limit{RPS: 1e-9, Burst: 5},
	})
	addr := func(s string) ma.Multiaddr { return ma.StringCast(s) }
	spammer, other := addr("/ip4/198.51.100.7/tcp/4001"), addr("/ip4/203.0.113.9/udp/4001/quic-v1")
	v6, v6sameNet := addr("/ip6/2001:db8:1:100::1/tcp/1"), addr("/ip6/2001:db8:1:1ff::2/tcp/1")
	id := func(i int) peer.ID { return peer.ID(rune('a' + i)) }

	for i := 0; i < 3; i++ {
		require.True(t, acl.AllowReserve(id(i), spammer), "reservation %d within the burst", i)
	}
	require.False(t, acl.AllowReserve(id(9), spammer), "a fresh peer ID from the same address")
	require.True(t, acl.AllowReserve(id(0), other), "another address has its own bucket")
	for i := 0; i < 20; i++ {
		require.True(t, acl.AllowReserve(id(i), addr("/ip4/127.0.0.1/tcp/1")), "loopback is exempt")
	}
	for i := 0; i < 5; i++ {
		require.True(t, acl.AllowConnect(id(i), spammer, id(20)), "circuit %d within the burst", i)
	}
	require.False(t, acl.AllowConnect(id(7), spammer, id(21)))
	// IPv6 counts per /56: two addresses of one /56 share a bucket.
	for i := 0; i < 3; i++ {
		require.True(t, acl.AllowReserve(id(i), v6))
	}
	require.False(t, acl.AllowReserve(id(5), v6sameNet))
	// An address without an IP (none here, but a relayed source could
	// be one) is not rate limited.
	require.True(t, acl.AllowReserve(id(1), nil))

	// The allowlist judges first, and spends no tokens on what it refuses.
	list := allowlist{id(1): true}
	gated := newRateACL(list, Rates{Reservations: rate.Limit{RPS: 1e-9, Burst: 1}})
	require.False(t, gated.AllowReserve(id(2), other))
	require.True(t, gated.AllowReserve(id(1), other))
	require.False(t, gated.AllowReserve(id(1), other), "the burst of 1 is spent")
	// Zero limits are unlimited.
	open := newRateACL(nil, Rates{})
	for i := 0; i < 100; i++ {
		require.True(t, open.AllowConnect(id(i%5), spammer, id(6)))
	}
}

// TestRatesPerPeer: one peer ID is bounded however many addresses it
// asks from; other peers have their own buckets; the bucket refills with
// time; loopback stays exempt.
func TestRatesPerPeer(t *testing.T) {
	acl := newRateACL(nil, Rates{
		PeerReservations: rate.Limit{RPS: 1, Burst: 2},
		PeerCircuits:     rate.Limit{RPS: 1, Burst: 3},
	})
	now := time.Unix(1000, 0)
	clock := func() time.Time { return now }
	acl.peerReserve.now, acl.peerConnect.now = clock, clock
	addr := func(i int) ma.Multiaddr { return ma.StringCast(fmt.Sprintf("/ip6/2001:db8:%x::1/tcp/1", i)) }
	p, q := peer.ID("p"), peer.ID("q")

	require.True(t, acl.AllowReserve(p, addr(1)))
	require.True(t, acl.AllowReserve(p, addr(2)))
	require.False(t, acl.AllowReserve(p, addr(3)), "a third reservation from a new /56 within the burst's second")
	require.True(t, acl.AllowReserve(q, addr(3)), "another peer has its own bucket")
	require.True(t, acl.AllowReserve(p, ma.StringCast("/ip4/127.0.0.1/tcp/1")), "loopback is exempt")
	now = now.Add(time.Second)
	require.True(t, acl.AllowReserve(p, addr(4)), "a token a second")
	require.False(t, acl.AllowReserve(p, addr(5)))

	for i := 0; i < 3; i++ {
		require.True(t, acl.AllowConnect(p, addr(10+i), q))
	}
	require.False(t, acl.AllowConnect(p, addr(20), q))
	require.True(t, acl.AllowConnect(q, addr(20), p))

	// Defaults bound peers too, and a zero limit leaves them unlimited.
	require.NotZero(t, DefaultRates().PeerReservations)
	require.NotZero(t, DefaultRates().PeerCircuits)
	require.Nil(t, newRateACL(nil, Rates{}).peerConnect)
}

// The per-peer buckets are bounded: past maxRatedPeers, refilled buckets
// are dropped first, then the oldest half.
func TestPeerLimiterBounded(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newPeerLimiter(rate.Limit{RPS: 1, Burst: 1}, func() time.Time { return now })
	for i := 0; i < 3*maxRatedPeers; i++ {
		l.allow(peer.ID(fmt.Sprint(i)))
		require.LessOrEqual(t, len(l.peers), maxRatedPeers)
		require.Equal(t, len(l.peers), len(l.order))
	}
	l = newPeerLimiter(rate.Limit{RPS: 1, Burst: 1}, func() time.Time { return now })
	for i := 0; i < maxRatedPeers; i++ {
		l.allow(peer.ID(fmt.Sprint(i)))
	}
	now = now.Add(time.Minute)
	l.allow("fresh")
	require.Len(t, l.peers, 1, "every refilled bucket dropped once the bound is hit")
}
