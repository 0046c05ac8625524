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

func TestThreeReplicasConverge(t *testing.T) {
	ctx := context.Background()
	a, b, c := enginetest.NewEngine(t), enginetest.NewEngine(t), enginetest.NewEngine(t)
	enginetest.ConnectAll(t, a, b, c)

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
	enginetest.Converged(t, 30*time.Second, 30, ta, tb, tc)

	// Updates and deletes made on different replicas then reach the others.
	_, err = tb.UpdateMany(ctx, engine.M{"n": engine.M{"$lt": 3}}, engine.M{"$set": engine.M{"isDone": true}})
	require.NoError(t, err)
	_, err = tc.DeleteMany(ctx, engine.M{"n": 9})
	require.NoError(t, err)

	enginetest.Converged(t, 30*time.Second, 27, ta, tb, tc)

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

// noRebroadcast leaves replication to announcements alone: the periodic
// rebroadcast is an hour away.
var noRebroadcast = engine.WithRebroadcastInterval(time.Hour)

// notesOn creates an open "notes" database on e.
func notesOn(t *testing.T, e *engine.Engine) (*engine.Database, *engine.Collection) {
	t.Helper()
	db, err := e.Create(context.Background(), "notes", engine.WithAccess(accesscontrol.Open()))
	require.NoError(t, err)
	return db, db.Collection("notes")
}

// A replica that opens a database late learns its heads from the
// announcement its peers make when it joins the topic, without a new write
// and without the periodic rebroadcast (set far away here).
func TestLateJoinerLearnsHeadsOnJoin(t *testing.T) {
	ctx := context.Background()
	a := enginetest.NewEngine(t, noRebroadcast)
	dbA, ta := notesOn(t, a)
	for i := 0; i < 5; i++ {
		_, err := ta.InsertOne(ctx, engine.M{"_id": fmt.Sprint(i)})
		require.NoError(t, err)
	}

	b := enginetest.NewEngine(t, noRebroadcast)
	enginetest.ConnectAll(t, a, b)
	dbB := enginetest.Open(t, b, dbA.Address())
	enginetest.Converged(t, 10*time.Second, 5, ta, dbB.Collection("notes"))

	// A second joiner inside the one-second pause after that announcement
	// gets its own once the pause is over.
	c := enginetest.NewEngine(t, noRebroadcast)
	enginetest.ConnectAll(t, a, c)
	dbC := enginetest.Open(t, c, dbA.Address())
	enginetest.Converged(t, 10*time.Second, 5, ta, dbC.Collection("notes"))
}

// A write made the moment a replica has opened the database reaches it:
// neither the write's own announcement (sent before or after the writer
// learns of the new subscriber) nor the join announcement may be lost.
func TestWriteRightAfterOpenArrives(t *testing.T) {
	ctx := context.Background()
	a := enginetest.NewEngine(t, noRebroadcast)
	dbA, ta := notesOn(t, a)
	for i := 0; i < 5; i++ {
		b := enginetest.NewEngine(t, noRebroadcast, engine.WithInMemory())
		enginetest.ConnectAll(t, a, b)
		dbB := enginetest.Open(t, b, dbA.Address())
		_, err := ta.InsertOne(ctx, engine.M{"_id": fmt.Sprint(i)})
		require.NoError(t, err)
		enginetest.Converged(t, 10*time.Second, i+1, ta, dbB.Collection("notes"))
	}
}
