package engine_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/enginetest"
)

// TestSmallFootprintInteroperates runs small-footprint engines beside a
// default one, in a line small - default - small so every write of an end
// passes through the default engine: the small profile changes only
// local sizes (gossip history, seen-id memory, workers), so the three
// converge.
//
// Reconnecting is on (enginetest turns it off for tests that partition):
// in a line, one connection dropped under load (a yamux write timing out
// while the machine swaps beside a large simulation) cuts an end off for
// good, and the test used to wait its 60 s for what takes 80 ms.
func TestSmallFootprintInteroperates(t *testing.T) {
	ctx := context.Background()
	on := engine.WithReconnect(true)
	a := enginetest.NewEngine(t, engine.WithSmallFootprint(), on)
	mid := enginetest.NewEngine(t, on)
	b := enginetest.NewEngine(t, engine.WithSmallFootprint(), on)
	for _, e := range []*engine.Engine{a, b} {
		require.NoError(t, e.Connect(ctx, peer.AddrInfo{ID: mid.ID(), Addrs: mid.Host().Addrs()}))
	}
	dba, err := a.Create(ctx, "small", engine.WithAccess(accesscontrol.Open()))
	require.NoError(t, err)
	dbm, err := mid.Open(ctx, dba.Address())
	require.NoError(t, err)
	dbb, err := b.Open(ctx, dba.Address())
	require.NoError(t, err)
	cs := []*engine.Collection{dba.Collection("c"), dbm.Collection("c"), dbb.Collection("c")}
	for i := 0; i < 10; i++ {
		for j, c := range cs {
			_, err := c.InsertOne(ctx, engine.M{"_id": fmt.Sprintf("%d-%d", j, i), "n": i})
			require.NoError(t, err)
		}
	}
	enginetest.Converged(t, 60*time.Second, 30, cs...)
}
