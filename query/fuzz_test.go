package query

import (
	"reflect"
	"testing"
	"time"

	"github.com/latticedb/lattice/value"
)

// fuzzDocs are the documents fuzzed filters and updates are run against.
var fuzzDocs = []string{
	`{}`,
	`{"_id":"x","a":1,"b":"s","c":null,"d":true,"e":1.5}`,
	`{"a":[1,2,[3]],"tags":["x","y"],"n":{"m":{"k":[{"a":1},{"a":[2,3]},5]}}}`,
	`{"a":{"b":{"c":[{"d":1},{"d":"x"}]}},"arr":[],"big":9223372036854775807}`,
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"a":1}`, `{"a":{"$gt":1,"$lt":"z"}}`, `{"$or":[{"a":null},{"b":{"$exists":false}}]}`,
		`{"tags":{"$elemMatch":{"$regex":"^x","$options":"i"}}}`, `{"a.b":{"$not":{"$in":[1,[2]]}}}`,
		`{"$nor":[{"a":{"$size":2}}],"n.m.k.a":{"$all":[2,3]}}`,
		`{"tags":{"$in":[{"$regex":"^x","$options":"i"},1,2,3,4,5,6,7,8,null]},"a":{"$nin":[{"$regex":"y"}]}}`,
	} {
		f.Add([]byte(s))
	}
	docs := make([]map[string]any, len(fuzzDocs))
	for i, s := range fuzzDocs {
		docs[i] = obj(f, s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := value.DecodeJSON(data)
		if err != nil {
			return
		}
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		flt, err := ParseFilter(m)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		for _, d := range docs {
			flt.Match(d)
		}
		for _, p := range []string{"a", "a.b", "tags"} {
			b, ok := flt.Bounds(p)
			if ok {
				b.KeyRange()
				for _, d := range docs {
					for _, v := range value.Lookup(d, p) {
						b.Contains(v)
					}
				}
			}
			flt.SingleValueBounds(p)
		}
		if _, err := ApplyUpsert(flt, nil, time.Unix(0, 0)); err == nil {
			return
		}
	})
}

func FuzzParseUpdate(f *testing.F) {
	for _, s := range []string{
		`{"$set":{"a":1}}`, `{"$inc":{"a.b":1.5},"$unset":{"c":""}}`,
		`{"$push":{"tags":{"$each":[1,2],"$slice":-1,"$position":0,"$sort":{"a":-1}}}}`,
		`{"$pull":{"a":{"$gte":2}},"$addToSet":{"tags":{"$each":["z"]}}}`,
		`{"$rename":{"b":"z.y"},"$currentDate":{"t":{"$type":"timestamp"}},"$mul":{"e":2},"$min":{"big":1},"$max":{"q":[1]}}`,
		`{"$set":{"n.m.k.1.a":4,"a.5":1}}`,
	} {
		f.Add([]byte(s))
	}
	docs := make([]map[string]any, len(fuzzDocs))
	for i, s := range fuzzDocs {
		docs[i] = obj(f, s)
	}
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := value.DecodeJSON(data)
		if err != nil {
			return
		}
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		u, err := ParseUpdate(m)
		if err != nil {
			return
		}
		u.Ops()
		for _, d := range docs {
			before := value.Clone(d)
			out, err := u.Apply(d, now)
			if !reflect.DeepEqual(before, d) {
				t.Fatalf("Apply modified its input")
			}
			if err == nil {
				if verr := value.ValidateDocument(out); verr != nil {
					t.Fatalf("Apply produced an invalid document: %v", verr)
				}
			}
		}
		_, _ = ApplyUpsert(nil, u, now)
	})
}
