package engine_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/enginetest"
)

// TestReconnectAfterRestart restarts each replica in turn, on the same
// data directory and a new port, with nothing told where the other is:
// the replica that restarts (reading its address book) or the one that
// stayed (redialling with backoff) finds the other again, and both
// converge on what was written meanwhile.
func TestReconnectAfterRestart(t *testing.T) {
	ctx := context.Background()
	adir, bdir := t.TempDir(), t.TempDir()
	on := engine.WithReconnect(true)
	a := enginetest.NewEngineAt(t, adir, on)
	b := enginetest.NewEngineAt(t, bdir, on)
	enginetest.ConnectAll(t, a, b)
	dba, err := a.Create(ctx, "reconnect", engine.WithAccess(accesscontrol.Open()))
	require.NoError(t, err)
	dbb := enginetest.Open(t, b, dba.Address())
	insert := func(c *engine.Collection, prefix string, n int) {
		t.Helper()
		for i := 0; i < n; i++ {
			_, err := c.InsertOne(ctx, engine.M{"_id": fmt.Sprintf("%s%03d", prefix, i)})
			require.NoError(t, err)
		}
	}
	insert(dba.Collection("c"), "first", 5)
	enginetest.Converged(t, 30*time.Second, 5, dba.Collection("c"), dbb.Collection("c"))

	// The receiver restarts (new port) after missing writes.
	bAddrs := fmt.Sprint(b.Addrs())
	require.NoError(t, b.Close())
	insert(dba.Collection("c"), "missed", 50)
	b = enginetest.NewEngineAt(t, bdir, on)
	require.NotEqual(t, bAddrs, fmt.Sprint(b.Addrs()), "the restarted replica listens elsewhere")
	dbb = enginetest.Open(t, b, dba.Address())
	enginetest.Converged(t, 60*time.Second, 55, dba.Collection("c"), dbb.Collection("c"))
	require.NotZero(t, dbb.Stats().Reconnects, "the restarted replica redialled its peer")

	// The writer restarts on a new port: the replica that stayed cannot
	// dial its old address, but the writer redials it.
	require.NoError(t, a.Close())
	insert(dbb.Collection("c"), "while-away", 20)
	a = enginetest.NewEngineAt(t, adir, on)
	dba = enginetest.Open(t, a, dbb.Address())
	enginetest.Converged(t, 60*time.Second, 75, dba.Collection("c"), dbb.Collection("c"))
}
