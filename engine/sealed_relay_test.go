package engine_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/enginetest"
	"github.com/latticedb/lattice/internal/natgate"
	"github.com/latticedb/lattice/internal/poll"
	"github.com/latticedb/lattice/transports/relay"
)

// TestSealedLateJoinerThroughRelay: a reader that reaches the writer only
// through a circuit relay joins a sealed database's 300-delta history by
// catch-up over the relayed connection, and reads all of it across two
// epochs (the history is written before and after a rotation).
func TestSealedLateJoinerThroughRelay(t *testing.T) {
	const n = 300
	ctx := context.Background()
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

	dba, err := a.Create(ctx, "history", engine.WithSealed(), engine.WithAccess(accesscontrol.Open()))
	require.NoError(t, err)
	c := dba.Collection("todos")
	for i := 0; i < n; i++ {
		if i == n/2 {
			require.NoError(t, dba.RotateNow(ctx))
		}
		_, err := c.InsertOne(ctx, engine.M{"_id": fmt.Sprintf("t%05d", i), "title": "to-do", "n": i})
		require.NoError(t, err)
	}
	rec, err := b.MemberRecord(ctx)
	require.NoError(t, err)
	require.NoError(t, dba.Share(ctx, rec))

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
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	require.NoError(t, b.Connect(cctx, peer.AddrInfo{ID: idA, Addrs: []ma.Multiaddr{circuit}}))
	for _, conn := range b.Host().Network().ConnsToPeer(idA) {
		require.Contains(t, conn.RemoteMultiaddr().String(), "/p2p-circuit", "b must reach a only through the relay")
	}

	dbb := enginetest.Open(t, b, dba.Address())
	poll.Eventually(t, 90*time.Second, func() error {
		got, err := dbb.Collection("todos").CountDocuments(ctx, engine.M{})
		if errors.Is(err, engine.ErrNotReader) {
			return err // its key package has not arrived yet
		}
		require.NoError(t, err)
		if got != n {
			return fmt.Errorf("b has %d of %d", got, n)
		}
		return nil
	})
	st := dbb.Stats()
	require.NotZero(t, st.Catchup.Runs, "no catch-up ran over the relayed connection")
	require.Greater(t, st.Catchup.Blocks, uint64(n/2), "most of the history should come by catch-up: %+v", st.Catchup)
}
