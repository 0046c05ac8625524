package crdt_test

import (
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/crdt"
	"github.com/latticedb/lattice/query"
	"github.com/latticedb/lattice/value"
)

func TestEscapeRoundTrip(t *testing.T) {
	for _, s := range []string{"", "a", "todos", "a/b", "..", ".", "%", "%2F", "naïve", "x y", "\x00\xff"} {
		e := crdt.Escape(s)
		require.NotEmpty(t, e)
		require.NotContains(t, e, "/")
		require.NotEqual(t, ".", e)
		require.NotEqual(t, "..", e)
		back, err := crdt.Unescape(e)
		require.NoError(t, err)
		require.Equal(t, s, back)
	}
	_, err := crdt.Unescape("%G0")
	require.ErrorIs(t, err, crdt.ErrBadKey)
	_, err = crdt.Unescape("abc%2")
	require.ErrorIs(t, err, crdt.ErrBadKey)
}

func TestParseKey(t *testing.T) {
	cases := []struct {
		key  string
		want crdt.Key
	}{
		{crdt.DocPrefix("c/1", "s.id"), crdt.Key{Kind: crdt.KindDoc, Coll: "c/1", ID: "s.id"}},
		{crdt.FieldKey("c", "i", "inc", "a b"), crdt.Key{Kind: crdt.KindField, Coll: "c", ID: "i", Inc: "inc", Field: "a b"}},
		{crdt.CounterKey("c", "i", "inc", "n", "ep", "12D3Koo"), crdt.Key{Kind: crdt.KindCounter, Coll: "c", ID: "i", Inc: "inc", Field: "n", Epoch: "ep", Sub: "12D3Koo"}},
		{crdt.SetElemKey("c", "i", "inc", "tags", "ep", "abcd"), crdt.Key{Kind: crdt.KindSetElem, Coll: "c", ID: "i", Inc: "inc", Field: "tags", Epoch: "ep", Sub: "abcd"}},
		{crdt.CollectionKey("todos"), crdt.Key{Kind: crdt.KindCollection, Coll: "todos"}},
		{crdt.IndexKey("todos", "n_1"), crdt.Key{Kind: crdt.KindIndex, Coll: "todos", Sub: "n_1"}},
		{crdt.ACLKey("e1"), crdt.Key{Kind: crdt.KindACL, Sub: "e1"}},
	}
	for _, c := range cases {
		got, err := crdt.ParseKey(c.key)
		require.NoError(t, err, c.key)
		require.Equal(t, c.want, got, c.key)
	}
	for _, bad := range []string{"", "/", "/z/a", "/d/c", "/d/c/i/inc/q/f", "/d/c/i/inc/f", "/d/c/i/inc/n/f/e/r/x", "/x/c", "/d/%zz/i"} {
		_, err := crdt.ParseKey(bad)
		require.ErrorIs(t, err, crdt.ErrBadKey, bad)
	}
}

func TestRegisterAndMarkerRoundTrip(t *testing.T) {
	regs := []crdt.Register{
		{Kind: crdt.RegValue, Nonce: "n1", Value: map[string]any{"a": []any{int64(1), 2.5, "x", nil, true}}},
		{Kind: crdt.RegUnset, Nonce: "n2"},
		{Kind: crdt.RegCounter, Nonce: "e", Epoch: "e", Value: int64(-4)},
		{Kind: crdt.RegSet, Nonce: "e", Epoch: "e"},
	}
	for _, r := range regs {
		b, err := crdt.EncodeRegister(r)
		require.NoError(t, err)
		got, err := crdt.DecodeRegister(b)
		require.NoError(t, err)
		require.Equal(t, r, got)
	}
	m := crdt.Marker{Inc: "abc", Base: map[string]any{"_id": "x", "n": int64(1)}}
	b, err := crdt.EncodeMarker(m)
	require.NoError(t, err)
	got, err := crdt.DecodeMarker(b)
	require.NoError(t, err)
	require.Equal(t, m, got)

	for _, bad := range [][]byte{nil, {1}, {2, 'v'}, {1, 'q', 0, 0}, {1, 'c', 0, 0, '"', 'x', '"'}, {1, 'u', 0, 0, 1}, {1, 'v', 5}} {
		_, err := crdt.DecodeRegister(bad)
		require.ErrorIs(t, err, crdt.ErrBadValue, "%q", bad)
	}
	for _, bad := range [][]byte{nil, {1}, {1, 0, '{', '}'}, {1, 1, '/', '{', '}'}, {1, 1, 'a', '[', ']'}} {
		_, err := crdt.DecodeMarker(bad)
		require.ErrorIs(t, err, crdt.ErrBadValue, "%q", bad)
	}
}

// replica simulates one replica's key-value view: the state each local plan
// produces, and merges of other replicas' mutations by the go-ds-crdt rules
// that matter here (distinct keys union; same-key conflicts are tested in
// the engine between real replicas).
func apply(d *crdt.Doc, p crdt.Plan) *crdt.Doc { return d.With(p.Mutations) }

func writer(rep string) crdt.Writer {
	return crdt.Writer{Replica: rep, Nonce: crdt.NewNonce(), Now: time.Unix(0, 0)}
}

func mustUpdate(t *testing.T, d *crdt.Doc, u map[string]any, rep string) crdt.Plan {
	t.Helper()
	up, err := query.ParseUpdate(u)
	require.NoError(t, err)
	p, err := crdt.PlanUpdate(d, up, writer(rep))
	require.NoError(t, err)
	return p
}

func inserted(t *testing.T, doc map[string]any) *crdt.Doc {
	t.Helper()
	d, _ := crdt.Assemble("c", "id", nil)
	p, err := crdt.PlanInsert("c", "id", doc, writer("r0"))
	require.NoError(t, err)
	require.Len(t, p.Mutations, 1, "an insert is one key")
	return apply(d, p)
}

// union merges the live keys of two replicas that wrote disjoint keys.
func union(a, b *crdt.Doc) *crdt.Doc {
	raw := map[string][]byte{}
	for k, v := range a.Raw {
		raw[k] = v
	}
	for k, v := range b.Raw {
		raw[k] = v
	}
	d, _ := crdt.Assemble(a.Coll, a.ID, raw)
	return d
}

func TestPlanUpdateMatchesApply(t *testing.T) {
	base := map[string]any{"_id": "id", "n": int64(1), "tags": []any{"a"}, "o": map[string]any{"x": int64(1)}}
	updates := []map[string]any{
		{"$set": map[string]any{"o.y": 2, "s": "x"}},
		{"$inc": map[string]any{"n": 5, "m": 1.5}},
		{"$addToSet": map[string]any{"tags": map[string]any{"$each": []any{"b", "a"}}}},
		{"$pull": map[string]any{"tags": "a"}},
		{"$unset": map[string]any{"o": ""}},
		{"$rename": map[string]any{"n": "count"}},
		{"$push": map[string]any{"tags": "z"}},
		{"$mul": map[string]any{"n": 3}},
	}
	d := inserted(t, base)
	for _, u := range updates {
		up, err := query.ParseUpdate(u)
		require.NoError(t, err)
		want, err := up.Apply(d.Materialize(), time.Unix(0, 0))
		require.NoError(t, err)
		p := mustUpdate(t, d, u, "r1")
		require.Equal(t, want, p.Doc, "%v", u)
		d = apply(d, p)
		got := d.Materialize()
		if tags, ok := got["tags"].([]any); ok {
			// Sets list elements in comparison order.
			sort.Slice(want["tags"].([]any), func(i, j int) bool {
				return value.Compare(want["tags"].([]any)[i], want["tags"].([]any)[j]) < 0
			})
			require.Equal(t, want["tags"], tags, "%v", u)
			want["tags"] = tags
		}
		require.Equal(t, want, got, "%v", u)
	}
}

func TestCountersFromTwoReplicasAdd(t *testing.T) {
	d := inserted(t, map[string]any{"_id": "id", "n": int64(10)})
	pa := mustUpdate(t, d, map[string]any{"$inc": map[string]any{"n": 2}}, "ra")
	pb := mustUpdate(t, d, map[string]any{"$inc": map[string]any{"n": 5}}, "rb")
	// Both converted the same state to a counter: identical registers.
	require.Equal(t, pa.Mutations[0], pb.Mutations[0])
	merged := union(apply(d, pa), apply(d, pb))
	require.Equal(t, int64(17), merged.Materialize()["n"])

	// A second round on the merged state adds to each replica's total.
	pa2 := mustUpdate(t, merged, map[string]any{"$inc": map[string]any{"n": -1}}, "ra")
	require.Len(t, pa2.Mutations, 1, "an existing counter only writes the contribution")
	require.Equal(t, int64(16), apply(merged, pa2).Materialize()["n"])
}

func TestSetAddsFromTwoReplicasUnion(t *testing.T) {
	d := inserted(t, map[string]any{"_id": "id", "tags": []any{"b"}})
	pa := mustUpdate(t, d, map[string]any{"$addToSet": map[string]any{"tags": "a"}}, "ra")
	pb := mustUpdate(t, d, map[string]any{"$addToSet": map[string]any{"tags": "c"}}, "rb")
	merged := union(apply(d, pa), apply(d, pb))
	require.Equal(t, []any{"a", "b", "c"}, merged.Materialize()["tags"])
	pull := mustUpdate(t, merged, map[string]any{"$pull": map[string]any{"tags": "b"}}, "ra")
	for _, m := range pull.Mutations {
		require.True(t, m.Delete, "a pull of a set deletes its elements")
	}
	require.Equal(t, []any{"a", "c"}, apply(merged, pull).Materialize()["tags"])
}

func TestDeleteAndReinsert(t *testing.T) {
	d := inserted(t, map[string]any{"_id": "id", "a": int64(1)})
	d = apply(d, mustUpdate(t, d, map[string]any{"$set": map[string]any{"b": 2}}, "r"))
	del := crdt.PlanDelete(d)
	require.Len(t, del.Mutations, 2)
	gone := apply(d, del)
	require.False(t, gone.Exists)
	require.Nil(t, gone.Materialize())
	_, err := crdt.PlanUpdate(gone, mustParse(t, map[string]any{"$set": map[string]any{"x": 1}}), writer("r"))
	require.ErrorIs(t, err, crdt.ErrNoDocument)

	// An update planned on the old incarnation merged after a re-insert
	// does not show.
	stale := mustUpdate(t, d, map[string]any{"$set": map[string]any{"c": 3}}, "r2")
	re, err := crdt.PlanInsert("c", "id", map[string]any{"_id": "id", "fresh": true}, writer("r"))
	require.NoError(t, err)
	now := apply(apply(gone, re), stale)
	require.Equal(t, map[string]any{"_id": "id", "fresh": true}, now.Materialize())
}

func mustParse(t *testing.T, u map[string]any) *query.Update {
	up, err := query.ParseUpdate(u)
	require.NoError(t, err)
	return up
}

func TestAssembleSkipsGarbage(t *testing.T) {
	d := inserted(t, map[string]any{"_id": "id", "a": int64(1)})
	raw := map[string][]byte{}
	for k, v := range d.Raw {
		raw[k] = v
	}
	raw[crdt.FieldKey("c", "id", d.Marker.Inc, "a")] = []byte("garbage")
	raw[crdt.SetElemKey("c", "id", d.Marker.Inc, "s", "e", "notahash")] = []byte(`"x"`)
	raw["/d/c/id/not/a/key"] = []byte("x")
	got, bad := crdt.Assemble("c", "id", raw)
	require.Equal(t, 3, bad)
	require.Equal(t, map[string]any{"_id": "id", "a": int64(1)}, got.Materialize())
}

func TestIDGenerator(t *testing.T) {
	g := crdt.NewIDGenerator()
	now := time.Unix(1700000000, 0)
	a, b := g.New(now), g.New(now)
	require.Len(t, a, 24)
	require.NotEqual(t, a, b)
	require.Less(t, g.New(now), g.New(now.Add(time.Second)))
}
