package relay_test

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/internal/poll"
	"github.com/latticedb/lattice/transports/relay"
)

// newHost starts a bare libp2p host on loopback, closed when the test ends.
func newHost(t *testing.T) host.Host {
	t.Helper()
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.Close() })
	return h
}

// reserve connects h to the relay and asks for a reservation.
func reserve(ctx context.Context, h host.Host, r *relay.Service) error {
	if err := h.Connect(ctx, r.AddrInfo()); err != nil {
		return err
	}
	_, err := client.Reserve(ctx, h, r.AddrInfo())
	return err
}

// dialThrough connects from to to through the relay's circuit.
func dialThrough(ctx context.Context, t *testing.T, from, to host.Host, r *relay.Service) {
	t.Helper()
	circuit, err := ma.NewMultiaddr(r.Addrs()[0].String() + "/p2p-circuit")
	require.NoError(t, err)
	require.NoError(t, from.Connect(ctx, peer.AddrInfo{ID: to.ID(), Addrs: []ma.Multiaddr{circuit}}))
}

// With an allowlist, a peer that is not on it cannot reserve (so nobody
// can be reached through the relay but the listed peers); a listed one
// can, and others reach it.
func TestRelayAllowlist(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	listed, stranger, dialer := newHost(t), newHost(t), newHost(t)
	r, err := relay.Start(relay.Config{Listen: []string{"/ip4/127.0.0.1/tcp/0"}, Allow: []peer.ID{listed.ID()}})
	require.NoError(t, err)
	defer r.Close()

	err = reserve(ctx, stranger, r)
	require.Error(t, err, "a peer off the allowlist reserved")
	require.ErrorContains(t, err, "PERMISSION_DENIED")
	require.NoError(t, reserve(ctx, listed, r))
	dialThrough(ctx, t, dialer, listed, r)
}

// A circuit carries at most its data limit in each direction and lasts at
// most its duration; then the relay resets it. The connection through it
// is not marked limited, so Lattice's protocols run on it until then.
func TestRelayCircuitLimits(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const limit = 256 << 10
	r, err := relay.Start(relay.Config{Listen: []string{"/ip4/127.0.0.1/tcp/0"}, Circuit: relay.CircuitLimit{Duration: time.Hour, Data: limit}})
	require.NoError(t, err)
	defer r.Close()
	dst, src := newHost(t), newHost(t)
	require.NoError(t, reserve(ctx, dst, r))

	var got atomic.Int64
	dst.SetStreamHandler("/bulk/1", func(s network.Stream) {
		n, _ := io.Copy(io.Discard, s)
		got.Add(n)
		_ = s.Reset()
	})
	dialThrough(ctx, t, src, dst, r)
	for _, c := range src.Network().ConnsToPeer(dst.ID()) {
		require.False(t, c.Stat().Limited, "the relay announced a limit")
	}
	s, err := src.NewStream(network.WithAllowLimitedConn(ctx, "test"), dst.ID(), "/bulk/1")
	require.NoError(t, err)
	chunk := make([]byte, 32<<10)
	var sent int64
	var werr error
	for sent < 8*limit && werr == nil {
		var n int
		n, werr = s.Write(chunk)
		sent += int64(n)
	}
	require.Error(t, werr, "8x the circuit's data limit went through")
	// The relay reset the circuit: the destination's side of it closes
	// (before or after its handler ran: a reset drops what was queued).
	poll.Eventually(t, 10*time.Second, func() error {
		if n := len(dst.Network().ConnsToPeer(src.ID())); n > 0 {
			return fmt.Errorf("%d circuit connections still open at the destination", n)
		}
		return nil
	})
	require.Less(t, got.Load(), int64(limit), "bytes past the limit reached the destination")

	// Duration: a relay whose circuits last 300 ms drops a connection
	// that is idle but open.
	short, err := relay.Start(relay.Config{Listen: []string{"/ip4/127.0.0.1/tcp/0"}, Circuit: relay.CircuitLimit{Duration: 300 * time.Millisecond, Data: limit}})
	require.NoError(t, err)
	defer short.Close()
	dst2, src2 := newHost(t), newHost(t)
	require.NoError(t, reserve(ctx, dst2, short))
	dialThrough(ctx, t, src2, dst2, short)
	poll.Eventually(t, 10*time.Second, func() error {
		if n := len(src2.Network().ConnsToPeer(dst2.ID())); n > 0 {
			return fmt.Errorf("%d circuit connections still open", n)
		}
		return nil
	})

	_, err = relay.Start(relay.Config{Listen: []string{"/ip4/127.0.0.1/tcp/0"}, Circuit: relay.CircuitLimit{Duration: time.Minute}})
	require.Error(t, err, "a circuit limit without data")
}
