package engine_test

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
	"github.com/latticedb/lattice/internal/enginetest"
	"github.com/latticedb/lattice/internal/natgate"
	"github.com/latticedb/lattice/internal/poll"
	"github.com/latticedb/lattice/transports/relay"
)

// TestLateJoinerCatchesUpThroughRelay: a replica that can reach the
// writer only through a circuit relay gets a long history by catch-up
// over the relayed connection, not one bitswap round trip per delta.
func TestLateJoinerCatchesUpThroughRelay(t *testing.T) {
	const n = 300
	r, err := relay.Start(relay.Config{Listen: []string{"/ip4/127.0.0.1/tcp/0"}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	keyA, _, err := crypto.GenerateEd25519Key(nil)
	require.NoError(t, err)
	keyB, _, err := crypto.GenerateEd25519Key(nil)
	require.NoError(t, err)
	idA, _ := peer.IDFromPrivateKey(keyA)
	idB, _ := peer.IDFromPrivateKey(keyB)
	a := enginetest.NewEngine(t, engine.WithIdentity(keyA), engine.WithRelays(r.AddrInfo()),
		engine.WithLibp2pOptions(libp2p.ConnectionGater(natgate.BlockDirect(idB))))
	b := enginetest.NewEngine(t, engine.WithIdentity(keyB),
		engine.WithLibp2pOptions(libp2p.ConnectionGater(natgate.BlockDirect(idA))))
	dba := history(t, a, n)

	// a advertises its circuit address once its reservation holds.
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
	require.NoError(t, b.Connect(ctx, peer.AddrInfo{ID: idA, Addrs: []ma.Multiaddr{circuit}}))
	for _, c := range b.Host().Network().ConnsToPeer(idA) {
		require.Contains(t, c.RemoteMultiaddr().String(), "/p2p-circuit", "b must reach a only through the relay")
	}

	dbb := enginetest.Open(t, b, dba.Address())
	enginetest.Converged(t, 90*time.Second, n, dba.Collection("todos"), dbb.Collection("todos"))
	st := dbb.Stats()
	require.NotZero(t, st.Catchup.Runs, "no catch-up ran over the relayed connection")
	require.Greater(t, st.Catchup.Blocks, uint64(n/2), "most of the history should come by catch-up: %+v", st.Catchup)
	require.Zero(t, st.Catchup.Remaining)
}
