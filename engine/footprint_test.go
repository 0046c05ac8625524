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
func TestSmallFootprintInteroperates(t *testing.T) {
	ctx := context.Background()
	a := enginetest.NewEngine(t, engine.WithSmallFootprint())
	mid := enginetest.NewEngine(t)
	b := enginetest.NewEngine(t, engine.WithSmallFootprint())
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
