package crdt_test

import (
	"sort"
	"strings"
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
		{crdt.BaseKey("c", "i", "0", "n-1"), crdt.Key{Kind: crdt.KindBase, Coll: "c", ID: "i", Inc: "0", Sub: "n-1"}},
		{crdt.GraveKey("c", "i", "inc"), crdt.Key{Kind: crdt.KindGrave, Coll: "c", ID: "i", Inc: "inc"}},
	}
	for _, c := range cases {
		got, err := crdt.ParseKey(c.key)
		require.NoError(t, err, c.key)
		require.Equal(t, c.want, got, c.key)
	}
	for _, bad := range []string{"", "/", "/z/a", "/d/c", "/d/c/i/inc/q/f", "/d/c/i/inc/f", "/d/c/i/inc/n/f/e/r/x", "/x/c", "/d/%zz/i", "/d/c/i/inc/h", "/d/c/i/inc/b/%zz"} {
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

	gen, base, err := crdt.DecodeBase(mustEncodeBase(t, 7, m.Base))
	require.NoError(t, err)
	require.Equal(t, uint64(7), gen)
	require.Equal(t, m.Base, base)
	g, err := crdt.DecodeGrave(crdt.EncodeGrave(300))
	require.NoError(t, err)
	require.Equal(t, uint64(300), g)
	for _, bad := range [][]byte{nil, {2}, {1, 0, '{', '}'}, {2, 0x80, '{', '}'}, {2, 0, '[', ']'}, {2, 0, '{'}} {
		_, _, err := crdt.DecodeBase(bad)
		require.ErrorIs(t, err, crdt.ErrBadValue, "%q", bad)
	}
	for _, bad := range [][]byte{nil, {2}, {1, 0}, {2, 0x80}, {2, 0, 0}} {
		_, err := crdt.DecodeGrave(bad)
		require.ErrorIs(t, err, crdt.ErrBadValue, "%q", bad)
	}

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

func mustEncodeBase(t *testing.T, gen uint64, base map[string]any) []byte {
	t.Helper()
	b, err := crdt.EncodeBase(gen, base)
	require.NoError(t, err)
	return b
}

func empty() *crdt.Doc {
	d, _ := crdt.Assemble("c", "id", nil)
	return d
}

func inserted(t *testing.T, doc map[string]any) *crdt.Doc {
	t.Helper()
	d := empty()
	p, err := crdt.PlanInsert(d, doc, writer("r0"))
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
	// The converted array first, then the concurrent additions, by replica.
	require.Equal(t, []any{"b", "a", "c"}, merged.Materialize()["tags"])
	pull := mustUpdate(t, merged, map[string]any{"$pull": map[string]any{"tags": "b"}}, "ra")
	for _, m := range pull.Mutations {
		require.True(t, m.Delete, "a pull of a set deletes its elements")
	}
	require.Equal(t, []any{"a", "c"}, apply(merged, pull).Materialize()["tags"])
}

// TestSetAddKeepsMongoOrder: on one replica, $addToSet leaves an array's
// elements (duplicates included) where they are and appends new ones in
// the order they were added, as MongoDB does; a $pull removes every
// occurrence.
func TestSetAddKeepsMongoOrder(t *testing.T) {
	d := inserted(t, map[string]any{"_id": "id", "tags": []any{"z", "b", "z"}})
	d = apply(d, mustUpdate(t, d, map[string]any{"$addToSet": map[string]any{"tags": "m"}}, "r"))
	require.Equal(t, []any{"z", "b", "z", "m"}, d.Materialize()["tags"])
	d = apply(d, mustUpdate(t, d, map[string]any{"$addToSet": map[string]any{"tags": map[string]any{"$each": []any{"c", "b", "a"}}}}, "r"))
	require.Equal(t, []any{"z", "b", "z", "m", "c", "a"}, d.Materialize()["tags"])
	d = apply(d, mustUpdate(t, d, map[string]any{"$addToSet": map[string]any{"tags": "z"}}, "r"))
	require.Equal(t, []any{"z", "b", "z", "m", "c", "a"}, d.Materialize()["tags"], "a re-add keeps the element's place")
	d = apply(d, mustUpdate(t, d, map[string]any{"$pull": map[string]any{"tags": "z"}}, "r"))
	require.Equal(t, []any{"b", "m", "c", "a"}, d.Materialize()["tags"])
	d = apply(d, mustUpdate(t, d, map[string]any{"$addToSet": map[string]any{"tags": "z"}}, "r"))
	require.Equal(t, []any{"b", "m", "c", "a", "z"}, d.Materialize()["tags"], "added again after the pull: at the end, once")
}

// TestSetElemCodec: the ordered element encoding round-trips, elements
// written before it (plain JSON) still decode, and damage is an error.
func TestSetElemCodec(t *testing.T) {
	e := crdt.SetElem{Value: map[string]any{"k": "v"}, Ord: 300, Replica: "12D3KooW"}
	b, err := crdt.EncodeSetElem(e)
	require.NoError(t, err)
	got, err := crdt.DecodeSetElem(b)
	require.NoError(t, err)
	require.Equal(t, e, got)
	old, err := crdt.DecodeSetElem([]byte(`"legacy"`))
	require.NoError(t, err)
	require.Equal(t, crdt.SetElem{Value: "legacy"}, old)
	for _, bad := range [][]byte{{0x01}, {0x01, 0x05}, {0x01, 0x05, 0x09, 'a'}, append(b[:len(b)-1:len(b)-1], '}', '}')} {
		_, err := crdt.DecodeSetElem(bad)
		require.ErrorIs(t, err, crdt.ErrBadValue, "%x", bad)
	}
	_, err = crdt.EncodeSetElem(crdt.SetElem{Value: 1, Replica: strings.Repeat("r", 300)})
	require.ErrorIs(t, err, crdt.ErrBadValue)
}

func TestDeleteAndReinsert(t *testing.T) {
	d := inserted(t, map[string]any{"_id": "id", "a": int64(1)})
	d = apply(d, mustUpdate(t, d, map[string]any{"$set": map[string]any{"b": 2}}, "r"))
	del := crdt.PlanDelete(d)
	require.Len(t, del.Mutations, 3, "a grave, and deletes of the base and the register")
	gone := apply(d, del)
	require.False(t, gone.Exists)
	require.Nil(t, gone.Materialize())
	_, err := crdt.PlanUpdate(gone, mustParse(t, map[string]any{"$set": map[string]any{"x": 1}}), writer("r"))
	require.ErrorIs(t, err, crdt.ErrNoDocument)

	// An update planned on the old incarnation merged after a re-insert
	// does not show.
	stale := mustUpdate(t, d, map[string]any{"$set": map[string]any{"c": 3}}, "r2")
	re, err := crdt.PlanInsert(gone, map[string]any{"_id": "id", "fresh": true}, writer("r"))
	require.NoError(t, err)
	now := apply(apply(gone, re), stale)
	require.Equal(t, map[string]any{"_id": "id", "fresh": true}, now.Materialize())
	require.NotEqual(t, d.Marker.Inc, now.Marker.Inc, "a creation after a delete starts a new incarnation")
	require.Equal(t, d.Marker.Gen+1, now.Marker.Gen)

	// Two replicas re-inserting after the same delete share the new
	// incarnation and merge.
	re2, err := crdt.PlanInsert(gone, map[string]any{"_id": "id", "other": int64(2)}, writer("r3"))
	require.NoError(t, err)
	both := union(apply(gone, re), apply(gone, re2))
	require.Equal(t, map[string]any{"_id": "id", "fresh": true, "other": int64(2)}, both.Materialize())

	_, err = crdt.PlanInsert(both, map[string]any{"_id": "id"}, writer("r"))
	require.ErrorIs(t, err, crdt.ErrExists)
}

func TestConcurrentInsertsMerge(t *testing.T) {
	pa, err := crdt.PlanInsert(empty(), map[string]any{"_id": "id", "a": int64(1), "s": "x"}, writer("ra"))
	require.NoError(t, err)
	pb, err := crdt.PlanInsert(empty(), map[string]any{"_id": "id", "b": int64(2), "s": "y"}, writer("rb"))
	require.NoError(t, err)
	merged := union(apply(empty(), pa), apply(empty(), pb))
	// Different fields both survive; the same field takes the larger
	// encoding ("y" > "x").
	require.Equal(t, map[string]any{"_id": "id", "a": int64(1), "b": int64(2), "s": "y"}, merged.Materialize())

	// An update by either side lands in the shared incarnation.
	merged = apply(merged, mustUpdate(t, merged, map[string]any{"$set": map[string]any{"s": "a"}}, "ra"))
	require.Equal(t, "a", merged.Materialize()["s"], "a register overrides every base")
}

func mustUpsert(t *testing.T, d *crdt.Doc, u map[string]any, rep string) crdt.Plan {
	t.Helper()
	p, err := crdt.PlanUpsert(d, map[string]any{"_id": "id"}, mustParse(t, u), writer(rep))
	require.NoError(t, err)
	want, err := query.ApplyUpsert(nil, mustParse(t, u), time.Unix(0, 0))
	require.NoError(t, err)
	want["_id"] = "id"
	require.Equal(t, want, p.Doc)
	return p
}

func TestConcurrentUpsertsMerge(t *testing.T) {
	u := map[string]any{"$inc": map[string]any{"n": 1}, "$addToSet": map[string]any{"t": "a"}}
	pa := mustUpsert(t, empty(), u, "ra")
	pb := mustUpsert(t, empty(), map[string]any{"$inc": map[string]any{"n": 1}, "$addToSet": map[string]any{"t": "b"}}, "rb")
	ins, err := crdt.PlanInsert(empty(), map[string]any{"_id": "id", "n": int64(10), "k": "v"}, writer("rc"))
	require.NoError(t, err)
	a, b, c := apply(empty(), pa), apply(empty(), pb), apply(empty(), ins)
	require.Equal(t, map[string]any{"_id": "id", "n": int64(1), "t": []any{"a"}}, a.Materialize())
	// Every upsert's own increment counts, on top of a concurrent insert's
	// value of the field; sets union.
	require.Equal(t, map[string]any{"_id": "id", "n": int64(2), "t": []any{"a", "b"}}, union(a, b).Materialize())
	require.Equal(t, map[string]any{"_id": "id", "n": int64(12), "k": "v", "t": []any{"a", "b"}}, union(union(a, b), c).Materialize())
}

func TestReplaceStartsLongerLineage(t *testing.T) {
	// a and b create one incarnation concurrently; a replaces it having
	// seen only its own creation. b's base stays live, but the
	// replacement's incarnation is a generation longer and wins.
	pa, err := crdt.PlanInsert(empty(), map[string]any{"_id": "id", "a": int64(1)}, writer("ra"))
	require.NoError(t, err)
	pb, err := crdt.PlanInsert(empty(), map[string]any{"_id": "id", "b": int64(2)}, writer("rb"))
	require.NoError(t, err)
	a := apply(empty(), pa)
	rep, err := crdt.PlanReplace(a, map[string]any{"_id": "id", "r": true}, writer("ra"))
	require.NoError(t, err)
	merged := union(apply(a, rep), apply(empty(), pb))
	require.Equal(t, map[string]any{"_id": "id", "r": true}, merged.Materialize())
	require.Equal(t, uint64(1), merged.Marker.Gen)
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

func TestNestedPathsMerge(t *testing.T) {
	d := inserted(t, map[string]any{"_id": "id", "a": map[string]any{"x": int64(1)}})
	pa := mustUpdate(t, d, map[string]any{"$set": map[string]any{"a.b": int64(2)}}, "ra")
	pb := mustUpdate(t, d, map[string]any{"$set": map[string]any{"a.c.d": "y"}, "$unset": map[string]any{"a.x": ""}}, "rb")
	merged := union(apply(d, pa), apply(d, pb))
	require.Equal(t, map[string]any{"_id": "id", "a": map[string]any{"b": int64(2), "c": map[string]any{"d": "y"}}}, merged.Materialize())

	// Below a path written since, writes nest: a.c.e lands under a.c.
	pc := mustUpdate(t, merged, map[string]any{"$set": map[string]any{"a.c.e": true}}, "ra")
	merged = apply(merged, pc)
	require.Equal(t, map[string]any{"d": "y", "e": true}, merged.Materialize()["a"].(map[string]any)["c"])

	// An assignment of the whole field hides paths written concurrently
	// under the value it replaced, and those it saw it deletes.
	whole := mustUpdate(t, merged, map[string]any{"$set": map[string]any{"a": map[string]any{"z": int64(0)}}}, "rb")
	late := mustUpdate(t, merged, map[string]any{"$set": map[string]any{"a.b": int64(3)}}, "ra")
	both := union(apply(merged, whole), apply(merged, late))
	require.Equal(t, map[string]any{"z": int64(0)}, both.Materialize()["a"])
	deletes := 0
	for _, m := range whole.Mutations {
		if m.Delete {
			deletes++
		}
	}
	require.Equal(t, 4, deletes, "the registers of a.b, a.x, a.c.d and a.c.e")

	// Counters and sets at any depth merge as top-level ones do.
	st := inserted(t, map[string]any{"_id": "id", "stats": map[string]any{"views": int64(10)}})
	ia := mustUpdate(t, st, map[string]any{"$inc": map[string]any{"stats.views": 1, "stats.new.n": 1}}, "ra")
	ib := mustUpdate(t, st, map[string]any{"$inc": map[string]any{"stats.views": 2, "stats.new.n": 1}, "$addToSet": map[string]any{"stats.by": "b"}}, "rb")
	sa := apply(st, ia)
	sa = apply(sa, mustUpdate(t, sa, map[string]any{"$addToSet": map[string]any{"stats.by": "a"}}, "ra"))
	counted := union(sa, apply(st, ib))
	require.Equal(t, map[string]any{"views": int64(13), "new": map[string]any{"n": int64(2)}, "by": []any{"a", "b"}}, counted.Materialize()["stats"])

	// Paths through arrays write the whole field.
	arr := inserted(t, map[string]any{"_id": "id", "t": []any{map[string]any{"x": int64(1)}}})
	p := mustUpdate(t, arr, map[string]any{"$set": map[string]any{"t.0.x": int64(2)}}, "ra")
	require.Len(t, p.Mutations, 1)
	require.Equal(t, crdt.FieldKey("c", "id", arr.Marker.Inc, "t"), p.Mutations[0].Key)
}
