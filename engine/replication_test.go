package engine_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/engine"
)

func TestThreeReplicasConverge(t *testing.T) {
	ctx := context.Background()
	a, b, c := newEngine(t), newEngine(t), newEngine(t)
	connectAll(t, a, b, c)

	dbA, err := a.Create(ctx, "TodoList", engine.WithAccess(accesscontrol.Open()))
	require.NoError(t, err)
	require.Regexp(t, `^/lattice/bag[a-z0-9]+/TodoList$`, dbA.Address())

	openCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	dbB, err := b.Open(openCtx, dbA.Address())
	require.NoError(t, err)
	dbC, err := c.Open(openCtx, dbA.Address())
	require.NoError(t, err)

	ta, tb, tc := dbA.Collection("todos"), dbB.Collection("todos"), dbC.Collection("todos")
	for i := 0; i < 10; i++ {
		for j, col := range []*engine.Collection{ta, tb, tc} {
			_, err := col.InsertOne(ctx, engine.M{"title": fmt.Sprintf("todo %d from %d", i, j), "n": i, "isDone": false})
			require.NoError(t, err)
		}
	}
	// Every write reaches every replica.
	converged(t, 30*time.Second, 30, ta, tb, tc)

	// Updates and deletes made on different replicas then reach the others.
	_, err = tb.UpdateMany(ctx, engine.M{"n": engine.M{"$lt": 3}}, engine.M{"$set": engine.M{"isDone": true}})
	require.NoError(t, err)
	_, err = tc.DeleteMany(ctx, engine.M{"n": 9})
	require.NoError(t, err)

	converged(t, 30*time.Second, 27, ta, tb, tc)

	// Every replica agrees on what was deleted and updated.
	for _, col := range []*engine.Collection{ta, tb, tc} {
		n, err := col.CountDocuments(ctx, engine.M{"n": 9})
		require.NoError(t, err)
		require.Zero(t, n)
		n, err = col.CountDocuments(ctx, engine.M{"isDone": true})
		require.NoError(t, err)
		require.EqualValues(t, 9, n)
		n, err = col.CountDocuments(ctx, nil)
		require.NoError(t, err)
		require.EqualValues(t, 27, n)
	}
}
