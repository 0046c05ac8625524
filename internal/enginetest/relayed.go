package enginetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/natgate"
	"github.com/latticedb/lattice/internal/poll"
	"github.com/latticedb/lattice/transports/relay"
)

// RelayedPair starts a circuit relay on loopback and two engines that
// refuse direct connections to each other: a holds a reservation on the
// relay, so b can reach it only through a circuit (ConnectThroughRelay).
// All three close with the test.
func RelayedPair(t testing.TB) (a, b *engine.Engine) {
	t.Helper()
	r, err := relay.Start(relay.Config{Listen: []string{"/ip4/127.0.0.1/tcp/0"}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	keyA, _, err := crypto.GenerateEd25519Key(nil)
	require.NoError(t, err)
	keyB, _, err := crypto.GenerateEd25519Key(nil)
	require.NoError(t, err)
	idA, _ := peer.IDFromPrivateKey(keyA)
	idB, _ := peer.IDFromPrivateKey(keyB)
	a = NewEngine(t, engine.WithIdentity(keyA), engine.WithRelays(r.AddrInfo()),
		engine.WithLibp2pOptions(libp2p.ConnectionGater(natgate.BlockDirect(idB))))
	b = NewEngine(t, engine.WithIdentity(keyB),
		engine.WithLibp2pOptions(libp2p.ConnectionGater(natgate.BlockDirect(idA))))
	return a, b
}

// ConnectThroughRelay connects b to a (a pair from RelayedPair) once a
// advertises its circuit address, and checks that every connection
// between them is relayed.
func ConnectThroughRelay(t testing.TB, b, a *engine.Engine) {
	t.Helper()
	var circuit ma.Multiaddr
	poll.Eventually(t, 30*time.Second, func() error {
		for _, addr := range a.Addrs() {
			if strings.Contains(addr.String(), "/p2p-circuit") {
				circuit = addr
				return nil
			}
		}
		return fmt.Errorf("no circuit address among %v", a.Addrs())
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, b.Connect(ctx, peer.AddrInfo{ID: a.ID(), Addrs: []ma.Multiaddr{circuit}}))
	for _, c := range b.Host().Network().ConnsToPeer(a.ID()) {
		require.Contains(t, c.RemoteMultiaddr().String(), "/p2p-circuit", "b must reach a only through the relay")
	}
}
