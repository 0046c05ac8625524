package main

import (
	"context"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/transports"
	"github.com/latticedb/lattice/transports/relay"
	"github.com/latticedb/lattice/transports/transportstest"
)

// Browsers speak only WebSocket: lattice node listens on it by default and
// prints the address, and a host speaking nothing but WebSocket connects
// to the node through the printed line.
func TestNodeListensOnWebSocket(t *testing.T) {
	out, _, done := startCLI(t, "node", "--in-memory", "--api", "127.0.0.1:0", "--log-level", "off")
	port := waitLine(t, out, done, regexp.MustCompile(`(?m)^listen: /ip4/\S+/tcp/(\d+)/ws/p2p/12D3KooW\S+$`))
	id := waitLine(t, out, done, regexp.MustCompile(`(?m)^peer: (\S+)$`))
	dialWebSocket(t, "/ip4/127.0.0.1/tcp/"+port+"/ws/p2p/"+id)
}

// lattice relay prints its WebSocket addresses like the others, and a
// WebSocket-only host connects to it.
func TestRelayListensOnWebSocket(t *testing.T) {
	out, _, done := startCLI(t, "relay", "--in-memory", "--listen", "/ip4/127.0.0.1/tcp/0", "--listen", "/ip4/127.0.0.1/tcp/0/ws")
	addr := waitLine(t, out, done, regexp.MustCompile(`(?m)^relay: (/ip4/127\.0\.0\.1/tcp/\d+/ws/p2p/12D3KooW\S+)$`))
	dialWebSocket(t, addr)
}

// dialWebSocket connects a WebSocket-only host to addr.
func dialWebSocket(t *testing.T, addr string) {
	t.Helper()
	info, err := peer.AddrInfoFromP2pAddr(ma.StringCast(addr))
	require.NoError(t, err)
	h := transportstest.NewHost(t, transports.WebSocket())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, h.Connect(ctx, *info), "dial %s", addr)
}

// The relay's default addresses include WebSocket (port 4003), and follow
// --transport: a relay told to speak TCP and QUIC does not listen on it.
func TestRelayDefaultListen(t *testing.T) {
	require.Contains(t, relay.DefaultListen, "/ip4/0.0.0.0/tcp/4003/ws")
	parse := func(names ...string) []transports.Transport {
		ts, err := transports.Parse(names...)
		require.NoError(t, err)
		return ts
	}
	require.Equal(t, relay.DefaultListen, relayDefaultListen(parse("tcp,quic,ws")))
	got := relayDefaultListen(parse("tcp,quic"))
	require.Equal(t, []string{"/ip4/0.0.0.0/tcp/4002", "/ip4/0.0.0.0/udp/4002/quic-v1"}, got)
	require.False(t, slices.Contains(got, "/ip4/0.0.0.0/tcp/4003/ws"))
	require.Equal(t, []string{"/ip4/0.0.0.0/tcp/4003/ws"}, relayDefaultListen(parse("ws")))
	require.Empty(t, relayDefaultListen(parse("webtransport")))
	code, _, errOut := runCLI(t, "relay", "--in-memory", "--transport", "webtransport")
	require.Equal(t, exitUsage, code, errOut)
	require.Contains(t, errOut, "give --listen")
}
