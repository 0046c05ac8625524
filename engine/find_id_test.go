package engine_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/enginetest"
)

// TestFilterOnID: filters on _id (answered from the documents' keys, not a
// scan) keep the query language's semantics: numbers compare across
// types, $in members are deduplicated, other conditions still apply, and
// values no _id can have match nothing.
func TestFilterOnID(t *testing.T) {
	ctx := context.Background()
	db, err := enginetest.NewEngine(t).Create(ctx, "ids")
	require.NoError(t, err)
	c := db.Collection("c")
	_, err = c.InsertMany(ctx, []any{
		engine.M{"_id": int64(1), "k": "one"}, engine.M{"_id": 2.5, "k": "two and a half"},
		engine.M{"_id": "a", "k": "x"}, engine.M{"_id": "b", "k": "y"},
	})
	require.NoError(t, err)
	ids := func(filter engine.M) []any {
		t.Helper()
		cur, err := c.Find(ctx, filter)
		require.NoError(t, err)
		var docs []engine.M
		require.NoError(t, cur.All(ctx, &docs))
		out := []any{}
		for _, d := range docs {
			out = append(out, d["_id"])
		}
		return out
	}
	require.Equal(t, []any{int64(1)}, ids(engine.M{"_id": 1.0}), "1.0 finds the _id 1")
	require.Equal(t, []any{2.5}, ids(engine.M{"_id": engine.M{"$eq": 2.5}}))
	require.Equal(t, []any{"a", "b"}, ids(engine.M{"_id": engine.M{"$in": []any{"b", "a", "a", "zzz"}}}))
	require.Equal(t, []any{"b"}, ids(engine.M{"_id": engine.M{"$in": []any{"a", "b"}}, "k": "y"}), "other conditions still apply")
	require.Equal(t, []any{}, ids(engine.M{"_id": nil}))
	require.Equal(t, []any{}, ids(engine.M{"_id": []any{"a"}}))

	res, err := c.UpdateOne(ctx, engine.M{"_id": "a"}, engine.M{"$set": engine.M{"k": "changed"}})
	require.NoError(t, err)
	require.EqualValues(t, 1, res.ModifiedCount)
	n, err := c.CountDocuments(ctx, engine.M{"_id": engine.M{"$in": []any{"a", int64(1), 7}}})
	require.NoError(t, err)
	require.EqualValues(t, 2, n)
	del, err := c.DeleteMany(ctx, engine.M{"_id": engine.M{"$in": []any{"a", "b"}}})
	require.NoError(t, err)
	require.EqualValues(t, 2, del.DeletedCount)
}
