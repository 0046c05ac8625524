package engine_test

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/enginetest"
	"github.com/latticedb/lattice/internal/simtest"
)

// TestSynctestReconnectAfterRestart is TestReconnectAfterRestart under
// synctest: each replica in turn restarts on its data at a new address,
// told nothing about the other; the one that restarts (reading its
// address book) or the one that stayed (redialling with backoff) finds
// the other again, and both converge on what was written meanwhile.
func TestSynctestReconnectAfterRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := simtest.New(t, 8)
		ctx := context.Background()
		on := engine.WithReconnect(true)
		pa, pb := n.NewPeer(true, on), n.NewPeer(true, on)
		a, b := pa.Start(), pb.Start()
		n.ConnectAll(a, b)
		dba, err := a.Create(ctx, "reconnect", engine.WithAccess(accesscontrol.Open()))
		require.NoError(t, err)
		dbb := enginetest.Open(t, b, dba.Address())
		insert := func(c *engine.Collection, prefix string, count int) {
			t.Helper()
			for i := 0; i < count; i++ {
				_, err := c.InsertOne(ctx, engine.M{"_id": fmt.Sprintf("%s%03d", prefix, i)})
				require.NoError(t, err)
			}
		}
		insert(dba.Collection("c"), "first", 5)
		n.Converged(time.Minute, 5, dba.Collection("c"), dbb.Collection("c"))

		// The receiver restarts elsewhere after missing writes.
		bAddrs := fmt.Sprint(b.Addrs())
		pb.Stop()
		insert(dba.Collection("c"), "missed", 50)
		pb.Move()
		b = pb.Start()
		require.NotEqual(t, bAddrs, fmt.Sprint(b.Addrs()), "the restarted replica listens elsewhere")
		dbb = enginetest.Open(t, b, dba.Address())
		n.Converged(5*time.Minute, 55, dba.Collection("c"), dbb.Collection("c"))
		require.NotZero(t, dbb.Stats().Reconnects, "the restarted replica redialled its peer")

		// The writer restarts elsewhere: the replica that stayed cannot
		// dial its old address, but the writer redials it.
		pa.Stop()
		insert(dbb.Collection("c"), "while-away", 20)
		pa.Move()
		a = pa.Start()
		dba = enginetest.Open(t, a, dbb.Address())
		n.Converged(5*time.Minute, 75, dba.Collection("c"), dbb.Collection("c"))
	})
}
