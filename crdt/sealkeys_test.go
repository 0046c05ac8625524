package crdt_test

import (
	"strings"
	"testing"

	"github.com/latticedb/lattice/crdt"
)

// MapComponents touches exactly the user-supplied components, in their
// roles, and maps a prefix to the prefix of the mapped key.
func TestMapComponents(t *testing.T) {
	upper := func(role, c string) (string, error) { return role + "-" + strings.ToUpper(c), nil }
	cases := map[string]string{
		crdt.FieldKey("todos", "sa", "i1", "title"):             "/d/coll-TODOS/id-SA/inc-I1/f/field-TITLE",
		crdt.BaseKey("todos", "sa", "i1", "n1"):                 "/d/coll-TODOS/id-SA/inc-I1/b/tag-N1",
		crdt.CounterKey("todos", "sa", "i1", "n", "e1", "peer"): "/d/coll-TODOS/id-SA/inc-I1/n/field-N/epoch-E1/sub-PEER",
		crdt.GraveKey("todos", "sa", "i1"):                      "/d/coll-TODOS/id-SA/inc-I1/g",
		crdt.DocPrefix("todos", "sa"):                           "/d/coll-TODOS/id-SA",
		crdt.CollectionDocsPrefix("todos"):                      "/d/coll-TODOS",
		crdt.AllDocsPrefix():                                    "/d",
		crdt.CollectionKey("todos"):                             "/c/coll-TODOS",
		crdt.IndexKey("todos", "by_title"):                      "/x/coll-TODOS/index-BY_TITLE",
		crdt.ACLKey("abc"):                                      crdt.ACLKey("abc"),
		crdt.SigKeyFor("peer", "n"):                             crdt.SigKeyFor("peer", "n"),
		crdt.KeyPackageKey("abc"):                               crdt.KeyPackageKey("abc"),
		crdt.MemberRecordKey("peer"):                            crdt.MemberRecordKey("peer"),
	}
	for in, want := range cases {
		got, err := crdt.MapComponents(in, upper)
		if err != nil || got != want {
			t.Errorf("MapComponents(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, k := range []string{crdt.KeyPackageKey("abc"), crdt.MemberRecordKey("12D3Koo")} {
		pk, err := crdt.ParseKey(k)
		if err != nil || pk.Kind != crdt.KindSeal {
			t.Errorf("ParseKey(%q) = %+v, %v", k, pk, err)
		}
	}
}
