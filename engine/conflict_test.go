package engine_test

import (
	"context"
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
	dbB := openOn(t, p.b, dbA.Address())
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
	partition(t, p.a, p.b)
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
	require.Equal(t, []any{"a", "x", "y"}, doc["tags"])

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
