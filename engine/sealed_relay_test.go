package engine_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/enginetest"
	"github.com/latticedb/lattice/internal/poll"
)

// TestSealedLateJoinerThroughRelay: a reader that reaches the writer only
// through a circuit relay joins a sealed database's 300-delta history by
// catch-up over the relayed connection, and reads all of it across two
// epochs (the history is written before and after a rotation).
func TestSealedLateJoinerThroughRelay(t *testing.T) {
	const n = 300
	ctx := context.Background()
	a, b := enginetest.RelayedPair(t)

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

	enginetest.ConnectThroughRelay(t, b, a)
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
