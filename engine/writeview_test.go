package engine_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/enginetest"
	"github.com/latticedb/lattice/internal/poll"
)

// A write plans against the document's state in the store, not the view's
// copy of it: when a remote change has reached the store but not yet the
// view, a filter the view still matches is checked again against the
// store, and a document that no longer matches there is not written.
func TestWriteMatchesTheStoreWhenTheViewLags(t *testing.T) {
	ctx := context.Background()
	p := newPair(t, engine.M{"v": int64(1)})
	release := engine.HoldView(p.cb.Database())
	defer release()

	p.update(t, p.ca, engine.M{"$set": engine.M{"v": int64(2)}})
	// B's store has the change (it is pending), its view does not.
	poll.Eventually(t, 30*time.Second, func() error {
		if n := p.cb.Database().Stats().PendingChanges; n == 0 {
			return fmt.Errorf("B has no pending change yet")
		}
		return nil
	})
	var shown engine.M
	require.NoError(t, p.cb.FindByID(ctx, "doc").Decode(&shown))
	require.EqualValues(t, 1, shown["v"], "the held view already shows the change")

	res, err := p.cb.UpdateOne(ctx, engine.M{"v": int64(1)}, engine.M{"$set": engine.M{"w": true}})
	require.NoError(t, err)
	require.Zero(t, res.MatchedCount, "an update matched the view's stale copy, not the store's state")

	res, err = p.cb.UpdateOne(ctx, engine.M{"_id": "doc"}, engine.M{"$inc": engine.M{"n": 1}})
	require.NoError(t, err)
	require.EqualValues(t, 1, res.MatchedCount)

	release()
	enginetest.Converged(t, 30*time.Second, 1, p.ca, p.cb)
	var doc engine.M
	require.NoError(t, p.cb.FindByID(ctx, "doc").Decode(&doc))
	require.EqualValues(t, 2, doc["v"])
	require.EqualValues(t, 1, doc["n"])
	require.NotContains(t, doc, "w")
}
