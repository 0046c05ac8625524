package engine_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/enginetest"
)

// pair is two replicas of one database that can be partitioned and healed,
// with a document "doc" both have seen.
type pair struct {
	a, b   *engine.Engine
	ca, cb *engine.Collection
}

func newPair(t *testing.T, doc engine.M) *pair {
	t.Helper()
	ctx := context.Background()
	p := &pair{a: enginetest.NewEngine(t), b: enginetest.NewEngine(t)}
	enginetest.ConnectAll(t, p.a, p.b)
	dbA, err := p.a.Create(ctx, "conflicts", engine.WithAccess(accesscontrol.Open()))
	require.NoError(t, err)
	dbB := enginetest.Open(t, p.b, dbA.Address())
	p.ca, p.cb = dbA.Collection("c"), dbB.Collection("c")
	doc["_id"] = "doc"
	_, err = p.ca.InsertOne(ctx, doc)
	require.NoError(t, err)
	enginetest.Converged(t, 20*time.Second, 1, p.ca, p.cb)
	return p
}

// partition disconnects the replicas; nothing dials them back until heal.
func (p *pair) partition(t *testing.T) {
	t.Helper()
	enginetest.Partition(t, p.a, p.b)
}

// heal reconnects the replicas and waits until they agree.
func (p *pair) heal(t *testing.T) engine.M {
	t.Helper()
	enginetest.ConnectAll(t, p.a, p.b)
	enginetest.Converged(t, 30*time.Second, 0, p.ca, p.cb)
	var doc engine.M
	if err := p.ca.FindByID(context.Background(), "doc").Decode(&doc); err != nil {
		return nil
	}
	return doc
}

func (p *pair) update(t *testing.T, c *engine.Collection, u engine.M) {
	t.Helper()
	_, err := c.UpdateOne(context.Background(), engine.M{"_id": "doc"}, u)
	require.NoError(t, err)
}

func TestConflictDifferentFieldsMerge(t *testing.T) {
	p := newPair(t, engine.M{"title": "milk", "isDone": false})
	p.partition(t)
	p.update(t, p.ca, engine.M{"$set": engine.M{"title": "oat milk"}})
	p.update(t, p.cb, engine.M{"$set": engine.M{"isDone": true}})
	doc := p.heal(t)
	require.Equal(t, "oat milk", doc["title"])
	require.Equal(t, true, doc["isDone"])
}

func TestConflictConcurrentIncrementsAdd(t *testing.T) {
	p := newPair(t, engine.M{"n": 1})
	p.partition(t)
	p.update(t, p.ca, engine.M{"$inc": engine.M{"n": 2}})
	p.update(t, p.cb, engine.M{"$inc": engine.M{"n": 3}})
	p.update(t, p.cb, engine.M{"$inc": engine.M{"n": 10}})
	doc := p.heal(t)
	require.EqualValues(t, 16, doc["n"])

	// Again, now that the field is a counter on both sides.
	p.partition(t)
	p.update(t, p.ca, engine.M{"$inc": engine.M{"n": -1}})
	p.update(t, p.cb, engine.M{"$inc": engine.M{"n": 100}})
	doc = p.heal(t)
	require.EqualValues(t, 115, doc["n"])
}

func TestConflictIncrementOfMissingFieldAdds(t *testing.T) {
	p := newPair(t, engine.M{"title": "x"})
	p.partition(t)
	p.update(t, p.ca, engine.M{"$inc": engine.M{"views": 1}})
	p.update(t, p.cb, engine.M{"$inc": engine.M{"views": 1}})
	doc := p.heal(t)
	require.EqualValues(t, 2, doc["views"])
}

func TestConflictSetWinsOverConcurrentIncrementOfCounter(t *testing.T) {
	p := newPair(t, engine.M{"n": 1})
	p.update(t, p.ca, engine.M{"$inc": engine.M{"n": 1}}) // n is a counter now
	enginetest.Converged(t, 20*time.Second, 1, p.ca, p.cb)
	p.partition(t)
	p.update(t, p.ca, engine.M{"$set": engine.M{"n": 100}})
	p.update(t, p.cb, engine.M{"$inc": engine.M{"n": 5}})
	doc := p.heal(t)
	require.EqualValues(t, 100, doc["n"])
}

func TestConflictAddWinsSet(t *testing.T) {
	p := newPair(t, engine.M{"tags": []any{"a"}})
	p.partition(t)
	p.update(t, p.ca, engine.M{"$addToSet": engine.M{"tags": "x"}})
	p.update(t, p.cb, engine.M{"$addToSet": engine.M{"tags": engine.M{"$each": []any{"y", "a"}}}})
	doc := p.heal(t)
	// The set keeps its first element first; concurrent additions follow
	// in an order every replica agrees on (heal checked that), by replica.
	require.Equal(t, "a", doc["tags"].([]any)[0])
	require.ElementsMatch(t, []any{"a", "x", "y"}, doc["tags"])

	// A pull concurrent with a re-add of the same element: the add wins.
	p.partition(t)
	p.update(t, p.ca, engine.M{"$pull": engine.M{"tags": "x"}})
	p.update(t, p.cb, engine.M{"$addToSet": engine.M{"tags": "x"}})
	p.update(t, p.cb, engine.M{"$pull": engine.M{"tags": "y"}})
	doc = p.heal(t)
	require.Equal(t, []any{"a", "x"}, doc["tags"])
}

func TestConflictDeleteWinsOverUpdate(t *testing.T) {
	p := newPair(t, engine.M{"title": "milk"})
	p.partition(t)
	_, err := p.ca.DeleteOne(context.Background(), engine.M{"_id": "doc"})
	require.NoError(t, err)
	p.update(t, p.cb, engine.M{"$set": engine.M{"title": "bread"}, "$inc": engine.M{"n": 1}})
	doc := p.heal(t)
	require.Nil(t, doc)

	// Re-inserting the _id starts afresh: the concurrent update stays gone.
	_, err = p.cb.InsertOne(context.Background(), engine.M{"_id": "doc", "fresh": true})
	require.NoError(t, err)
	enginetest.Converged(t, 20*time.Second, 1, p.ca, p.cb)
	var got engine.M
	require.NoError(t, p.ca.FindByID(context.Background(), "doc").Decode(&got))
	require.Equal(t, engine.M{"_id": "doc", "fresh": true}, got)
}

func TestConflictReplaceWinsOverUpdate(t *testing.T) {
	p := newPair(t, engine.M{"title": "milk", "qty": 1})
	p.partition(t)
	_, err := p.ca.ReplaceOne(context.Background(), engine.M{"_id": "doc"}, engine.M{"title": "eggs"})
	require.NoError(t, err)
	p.update(t, p.cb, engine.M{"$set": engine.M{"qty": 12}})
	doc := p.heal(t)
	require.Equal(t, engine.M{"_id": "doc", "title": "eggs"}, doc)
}

func TestConflictSameFieldOneValueWins(t *testing.T) {
	p := newPair(t, engine.M{"title": "milk"})
	p.partition(t)
	p.update(t, p.ca, engine.M{"$set": engine.M{"title": "from a"}})
	p.update(t, p.cb, engine.M{"$unset": engine.M{"title": ""}})
	doc := p.heal(t)
	// Both writes sit at the same DAG height, so the byte-wise larger
	// register wins on both sides: a value register ('v') beats an unset
	// ('u').
	require.Equal(t, "from a", doc["title"])
}

func (p *pair) find(t *testing.T, c *engine.Collection, id string) engine.M {
	t.Helper()
	var doc engine.M
	require.NoError(t, c.FindByID(context.Background(), id).Decode(&doc), id)
	return doc
}

func TestConflictConcurrentInsertsMergeFields(t *testing.T) {
	ctx := context.Background()
	p := newPair(t, engine.M{})
	p.partition(t)
	_, err := p.ca.InsertOne(ctx, engine.M{"_id": "s1", "a": 1, "same": "x"})
	require.NoError(t, err)
	_, err = p.cb.InsertOne(ctx, engine.M{"_id": "s1", "b": 2, "same": "y"})
	require.NoError(t, err)
	p.heal(t)
	// Both creations were acknowledged: both fields survive, and the field
	// both set takes one value (the larger encoding, "y") on both sides.
	require.Equal(t, engine.M{"_id": "s1", "a": int64(1), "b": int64(2), "same": "y"}, p.find(t, p.ca, "s1"))

	// Updates after the merge land in the shared incarnation.
	_, err = p.cb.UpdateOne(ctx, engine.M{"_id": "s1"}, engine.M{"$set": engine.M{"same": "z"}})
	require.NoError(t, err)
	enginetest.Converged(t, 20*time.Second, 2, p.ca, p.cb)
	require.Equal(t, engine.M{"_id": "s1", "a": int64(1), "b": int64(2), "same": "z"}, p.find(t, p.ca, "s1"))
}

func TestConflictConcurrentUpsertIncrementsAdd(t *testing.T) {
	ctx := context.Background()
	p := newPair(t, engine.M{})
	p.partition(t)
	upsert := func(c *engine.Collection, id string, u engine.M) {
		t.Helper()
		res, err := c.UpdateOne(ctx, engine.M{"_id": id}, u, engine.Upsert(true))
		require.NoError(t, err)
		require.Equal(t, id, res.UpsertedID)
	}
	// upsert vs upsert: every increment counts, the upserts' own included,
	// and sets union.
	upsert(p.ca, "views", engine.M{"$inc": engine.M{"n": 1}, "$addToSet": engine.M{"by": "a"}})
	upsert(p.cb, "views", engine.M{"$inc": engine.M{"n": 1}, "$addToSet": engine.M{"by": "b"}})
	p.update(t, p.cb, engine.M{"$set": engine.M{"other": true}}) // another document
	// upsert vs insert: the increment adds to the inserted value.
	_, err := p.ca.InsertOne(ctx, engine.M{"_id": "stock", "n": 10, "name": "tea"})
	require.NoError(t, err)
	upsert(p.cb, "stock", engine.M{"$inc": engine.M{"n": -1}})
	p.heal(t)
	views := p.find(t, p.ca, "views")
	require.ElementsMatch(t, []any{"a", "b"}, views["by"], "concurrent additions order by replica")
	delete(views, "by")
	require.Equal(t, engine.M{"_id": "views", "n": int64(2)}, views)
	require.Equal(t, engine.M{"_id": "stock", "n": int64(9), "name": "tea"}, p.find(t, p.cb, "stock"))

	// Later increments on either side keep adding.
	_, err = p.ca.UpdateOne(ctx, engine.M{"_id": "views"}, engine.M{"$inc": engine.M{"n": 1}})
	require.NoError(t, err)
	enginetest.Converged(t, 20*time.Second, 3, p.ca, p.cb)
	require.EqualValues(t, 3, p.find(t, p.cb, "views")["n"])
}

// TestConflictConcurrentUpsertsWhileConnected is the reported failure: two
// joined replicas, upsert-$inc of fresh _ids sent to both at once, with
// $set, $unset and $addToSet of other fields racing them. Every
// acknowledged increment must be in the converged counters.
func TestConflictConcurrentUpsertsWhileConnected(t *testing.T) {
	ctx := context.Background()
	p := newPair(t, engine.M{})
	const ids = 40
	acked := make([][2]int, ids)
	var wg sync.WaitGroup
	for side, c := range []*engine.Collection{p.ca, p.cb} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ids {
				id := fmt.Sprintf("u%02d", i)
				if _, err := c.UpdateOne(ctx, engine.M{"_id": id}, engine.M{"$inc": engine.M{"n": 1}}, engine.Upsert(true)); err == nil {
					acked[i][side]++
				}
				others := []engine.M{
					{"$set": engine.M{fmt.Sprintf("f%d", side): i}},
					{"$addToSet": engine.M{"tags": side}},
					{"$unset": engine.M{"f0": ""}},
				}
				_, _ = c.UpdateOne(ctx, engine.M{"_id": id}, others[i%len(others)], engine.Upsert(true))
				if _, err := c.UpdateOne(ctx, engine.M{"_id": id}, engine.M{"$inc": engine.M{"n": 10}}, engine.Upsert(true)); err == nil {
					acked[i][side] += 10
				}
			}
		}()
	}
	wg.Wait()
	enginetest.Converged(t, 30*time.Second, ids+1, p.ca, p.cb)
	for i := range ids {
		id := fmt.Sprintf("u%02d", i)
		want := acked[i][0] + acked[i][1]
		require.EqualValues(t, want, p.find(t, p.ca, id)["n"], "%s: acknowledged increments %v", id, acked[i])
	}
}

func TestConflictReinsertsAfterOneDeleteMerge(t *testing.T) {
	ctx := context.Background()
	p := newPair(t, engine.M{"old": true})
	p.update(t, p.ca, engine.M{"$inc": engine.M{"n": 5}})
	_, err := p.ca.DeleteOne(ctx, engine.M{"_id": "doc"})
	require.NoError(t, err)
	enginetest.Converged(t, 20*time.Second, 0, p.ca, p.cb)
	p.partition(t)
	// Both replicas saw the delete; both re-create the _id.
	_, err = p.ca.InsertOne(ctx, engine.M{"_id": "doc", "a": 1})
	require.NoError(t, err)
	_, err = p.cb.UpdateOne(ctx, engine.M{"_id": "doc"}, engine.M{"$inc": engine.M{"n": 1}}, engine.Upsert(true))
	require.NoError(t, err)
	doc := p.heal(t)
	// They merge, and nothing of the deleted incarnation comes back.
	require.Equal(t, engine.M{"_id": "doc", "a": int64(1), "n": int64(1)}, doc)
}

func TestConflictReplaceWinsOverConcurrentCreation(t *testing.T) {
	ctx := context.Background()
	p := newPair(t, engine.M{})
	p.partition(t)
	_, err := p.ca.InsertOne(ctx, engine.M{"_id": "r1", "a": 1})
	require.NoError(t, err)
	_, err = p.ca.ReplaceOne(ctx, engine.M{"_id": "r1"}, engine.M{"x": 1})
	require.NoError(t, err)
	_, err = p.cb.InsertOne(ctx, engine.M{"_id": "r1", "b": 2})
	require.NoError(t, err)
	p.heal(t)
	// b's creation merges with a's, and a's replace of that incarnation
	// wins over it as a whole.
	require.Equal(t, engine.M{"_id": "r1", "x": int64(1)}, p.find(t, p.cb, "r1"))
}

func TestConflictCreationSurvivesADeleteItHadNotSeen(t *testing.T) {
	ctx := context.Background()
	p := newPair(t, engine.M{})
	p.partition(t)
	_, err := p.ca.InsertOne(ctx, engine.M{"_id": "k", "a": 1})
	require.NoError(t, err)
	_, err = p.ca.DeleteOne(ctx, engine.M{"_id": "k"})
	require.NoError(t, err)
	_, err = p.cb.InsertOne(ctx, engine.M{"_id": "k", "b": 2})
	require.NoError(t, err)
	p.heal(t)
	// The delete removed what it had seen (a's creation); b's concurrent
	// creation survives (add-wins).
	require.Equal(t, engine.M{"_id": "k", "b": int64(2)}, p.find(t, p.ca, "k"))

	// A re-insert after seeing that delete is a new incarnation: b's
	// document exists, so it is refused; delete it and re-insert.
	_, err = p.ca.InsertOne(ctx, engine.M{"_id": "k", "c": 3})
	require.ErrorIs(t, err, engine.ErrDuplicateKey)
	_, err = p.cb.DeleteOne(ctx, engine.M{"_id": "k"})
	require.NoError(t, err)
	enginetest.Converged(t, 20*time.Second, 1, p.ca, p.cb)
	_, err = p.ca.InsertOne(ctx, engine.M{"_id": "k", "c": 3})
	require.NoError(t, err)
	enginetest.Converged(t, 20*time.Second, 2, p.ca, p.cb)
	require.Equal(t, engine.M{"_id": "k", "c": int64(3)}, p.find(t, p.cb, "k"))
}

func TestConflictDifferentPathsMerge(t *testing.T) {
	p := newPair(t, engine.M{"a": engine.M{"x": 1}, "stats": engine.M{}})
	p.partition(t)
	p.update(t, p.ca, engine.M{"$set": engine.M{"a.b": 1}, "$inc": engine.M{"stats.views": 1}})
	p.update(t, p.cb, engine.M{"$set": engine.M{"a.c.d": 2}, "$unset": engine.M{"a.x": ""}})
	p.update(t, p.cb, engine.M{"$inc": engine.M{"stats.views": 2}, "$addToSet": engine.M{"stats.by": "b"}})
	p.update(t, p.ca, engine.M{"$addToSet": engine.M{"stats.by": "a"}})
	doc := p.heal(t)
	// Writes to different paths under one field both survive; nested
	// counters add up and nested sets union.
	require.Equal(t, engine.M{"b": int64(1), "c": engine.M{"d": int64(2)}}, doc["a"])
	stats := doc["stats"].(engine.M)
	require.ElementsMatch(t, []any{"a", "b"}, stats["by"], "concurrent additions order by replica")
	require.Equal(t, int64(3), stats["views"])

	// An assignment of the whole field wins over writes below it made
	// concurrently, whichever sits higher in the DAG.
	p.partition(t)
	p.update(t, p.cb, engine.M{"$set": engine.M{"a.b": 5}})
	p.update(t, p.cb, engine.M{"$set": engine.M{"a.e": 6}})
	p.update(t, p.ca, engine.M{"$set": engine.M{"a": engine.M{"z": 0}}})
	doc = p.heal(t)
	require.Equal(t, engine.M{"z": int64(0)}, doc["a"])
}

// TestSetKeepsMongoOrderAcrossReplicas: $addToSet on an array with
// duplicates leaves it as MongoDB does (existing order and duplicates
// kept, new elements appended in the order added), and a replica that
// receives the writes shows the same array.
func TestSetKeepsMongoOrderAcrossReplicas(t *testing.T) {
	p := newPair(t, engine.M{"tags": []any{"z", "b"}})
	p.update(t, p.ca, engine.M{"$push": engine.M{"tags": "z"}})
	p.update(t, p.ca, engine.M{"$addToSet": engine.M{"tags": "m"}})
	p.update(t, p.ca, engine.M{"$addToSet": engine.M{"tags": engine.M{"$each": []any{"c", "b", "a"}}}})
	want := []any{"z", "b", "z", "m", "c", "a"}
	require.Equal(t, want, p.find(t, p.ca, "doc")["tags"])
	enginetest.Converged(t, 30*time.Second, 1, p.ca, p.cb)
	require.Equal(t, want, p.find(t, p.cb, "doc")["tags"])
	p.update(t, p.cb, engine.M{"$addToSet": engine.M{"tags": "d"}})
	enginetest.Converged(t, 30*time.Second, 1, p.ca, p.cb)
	require.Equal(t, append(want, "d"), p.find(t, p.ca, "doc")["tags"], "the other replica appends after what it had seen")
}

// TestConflictReplaceVsReplaceOneWholeDocumentWins: two concurrent
// replacements never mix: one whole replacement shows on both replicas.
func TestConflictReplaceVsReplaceOneWholeDocumentWins(t *testing.T) {
	p := newPair(t, engine.M{"title": "milk", "qty": 1})
	p.partition(t)
	ctx := context.Background()
	a := engine.M{"title": "eggs", "from": "a"}
	b := engine.M{"note": "bread", "qty": 2}
	_, err := p.ca.ReplaceOne(ctx, engine.M{"_id": "doc"}, a)
	require.NoError(t, err)
	_, err = p.cb.ReplaceOne(ctx, engine.M{"_id": "doc"}, b)
	require.NoError(t, err)
	doc := p.heal(t)
	delete(doc, "_id")
	if doc["from"] == "a" {
		require.Equal(t, engine.M{"title": "eggs", "from": "a"}, doc)
	} else {
		require.Equal(t, engine.M{"note": "bread", "qty": int64(2)}, doc)
	}
}

// TestConflictArrayPathsAssignTheWholeArray: writes through array indexes
// ("tags.0", "tags.1") are assignments of the whole array, so concurrent
// ones keep one whole array, never a mix, while a concurrent write of
// another field merges.
func TestConflictArrayPathsAssignTheWholeArray(t *testing.T) {
	p := newPair(t, engine.M{"tags": []any{"x", "y"}, "items": []any{engine.M{"n": 1}}})
	p.partition(t)
	p.update(t, p.ca, engine.M{"$set": engine.M{"tags.0": "A", "items.0.n": 5}})
	p.update(t, p.cb, engine.M{"$set": engine.M{"tags.1": "B", "title": "kept"}})
	doc := p.heal(t)
	require.Contains(t, [][]any{{"A", "y"}, {"x", "B"}}, doc["tags"], "one whole array wins")
	require.Equal(t, []any{engine.M{"n": int64(5)}}, doc["items"], "the other replica did not write items")
	require.Equal(t, "kept", doc["title"])
}
