package crdt_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/latticedb/lattice/crdt"
	"github.com/latticedb/lattice/query"
)

// BenchmarkPlanWideSet plans a $set of query.MaxUpdateOps fields on a
// document whose 8,000 fields are each a register of their own (written
// by earlier updates): the garbage of each field is found by binary
// search in the document's sorted keys (it was a scan of every key per
// field, O(F x R)).
func BenchmarkPlanWideSet(b *testing.B) {
	w := func() crdt.Writer { return crdt.Writer{Replica: "r", Nonce: crdt.NewNonce(), Now: time.Unix(0, 0)} }
	cur, _ := crdt.Assemble("c", "d", nil)
	doc := map[string]any{"_id": "d"}
	for i := range 8000 {
		doc[fmt.Sprintf("f%d", i)] = int64(i)
	}
	p, err := crdt.PlanInsert(cur, doc, w())
	if err != nil {
		b.Fatal(err)
	}
	cur = cur.With(p.Mutations)
	set := func(from, n int, v int64) *query.Update {
		fields := map[string]any{}
		for i := from; i < from+n; i++ {
			fields[fmt.Sprintf("f%d", i)] = v
		}
		u, err := query.ParseUpdate(map[string]any{"$set": fields})
		if err != nil {
			b.Fatal(err)
		}
		return u
	}
	for from := 0; from < 8000; from += query.MaxUpdateOps {
		p, err := crdt.PlanUpdate(cur, set(from, query.MaxUpdateOps, -1), w())
		if err != nil {
			b.Fatal(err)
		}
		cur = cur.With(p.Mutations)
	}
	u := set(3000, query.MaxUpdateOps, -2)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := crdt.PlanUpdate(cur, u, w()); err != nil {
			b.Fatal(err)
		}
	}
}
