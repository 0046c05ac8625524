package engine_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/enginetest"
	"github.com/latticedb/lattice/internal/poll"
	"github.com/latticedb/lattice/internal/replication"
	"github.com/latticedb/lattice/query"
)

// An InsertMany over the document cap is refused whole, before any work:
// the review's 1.3 M empty documents in 3.9 MB took 5.7 GB in one write.
// Nothing of it is applied, and the database goes on writing.
func TestInsertManyOverCapRefusedWhole(t *testing.T) {
	ctx := context.Background()
	e := enginetest.NewEngine(t, engine.WithMaxBatchDocuments(100))
	db, err := e.Create(ctx, "caps")
	require.NoError(t, err)
	c := db.Collection("c")
	docs := make([]any, 101)
	for i := range docs {
		docs[i] = engine.M{"_id": fmt.Sprint(i)}
	}
	_, err = c.InsertMany(ctx, docs)
	require.ErrorIs(t, err, engine.ErrWriteTooLarge)
	require.ErrorContains(t, err, "WithMaxBatchDocuments")
	require.ErrorContains(t, err, "101")
	n, err := c.CountDocuments(ctx, nil)
	require.NoError(t, err)
	require.Zero(t, n)

	_, err = c.InsertMany(ctx, docs[:100])
	require.NoError(t, err)
}

// An UpdateMany or DeleteMany of more documents than the cap is refused
// whole: nothing changes.
func TestUpdateManyOverCapRefusedWhole(t *testing.T) {
	ctx := context.Background()
	e := enginetest.NewEngine(t, engine.WithMaxBatchDocuments(10))
	db, err := e.Create(ctx, "caps")
	require.NoError(t, err)
	c := db.Collection("c")
	for i := range 11 {
		_, err := c.InsertOne(ctx, engine.M{"_id": fmt.Sprint(i), "n": i})
		require.NoError(t, err)
	}
	_, err = c.UpdateMany(ctx, nil, engine.M{"$set": engine.M{"x": 1}})
	require.ErrorIs(t, err, engine.ErrWriteTooLarge)
	require.ErrorContains(t, err, "UpdateMany of 11 documents")
	_, err = c.DeleteMany(ctx, nil)
	require.ErrorIs(t, err, engine.ErrWriteTooLarge)
	n, err := c.CountDocuments(ctx, engine.M{"x": 1})
	require.NoError(t, err)
	require.Zero(t, n)
	n, err = c.CountDocuments(ctx, nil)
	require.NoError(t, err)
	require.EqualValues(t, 11, n)

	res, err := c.UpdateMany(ctx, engine.M{"n": engine.M{"$lt": 10}}, engine.M{"$set": engine.M{"x": 1}})
	require.NoError(t, err)
	require.EqualValues(t, 10, res.ModifiedCount)
	require.NoError(t, c.Drop(ctx)) // in writes under the cap
}

// A write whose keys would take more memory than WithMaxWriteBytes is
// refused whole (here an InsertMany of documents under the count cap but
// large), and a group of writes each under the bound but together over
// it commits them all, in several deltas.
func TestWriteBytesBound(t *testing.T) {
	ctx := context.Background()
	e := enginetest.NewEngine(t, engine.WithMaxWriteBytes(2<<20))
	db, err := e.Create(ctx, "bytes")
	require.NoError(t, err)
	c := db.Collection("c")
	big := strings.Repeat("x", 200<<10)
	docs := make([]any, 12) // 12 x 200 KiB > 2 MiB
	for i := range docs {
		docs[i] = engine.M{"_id": fmt.Sprint(i), "b": big}
	}
	_, err = c.InsertMany(ctx, docs)
	require.ErrorIs(t, err, engine.ErrWriteTooLarge)
	require.ErrorContains(t, err, "WithMaxWriteBytes")
	n, err := c.CountDocuments(ctx, nil)
	require.NoError(t, err)
	require.Zero(t, n)

	// Each alone fits; run concurrently they may share a commit group.
	errs := make(chan error, len(docs))
	for _, d := range docs {
		go func() {
			_, err := c.InsertOne(ctx, d)
			errs <- err
		}()
	}
	for range docs {
		require.NoError(t, <-errs)
	}
	n, err = c.CountDocuments(ctx, nil)
	require.NoError(t, err)
	require.EqualValues(t, len(docs), n)
	// Drop deletes in several writes, each under the bound.
	require.NoError(t, c.Drop(ctx))
	n, err = c.CountDocuments(ctx, nil)
	require.NoError(t, err)
	require.Zero(t, n)
}

// Update bounds reach the engine's callers by name: a $addToSet $each of
// 200,000 elements (more than 10 minutes in the write path before) and a
// $set of more fields than query.MaxUpdateOps are refused before the write
// path, and nothing changes.
func TestUpdateCapsRefused(t *testing.T) {
	ctx := context.Background()
	e := enginetest.NewEngine(t)
	db, err := e.Create(ctx, "upd")
	require.NoError(t, err)
	c := db.Collection("c")
	_, err = c.InsertOne(ctx, engine.M{"_id": "d", "tags": []any{"a"}})
	require.NoError(t, err)

	each := make([]any, 200_000)
	for i := range each {
		each[i] = fmt.Sprint(i)
	}
	_, err = c.UpdateOne(ctx, engine.M{"_id": "d"}, engine.M{"$addToSet": engine.M{"tags": engine.M{"$each": each}}})
	require.ErrorIs(t, err, query.ErrLimit)
	require.ErrorContains(t, err, "MaxEachItems")

	set := engine.M{}
	for i := range query.MaxUpdateOps + 1 {
		set[fmt.Sprintf("f%d", i)] = i
	}
	_, err = c.UpdateOne(ctx, engine.M{"_id": "d"}, engine.M{"$set": set})
	require.ErrorIs(t, err, query.ErrLimit)
	require.ErrorContains(t, err, "MaxUpdateOps")

	var doc engine.M
	require.NoError(t, c.FindByID(ctx, "d").Decode(&doc))
	require.Equal(t, []any{"a"}, doc["tags"])
	require.Len(t, doc, 2)

	// At the caps, the update goes through.
	_, err = c.UpdateOne(ctx, engine.M{"_id": "d"}, engine.M{"$addToSet": engine.M{"tags": engine.M{"$each": each[:query.MaxEachItems]}}})
	require.NoError(t, err)
}

// A $regex over one large document stops at the find's time limit (the
// match is metered and polls the deadline), instead of running for as
// long as the document makes it (13.4 s for maxTimeMS 2000 in the
// review); a find without a time limit stops at its work budget. A huge
// pattern is refused by name.
func TestRegexOverLargeDocumentStops(t *testing.T) {
	ctx := context.Background()
	e := enginetest.NewEngine(t)
	db, err := e.Create(ctx, "re")
	require.NoError(t, err)
	c := db.Collection("c")
	_, err = c.InsertOne(ctx, engine.M{"_id": "big", "s": strings.Repeat("a", 400<<10)})
	require.NoError(t, err)
	// ~850 instructions, all live on every byte: minutes unmetered.
	slow := engine.M{"s": engine.M{"$regex": "(a{1,20}){1,20}c"}}

	_, err = c.Find(ctx, slow, query.MaxTime(50*time.Millisecond))
	require.ErrorIs(t, err, engine.ErrMaxTime)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	_, err = c.CountDocuments(ctx, slow)
	require.ErrorIs(t, err, query.ErrLimit)
	require.ErrorContains(t, err, "RegexWork")

	// In a write, the smaller budget of the write path applies.
	_, err = c.UpdateMany(ctx, slow, engine.M{"$set": engine.M{"x": 1}})
	require.ErrorIs(t, err, query.ErrLimit)

	_, err = c.Find(ctx, engine.M{"s": engine.M{"$regex": strings.Repeat("a", 12<<10)}})
	require.ErrorIs(t, err, query.ErrLimit)
	require.ErrorContains(t, err, "MaxRegexLength")

	// A cheap pattern over the same document answers.
	cur, err := c.Find(ctx, engine.M{"s": engine.M{"$regex": "^a+$"}}, query.MaxTime(time.Minute))
	require.NoError(t, err)
	require.Equal(t, 1, cur.RemainingBatchLength())
}

// A delta past the receivers' bounds (here a modified peer packing 1,500
// keys in one delta) is refused before it is merged, however well signed;
// the honest replica shows none of it and its own writes still replicate.
func TestRemoteDeltaOverBoundsRefused(t *testing.T) {
	ctx := context.Background()
	honest, rogue := enginetest.NewEngine(t), enginetest.NewEngine(t)
	enginetest.ConnectAll(t, honest, rogue)
	dbH, err := honest.Create(ctx, "bounds", engine.WithAccess(accesscontrol.Open()))
	require.NoError(t, err)
	dbR := enginetest.Open(t, rogue, dbH.Address())
	engine.SetDeltaKeys(dbR, 4*replication.MaxDeltaMutations)

	docs := make([]any, 3*replication.MaxDeltaMutations)
	for i := range docs {
		docs[i] = engine.M{"_id": fmt.Sprintf("r%d", i)}
	}
	_, err = dbR.Collection("c").InsertMany(ctx, docs)
	require.NoError(t, err) // the rogue keeps its own write
	poll.Eventually(t, 20*time.Second, func() error {
		if dbH.Stats().Rejected == 0 {
			return errors.New("the oversized delta is not refused yet")
		}
		return nil
	})
	n, err := dbH.Collection("c").CountDocuments(ctx, nil)
	require.NoError(t, err)
	require.Zero(t, n)

	_, err = dbH.Collection("c").InsertOne(ctx, engine.M{"_id": "honest"})
	require.NoError(t, err)
	poll.Eventually(t, 20*time.Second, func() error {
		if !has(dbR.Collection("c"), "honest") {
			return errors.New("the honest write has not reached the rogue")
		}
		return nil
	})
}
