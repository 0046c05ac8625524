package query

import (
	"testing"

	"github.com/latticedb/lattice/value"
)

func TestFilterMatch(t *testing.T) {
	tests := []struct {
		name   string
		filter string
		doc    string
		want   bool
	}{
		// empty filter
		{"empty", `{}`, `{"a":1}`, true},

		// implicit equality and $eq
		{"eq scalar", `{"a":1}`, `{"a":1}`, true},
		{"eq int float", `{"a":1}`, `{"a":1.0}`, true},
		{"eq different", `{"a":1}`, `{"a":2}`, false},
		{"eq type class", `{"a":1}`, `{"a":"1"}`, false},
		{"eq missing", `{"a":1}`, `{"b":1}`, false},
		{"eq string", `{"name":"bob"}`, `{"name":"bob"}`, true},
		{"eq bool", `{"ok":true}`, `{"ok":true}`, true},
		{"eq bool vs number", `{"ok":true}`, `{"ok":1}`, false},
		{"eq null null", `{"a":null}`, `{"a":null}`, true},
		{"eq null missing", `{"a":null}`, `{"b":1}`, true},
		{"eq null value", `{"a":null}`, `{"a":0}`, false},
		{"eq null in array", `{"a":null}`, `{"a":[1,null]}`, true},
		{"eq array contains", `{"tags":"x"}`, `{"tags":["y","x"]}`, true},
		{"eq array not contains", `{"tags":"z"}`, `{"tags":["y","x"]}`, false},
		{"eq exact array", `{"tags":["x","y"]}`, `{"tags":["x","y"]}`, true},
		{"eq array order matters", `{"tags":["y","x"]}`, `{"tags":["x","y"]}`, false},
		{"eq nested array element", `{"tags":["x"]}`, `{"tags":[["x"],"y"]}`, true},
		{"eq subdocument exact", `{"a":{"b":1}}`, `{"a":{"b":1}}`, true},
		{"eq subdocument extra field", `{"a":{"b":1}}`, `{"a":{"b":1,"c":2}}`, false},
		{"eq subdocument key order", `{"a":{"b":1,"c":2}}`, `{"a":{"c":2,"b":1}}`, true},
		{"eq empty subdocument", `{"a":{}}`, `{"a":{}}`, true},
		{"$eq explicit", `{"a":{"$eq":5}}`, `{"a":5}`, true},
		{"$eq explicit array", `{"a":{"$eq":5}}`, `{"a":[4,5]}`, true},
		{"$eq object", `{"a":{"$eq":{"b":1}}}`, `{"a":{"b":1}}`, true},
		{"eq large int vs float", `{"a":9007199254740993}`, `{"a":9007199254740992.0}`, false},
		{"eq large ints", `{"a":9007199254740993}`, `{"a":9007199254740993}`, true},

		// dot paths
		{"dot", `{"a.b":1}`, `{"a":{"b":1}}`, true},
		{"dot deep", `{"a.b.c":"x"}`, `{"a":{"b":{"c":"x"}}}`, true},
		{"dot through array", `{"a.b":2}`, `{"a":[{"b":1},{"b":2}]}`, true},
		{"dot through array miss", `{"a.b":3}`, `{"a":[{"b":1},{"b":2}]}`, false},
		{"dot array index", `{"a.1":"y"}`, `{"a":["x","y"]}`, true},
		{"dot array index miss", `{"a.0":"y"}`, `{"a":["x","y"]}`, false},
		{"dot array index out of range", `{"a.5":"y"}`, `{"a":["x","y"]}`, false},
		{"dot index then field", `{"a.1.b":2}`, `{"a":[{"b":1},{"b":2}]}`, true},
		{"dot numeric key on object", `{"a.1":"y"}`, `{"a":{"1":"y"}}`, true},
		{"dot into scalar", `{"a.b":1}`, `{"a":1}`, false},
		{"dot null through scalar", `{"a.b":null}`, `{"a":1}`, true},
		{"dot null missing in element", `{"a.b":null}`, `{"a":[{"b":1},{"c":1}]}`, true},
		{"dot leaf array", `{"a.b":3}`, `{"a":[{"b":[1,3]}]}`, true},

		// $ne
		{"$ne different", `{"a":{"$ne":1}}`, `{"a":2}`, true},
		{"$ne same", `{"a":{"$ne":1}}`, `{"a":1}`, false},
		{"$ne missing", `{"a":{"$ne":1}}`, `{}`, true},
		{"$ne array containing", `{"a":{"$ne":1}}`, `{"a":[1,2]}`, false},
		{"$ne array not containing", `{"a":{"$ne":3}}`, `{"a":[1,2]}`, true},
		{"$ne null missing", `{"a":{"$ne":null}}`, `{}`, false},
		{"$ne null value", `{"a":{"$ne":null}}`, `{"a":1}`, true},

		// comparisons
		{"$gt", `{"a":{"$gt":5}}`, `{"a":6}`, true},
		{"$gt equal", `{"a":{"$gt":5}}`, `{"a":5}`, false},
		{"$gt float", `{"a":{"$gt":5}}`, `{"a":5.5}`, true},
		{"$gte equal", `{"a":{"$gte":5}}`, `{"a":5.0}`, true},
		{"$lt", `{"a":{"$lt":5}}`, `{"a":4}`, true},
		{"$lt equal", `{"a":{"$lt":5}}`, `{"a":5}`, false},
		{"$lte", `{"a":{"$lte":5}}`, `{"a":5}`, true},
		{"$gt other class", `{"a":{"$gt":5}}`, `{"a":"z"}`, false},
		{"$lt other class", `{"a":{"$lt":"a"}}`, `{"a":1}`, false},
		{"$gt missing", `{"a":{"$gt":5}}`, `{}`, false},
		{"$gt string", `{"a":{"$gt":"abc"}}`, `{"a":"abd"}`, true},
		{"$lt string bytewise", `{"a":{"$lt":"a"}}`, `{"a":"Z"}`, true},
		{"$gt bool", `{"a":{"$gt":false}}`, `{"a":true}`, true},
		{"$gt array element", `{"a":{"$gt":5}}`, `{"a":[1,9]}`, true},
		{"$gt array no element", `{"a":{"$gt":5}}`, `{"a":[1,2]}`, false},
		{"range independent on array", `{"a":{"$gt":1,"$lt":5}}`, `{"a":[0,10]}`, true},
		{"range scalar", `{"a":{"$gt":1,"$lt":5}}`, `{"a":10}`, false},
		{"range scalar in", `{"a":{"$gt":1,"$lt":5}}`, `{"a":3}`, true},
		{"$gte null missing", `{"a":{"$gte":null}}`, `{}`, true},
		{"$lte null null", `{"a":{"$lte":null}}`, `{"a":null}`, true},
		{"$gt null", `{"a":{"$gt":null}}`, `{"a":1}`, false},
		{"$gt object", `{"a":{"$gt":{"b":1}}}`, `{"a":{"b":2}}`, true},
		{"$gt whole array", `{"a":{"$gt":[1]}}`, `{"a":[1,2]}`, true},
		{"$lt large int vs float", `{"a":{"$lt":9007199254740993}}`, `{"a":9007199254740992.0}`, true},

		// $in / $nin
		{"$in", `{"a":{"$in":[1,2]}}`, `{"a":2}`, true},
		{"$in miss", `{"a":{"$in":[1,2]}}`, `{"a":3}`, false},
		{"$in array field", `{"tags":{"$in":["x","q"]}}`, `{"tags":["y","x"]}`, true},
		{"$in null missing", `{"a":{"$in":[null]}}`, `{}`, true},
		{"$in empty", `{"a":{"$in":[]}}`, `{"a":1}`, false},
		{"$in array value", `{"a":{"$in":[[1,2]]}}`, `{"a":[1,2]}`, true},
		{"$nin", `{"a":{"$nin":[1,2]}}`, `{"a":3}`, true},
		{"$nin hit", `{"a":{"$nin":[1,2]}}`, `{"a":1}`, false},
		{"$nin missing", `{"a":{"$nin":[1,2]}}`, `{}`, true},
		{"$nin array field", `{"a":{"$nin":[1]}}`, `{"a":[2,1]}`, false},

		// $all
		{"$all", `{"tags":{"$all":["x","y"]}}`, `{"tags":["y","z","x"]}`, true},
		{"$all miss", `{"tags":{"$all":["x","y"]}}`, `{"tags":["y","z"]}`, false},
		{"$all empty", `{"tags":{"$all":[]}}`, `{"tags":["y"]}`, false},
		{"$all scalar", `{"tags":{"$all":["x"]}}`, `{"tags":"x"}`, true},

		// $exists
		{"$exists true", `{"a":{"$exists":true}}`, `{"a":null}`, true},
		{"$exists true missing", `{"a":{"$exists":true}}`, `{}`, false},
		{"$exists false", `{"a":{"$exists":false}}`, `{}`, true},
		{"$exists false present", `{"a":{"$exists":false}}`, `{"a":1}`, false},
		{"$exists number", `{"a":{"$exists":1}}`, `{"a":1}`, true},
		{"$exists dot array", `{"a.b":{"$exists":true}}`, `{"a":[{"c":1},{"b":1}]}`, true},
		{"$exists dot array none", `{"a.b":{"$exists":true}}`, `{"a":[{"c":1}]}`, false},

		// $regex
		{"$regex", `{"name":{"$regex":"^bo"}}`, `{"name":"bob"}`, true},
		{"$regex miss", `{"name":{"$regex":"^bo"}}`, `{"name":"abob"}`, false},
		{"$regex unanchored", `{"name":{"$regex":"ob"}}`, `{"name":"bob"}`, true},
		{"$regex i", `{"name":{"$regex":"^BO","$options":"i"}}`, `{"name":"bob"}`, true},
		{"$regex case", `{"name":{"$regex":"^BO"}}`, `{"name":"bob"}`, false},
		{"$regex m", `{"s":{"$regex":"^b$","$options":"m"}}`, `{"s":"a\nb\nc"}`, true},
		{"$regex no m", `{"s":{"$regex":"^b$"}}`, `{"s":"a\nb\nc"}`, false},
		{"$regex s", `{"s":{"$regex":"a.b","$options":"s"}}`, `{"s":"a\nb"}`, true},
		{"$regex no s", `{"s":{"$regex":"a.b"}}`, `{"s":"a\nb"}`, false},
		{"$regex array", `{"tags":{"$regex":"^x"}}`, `{"tags":["a","xy"]}`, true},
		{"$regex non-string", `{"a":{"$regex":"1"}}`, `{"a":1}`, false},

		// $not
		{"$not gt", `{"a":{"$not":{"$gt":5}}}`, `{"a":3}`, true},
		{"$not gt hit", `{"a":{"$not":{"$gt":5}}}`, `{"a":6}`, false},
		{"$not missing", `{"a":{"$not":{"$gt":5}}}`, `{}`, true},
		{"$not other type", `{"a":{"$not":{"$gt":5}}}`, `{"a":"x"}`, true},
		{"$not regex", `{"a":{"$not":{"$regex":"^x"}}}`, `{"a":"yx"}`, true},
		{"$not regex hit", `{"a":{"$not":{"$regex":"^x","$options":"i"}}}`, `{"a":"Xy"}`, false},

		// $size
		{"$size", `{"a":{"$size":2}}`, `{"a":[1,2]}`, true},
		{"$size miss", `{"a":{"$size":2}}`, `{"a":[1]}`, false},
		{"$size zero", `{"a":{"$size":0}}`, `{"a":[]}`, true},
		{"$size scalar", `{"a":{"$size":1}}`, `{"a":1}`, false},
		{"$size float", `{"a":{"$size":1.0}}`, `{"a":[3]}`, true},
		{"$size dot", `{"a.b":{"$size":1}}`, `{"a":[{"b":[1]},{"b":[]}]}`, true},

		// $elemMatch
		{"$elemMatch ops", `{"s":{"$elemMatch":{"$gte":80,"$lt":85}}}`, `{"s":[82]}`, true},
		{"$elemMatch ops one element", `{"s":{"$elemMatch":{"$gte":80,"$lt":85}}}`, `{"s":[79,90]}`, false},
		{"$elemMatch query", `{"r":{"$elemMatch":{"p":"x","s":{"$gte":8}}}}`, `{"r":[{"p":"x","s":7},{"p":"y","s":9},{"p":"x","s":8}]}`, true},
		{"$elemMatch query across elements", `{"r":{"$elemMatch":{"p":"x","s":{"$gte":8}}}}`, `{"r":[{"p":"x","s":7},{"p":"y","s":9}]}`, false},
		{"$elemMatch non-array", `{"r":{"$elemMatch":{"p":"x"}}}`, `{"r":{"p":"x"}}`, false},
		{"$elemMatch scalars skipped", `{"r":{"$elemMatch":{"p":"x"}}}`, `{"r":[1,{"p":"x"}]}`, true},
		{"$elemMatch $or", `{"r":{"$elemMatch":{"$or":[{"p":1},{"q":1}]}}}`, `{"r":[{"q":1}]}`, true},
		{"$elemMatch $ne", `{"a":{"$elemMatch":{"$ne":1}}}`, `{"a":[1,1]}`, false},
		{"$elemMatch $ne hit", `{"a":{"$elemMatch":{"$ne":1}}}`, `{"a":[1,2]}`, true},
		{"$elemMatch empty query", `{"a":{"$elemMatch":{}}}`, `{"a":[1,{}]}`, true},
		{"$elemMatch nested dot", `{"a.b":{"$elemMatch":{"$eq":2}}}`, `{"a":{"b":[1,2]}}`, true},

		// logical
		{"$and", `{"$and":[{"a":1},{"b":2}]}`, `{"a":1,"b":2}`, true},
		{"$and miss", `{"$and":[{"a":1},{"b":2}]}`, `{"a":1,"b":3}`, false},
		{"$and same field on array", `{"$and":[{"t":"x"},{"t":"y"}]}`, `{"t":["x","y"]}`, true},
		{"$or", `{"$or":[{"a":1},{"b":2}]}`, `{"b":2}`, true},
		{"$or miss", `{"$or":[{"a":1},{"b":2}]}`, `{"a":2,"b":1}`, false},
		{"$nor", `{"$nor":[{"a":1},{"b":2}]}`, `{"a":2}`, true},
		{"$nor hit", `{"$nor":[{"a":1},{"b":2}]}`, `{"b":2}`, false},
		{"implicit and", `{"a":1,"b":{"$gt":1}}`, `{"a":1,"b":2}`, true},
		{"implicit and miss", `{"a":1,"b":{"$gt":1}}`, `{"a":1,"b":1}`, false},
		{"nested logical", `{"$or":[{"$and":[{"a":1},{"b":1}]},{"c":1}]}`, `{"a":1,"b":1}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseFilter(obj(t, tt.filter))
			if err != nil {
				t.Fatalf("ParseFilter(%s): %v", tt.filter, err)
			}
			if got := f.Match(obj(t, tt.doc)); got != tt.want {
				t.Errorf("%s Match %s = %v, want %v", tt.filter, tt.doc, got, tt.want)
			}
		})
	}
}

func TestFilterNilAndGoValues(t *testing.T) {
	var f *Filter
	if !f.Match(map[string]any{"a": 1}) {
		t.Error("nil filter should match")
	}
	f, err := ParseFilter(nil)
	if err != nil || !f.Match(nil) {
		t.Errorf("nil filter: %v", err)
	}
	// Go literals are normalized: int and typed maps.
	type M map[string]any
	f, err = ParseFilter(map[string]any{"age": M{"$gte": 30}, "tags": []string{"a", "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if !f.Match(map[string]any{"age": int64(31), "tags": []any{"a", "b"}}) {
		t.Error("normalized filter should match")
	}
	// Non-canonical documents still compare numerically.
	if !f.Match(map[string]any{"age": 31, "tags": []any{"a", "b"}}) {
		t.Error("int field should compare with int64 operand")
	}
}

func TestParseFilterErrors(t *testing.T) {
	tests := []struct {
		filter string
		want   error
		subs   []string
	}{
		{`{"age":{"$foo":1}}`, ErrUnknownOperator, []string{`unknown operator "$foo" at "age"`}},
		{`{"$where":"x"}`, ErrUnknownOperator, []string{`"$where"`, "top level"}},
		{`{"$not":{"a":1}}`, ErrUnknownOperator, []string{`"$not"`}},
		{`{"tags":{"$in":1}}`, ErrBadOperand, []string{"$in needs an array", `"tags"`}},
		{`{"tags":{"$nin":"x"}}`, ErrBadOperand, []string{"$nin needs an array", `"tags"`}},
		{`{"tags":{"$all":{}}}`, ErrBadOperand, []string{"$all needs an array"}},
		{`{"tags":{"$in":[{"$gt":1}]}}`, ErrBadOperand, []string{"$in", `"$gt"`}},
		{`{"a":{"$exists":"yes"}}`, ErrBadOperand, []string{"$exists", `"a"`}},
		{`{"a":{"$regex":5}}`, ErrBadOperand, []string{"$regex", `"a"`}},
		{`{"a":{"$regex":"("}}`, ErrBadOperand, []string{"$regex: invalid pattern", `"a"`}},
		{`{"a":{"$regex":"x","$options":"x"}}`, ErrBadOperand, []string{"$regex", `option "x"`}},
		{`{"a":{"$regex":"x","$options":"q"}}`, ErrBadOperand, []string{"$regex", `"q"`}},
		{`{"a":{"$regex":"x","$options":1}}`, ErrBadOperand, []string{"$options"}},
		{`{"a":{"$options":"i"}}`, ErrBadOperand, []string{"$options needs $regex"}},
		{`{"a":{"$size":-1}}`, ErrBadOperand, []string{"$size", `"a"`}},
		{`{"a":{"$size":1.5}}`, ErrBadOperand, []string{"$size"}},
		{`{"a":{"$size":"1"}}`, ErrBadOperand, []string{"$size"}},
		{`{"a":{"$not":1}}`, ErrBadOperand, []string{"$not", `"a"`}},
		{`{"a":{"$not":{}}}`, ErrBadOperand, []string{"$not"}},
		{`{"a":{"$not":{"b":1}}}`, ErrBadOperand, []string{"$not"}},
		{`{"a":{"$not":{"$bad":1}}}`, ErrUnknownOperator, []string{`"$bad"`, `"a"`}},
		{`{"a":{"$elemMatch":1}}`, ErrBadOperand, []string{"$elemMatch", `"a"`}},
		{`{"a":{"$elemMatch":{"$gt":1,"b":1}}}`, ErrBadOperand, []string{`"$gt"`, `"b"`}},
		{`{"a":{"$elemMatch":{"b":{"$zz":1}}}}`, ErrUnknownOperator, []string{`"$zz"`, `"a.b"`}},
		{`{"a":{"$gt":1,"b":1}}`, ErrBadOperand, []string{"mixed", `"a"`}},
		{`{"$and":[]}`, ErrBadOperand, []string{"$and", "non-empty array"}},
		{`{"$or":{}}`, ErrBadOperand, []string{"$or"}},
		{`{"$nor":[1]}`, ErrBadOperand, []string{"$nor", "element 0"}},
		{`{"$or":[{"a":{"$qq":1}}]}`, ErrUnknownOperator, []string{`"$qq"`, `"a"`}},
		{`{"a..b":1}`, value.ErrBadPath, []string{`"a..b"`}},
		{`{"a.$b":1}`, value.ErrBadPath, []string{`"a.$b"`}},
		{`{".a":1}`, value.ErrBadPath, []string{`".a"`}},
		{`{"a.":1}`, value.ErrBadPath, []string{`"a."`}},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			_, err := ParseFilter(obj(t, tt.filter))
			checkErr(t, err, tt.want, tt.subs...)
		})
	}
	_, err := ParseFilter(map[string]any{"a": make(chan int)})
	checkErr(t, err, value.ErrInvalidValue, "chan int", `"a"`)
}
