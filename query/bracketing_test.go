package query

import (
	"slices"
	"testing"
	"time"

	"github.com/latticedb/lattice/value"
)

// TestTypeBracketing pins MongoDB's type bracketing for every comparison
// operator against null, missing fields, arrays holding null and values of
// every other type class: a comparison only matches values of its
// operand's class (or array elements of it), and null is the only value
// of its class, so $gte/$lte null mean "null or missing" and $gt/$lt null
// match nothing.
func TestTypeBracketing(t *testing.T) {
	corpus := []string{
		`{}`, `{"b":null}`, `{"b":1}`, `{"b":2.5}`, `{"b":"s"}`, `{"b":[null]}`,
		`{"b":[1,null]}`, `{"b":[]}`, `{"b":[1]}`, `{"b":{}}`, `{"b":{"c":1}}`,
		`{"b":false}`, `{"b":true}`, `{"b":["s",true]}`,
	}
	// Each filter lists the corpus documents it matches, by position.
	tests := []struct {
		filter string
		want   []int
	}{
		{`{"b":null}`, []int{0, 1, 5, 6}},
		{`{"b":{"$eq":null}}`, []int{0, 1, 5, 6}},
		{`{"b":{"$gte":null}}`, []int{0, 1, 5, 6}},
		{`{"b":{"$lte":null}}`, []int{0, 1, 5, 6}},
		{`{"b":{"$gt":null}}`, nil},
		{`{"b":{"$lt":null}}`, nil},
		{`{"b":{"$ne":null}}`, []int{2, 3, 4, 7, 8, 9, 10, 11, 12, 13}},
		{`{"b":{"$not":{"$gte":null}}}`, []int{2, 3, 4, 7, 8, 9, 10, 11, 12, 13}},
		{`{"b":{"$in":[null]}}`, []int{0, 1, 5, 6}},
		{`{"b":{"$in":[null,1]}}`, []int{0, 1, 2, 5, 6, 8}},
		{`{"b":{"$nin":[null]}}`, []int{2, 3, 4, 7, 8, 9, 10, 11, 12, 13}},
		{`{"b":{"$in":[null,1,2,3,4,5,6,7,8]}}`, []int{0, 1, 2, 5, 6, 8}}, // hashed
		{`{"b":{"$gte":1}}`, []int{2, 3, 6, 8}},
		{`{"b":{"$lt":2}}`, []int{2, 6, 8}},
		{`{"b":{"$gt":""}}`, []int{4, 13}},
		{`{"b":{"$lte":"z"}}`, []int{4, 13}},
		{`{"b":{"$gte":false}}`, []int{11, 12, 13}},
		{`{"b":{"$lt":true}}`, []int{11}},
		{`{"b":{"$gte":{}}}`, []int{9, 10}},
		{`{"b":{"$gt":{}}}`, []int{10}},
		{`{"b":{"$gt":[]}}`, []int{5, 6, 8, 13}},
		{`{"b":{"$lte":[]}}`, []int{7}},
		{`{"b":{"$exists":false}}`, []int{0}},
		{`{"b":{"$exists":true,"$eq":null}}`, []int{1, 5, 6}},
		{`{"b":{"$all":[null]}}`, []int{0, 1, 5, 6}},
		{`{"b":{"$elemMatch":{"$eq":null}}}`, []int{5, 6}},
		{`{"b":{"$elemMatch":{"$gte":null}}}`, []int{5, 6}},
	}
	docs := make([]map[string]any, len(corpus))
	for i, s := range corpus {
		docs[i] = obj(t, s)
	}
	for _, tc := range tests {
		f, err := ParseFilter(obj(t, tc.filter))
		if err != nil {
			t.Fatalf("%s: %v", tc.filter, err)
		}
		var got []int
		for i, d := range docs {
			if f.Match(d) {
				got = append(got, i)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s matches %v, want %v", tc.filter, names(corpus, got), names(corpus, tc.want))
		}
	}
}

func names(corpus []string, idx []int) []string {
	out := make([]string, len(idx))
	for i, j := range idx {
		out[i] = corpus[j]
	}
	return out
}

// TestAddToSetKeepsExistingElements pins MongoDB's $addToSet on an array
// that already holds duplicates (as $push leaves them): existing elements
// stay where they are, repeated or not, and only values not yet present
// are appended, in the order given, each once.
func TestAddToSetKeepsExistingElements(t *testing.T) {
	tests := []struct{ doc, update, want string }{
		{`{"a":[3,1,1,2]}`, `{"$addToSet":{"a":1}}`, `{"a":[3,1,1,2]}`},
		{`{"a":[3,1,1,2]}`, `{"$addToSet":{"a":0}}`, `{"a":[3,1,1,2,0]}`},
		{`{"a":[3,1,1,2]}`, `{"$addToSet":{"a":{"$each":[5,1,4,5,4.0]}}}`, `{"a":[3,1,1,2,5,4]}`},
		{`{"a":["b",null,"b",null]}`, `{"$addToSet":{"a":{"$each":[null,"a"]}}}`, `{"a":["b",null,"b",null,"a"]}`},
		{`{"a":[{"x":1},{"x":1}]}`, `{"$addToSet":{"a":{"x":1.0}}}`, `{"a":[{"x":1},{"x":1}]}`},
		{`{}`, `{"$addToSet":{"a":{"$each":[2,1,2]}}}`, `{"a":[2,1]}`},
	}
	for _, tc := range tests {
		u, err := ParseUpdate(obj(t, tc.update))
		if err != nil {
			t.Fatal(err)
		}
		got, err := u.Apply(obj(t, tc.doc), time.Time{})
		if err != nil {
			t.Fatalf("%s on %s: %v", tc.update, tc.doc, err)
		}
		if want := obj(t, tc.want); !value.Equal(got, want) {
			t.Errorf("%s on %s = %v, want %v", tc.update, tc.doc, got, want)
		}
	}
}

// TestSortEmptyArrayBeforeNull pins MongoDB's sort order of an empty
// array: before null and missing fields ascending, after them descending;
// a path through an empty array reaches nothing and sorts as null.
func TestSortEmptyArrayBeforeNull(t *testing.T) {
	in := docs(t, `{"_id":1,"a":null}`, `{"_id":2,"a":[]}`, `{"_id":3}`, `{"_id":4,"a":[0]}`, `{"_id":5,"a":[[]]}`)
	for _, tc := range []struct {
		sort []Option
		want []any
	}{
		{[]Option{Sort("a", 1)}, []any{int64(2), int64(1), int64(3), int64(4), int64(5)}},
		{[]Option{Sort("a", -1)}, []any{int64(5), int64(4), int64(1), int64(3), int64(2)}},
		{[]Option{Sort("a.x", 1)}, []any{int64(1), int64(2), int64(3), int64(4), int64(5)}},
		{[]Option{Sort("a", 1), Limit(2)}, []any{int64(2), int64(1)}},
	} {
		o, err := NewOptions(tc.sort...)
		if err != nil {
			t.Fatal(err)
		}
		out, err := o.Apply(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(out); !slices.Equal(got, tc.want) {
			t.Errorf("%+v: got %v, want %v", o.Sort, got, tc.want)
		}
	}
}

// TestInRegexMembers pins $in and $nin with regular expression members
// ({"$regex": ...} where MongoDB takes /re/): a member matches strings and
// string elements of arrays, beside the value members, in the scanned and
// the hashed form alike; such a filter is never planned as index points.
func TestInRegexMembers(t *testing.T) {
	corpus := []string{`{}`, `{"a":"xy"}`, `{"a":"Xy"}`, `{"a":"zz"}`, `{"a":1}`, `{"a":["q","xa"]}`, `{"a":null}`, `{"a":{"$x":1}}`}
	many := `,2,3,4,5,6,7,8,9`
	for _, tc := range []struct {
		filter string
		want   []int
	}{
		{`{"a":{"$in":[{"$regex":"^x"},1]}}`, []int{1, 4, 5}},
		{`{"a":{"$in":[{"$regex":"^x","$options":"i"},null]}}`, []int{0, 1, 2, 5, 6}},
		{`{"a":{"$in":[{"$regex":"^x"},1` + many + `]}}`, []int{1, 4, 5}},
		{`{"a":{"$nin":[{"$regex":"^x"},1]}}`, []int{0, 2, 3, 6, 7}},
		{`{"a":{"$nin":[{"$regex":"y$"},null` + many + `]}}`, []int{3, 4, 5, 7}},
		{`{"a":{"$not":{"$in":[{"$regex":"z"}]}}}`, []int{0, 1, 2, 4, 5, 6, 7}},
	} {
		f, err := ParseFilter(obj(t, tc.filter))
		if err != nil {
			t.Fatalf("%s: %v", tc.filter, err)
		}
		var got []int
		for i, s := range corpus {
			if f.Match(obj(t, s)) {
				got = append(got, i)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s matches %v, want %v", tc.filter, names(corpus, got), names(corpus, tc.want))
		}
		if _, ok := f.Bounds("a"); ok {
			t.Errorf("%s: planned as index bounds", tc.filter)
		}
	}
	for _, bad := range []string{
		`{"a":{"$in":[{"$regex":"("}]}}`,
		`{"a":{"$in":[{"$regex":"x","$foo":1}]}}`,
		`{"a":{"$all":[{"$regex":"x"}]}}`,
		`{"a":{"$in":[{"$regex":"x","$options":"x"}]}}`,
	} {
		_, err := ParseFilter(obj(t, bad))
		checkErr(t, err, ErrBadOperand, "$")
	}
}
