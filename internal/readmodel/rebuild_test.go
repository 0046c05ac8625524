package readmodel

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	ds "github.com/ipfs/go-datastore"
	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/crdt"
	"github.com/latticedb/lattice/internal/store"
	"github.com/latticedb/lattice/query"
)

// TestRebuildSortedAndUnsorted: a restart's rebuild assembles each
// document as its keys stream past in a store that lists keys in order
// (Lattice's own), and falls back to grouping them first in one that does
// not (go-datastore's map store lists them in map order); both views hold
// exactly the documents written, every one of several keys.
func TestRebuildSortedAndUnsorted(t *testing.T) {
	ctx := context.Background()
	ns := ds.NewKey("/db/x")
	sorted := store.InMemory()
	defer sorted.Close()
	unsorted := ds.NewMapDatastore()
	layout := crdt.NewStoreLayout(ns.String())
	want := map[string]map[string]any{}
	w := crdt.Writer{Replica: "r1", Now: time.Unix(0, 0)}
	for i := 0; i < 200; i++ {
		id := fmt.Sprintf("d%03d", i)
		w.Nonce = crdt.NewNonce()
		none, _ := crdt.Assemble("c", "s"+id, nil)
		ins, err := crdt.PlanInsert(none, map[string]any{"_id": id, "a": int64(i)}, w)
		require.NoError(t, err)
		muts := ins.Mutations
		cur := none.With(muts)
		for f := 0; f < 3; f++ {
			u, err := query.ParseUpdate(map[string]any{"$set": map[string]any{fmt.Sprintf("f%d", f): int64(f)}})
			require.NoError(t, err)
			w.Nonce = crdt.NewNonce()
			p, err := crdt.PlanUpdate(cur, u, w)
			require.NoError(t, err)
			cur = cur.With(p.Mutations)
			muts = append(muts, p.Mutations...)
		}
		for _, mu := range muts {
			for _, s := range []ds.Datastore{sorted, unsorted} {
				require.NoError(t, s.Put(ctx, ds.NewKey(layout.ValueKey(mu.Key)), mu.Value))
			}
		}
		want[id] = cur.Materialize()
	}
	for name, s := range map[string]ds.Datastore{"sorted": sorted, "unsorted": unsorted} {
		m := New(hclog.NewNullLogger(), s, ns)
		m.OnMeta = func(string) {}
		// The streaming pass tells the two apart (800 keys in map order
		// are never grouped by document).
		_, _, inOrder, err := m.scan(ctx, true)
		require.NoError(t, err)
		require.Equal(t, name == "sorted", inOrder, name)
		require.NoError(t, m.Rebuild(ctx), name)
		require.Equal(t, len(want), m.view.colls["c"].live, name)
		for id, doc := range want {
			e := m.view.entry("c", "s"+id)
			require.NotNil(t, e, "%s: %s", name, id)
			require.Equal(t, doc, e.Doc, "%s: %s", name, id)
		}
	}
}
