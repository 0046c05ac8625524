package query

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/latticedb/lattice/value"
)

var testNow = time.Date(2025, 1, 2, 3, 4, 5, 600000000, time.FixedZone("CET", 3600))

func TestUpdateApply(t *testing.T) {
	tests := []struct {
		name   string
		update string
		doc    string
		want   string
	}{
		// $set
		{"set", `{"$set":{"a":2}}`, `{"a":1,"b":1}`, `{"a":2,"b":1}`},
		{"set new", `{"$set":{"c":"x"}}`, `{"a":1}`, `{"a":1,"c":"x"}`},
		{"set object", `{"$set":{"a":{"b":[1]}}}`, `{}`, `{"a":{"b":[1]}}`},
		{"set dot creates", `{"$set":{"a.b.c":1}}`, `{}`, `{"a":{"b":{"c":1}}}`},
		{"set dot existing", `{"$set":{"a.b":2}}`, `{"a":{"b":1,"c":1}}`, `{"a":{"b":2,"c":1}}`},
		{"set array index", `{"$set":{"a.1":"z"}}`, `{"a":["x","y"]}`, `{"a":["x","z"]}`},
		{"set array pad", `{"$set":{"a.3":"z"}}`, `{"a":["x"]}`, `{"a":["x",null,null,"z"]}`},
		{"set array element field", `{"$set":{"a.0.b":2}}`, `{"a":[{"b":1}]}`, `{"a":[{"b":2}]}`},
		{"set array new element object", `{"$set":{"a.1.b":2}}`, `{"a":[{"b":1}]}`, `{"a":[{"b":1},{"b":2}]}`},
		{"set numeric on object", `{"$set":{"a.0":1}}`, `{}`, `{"a":{"0":1}}`},
		{"set several", `{"$set":{"a":1,"b.c":2}}`, `{"b":{}}`, `{"a":1,"b":{"c":2}}`},
		{"set keeps float", `{"$set":{"a":2.0}}`, `{}`, `{"a":2.0}`},

		// $unset
		{"unset", `{"$unset":{"a":""}}`, `{"a":1,"b":1}`, `{"b":1}`},
		{"unset missing", `{"$unset":{"z":1}}`, `{"a":1}`, `{"a":1}`},
		{"unset dot", `{"$unset":{"a.b":1}}`, `{"a":{"b":1,"c":1}}`, `{"a":{"c":1}}`},
		{"unset dot missing parent", `{"$unset":{"x.y":1}}`, `{"a":1}`, `{"a":1}`},
		{"unset through scalar", `{"$unset":{"a.b":1}}`, `{"a":1}`, `{"a":1}`},
		{"unset array element nulls", `{"$unset":{"a.0":1}}`, `{"a":[1,2]}`, `{"a":[null,2]}`},
		{"unset array out of range", `{"$unset":{"a.5":1}}`, `{"a":[1]}`, `{"a":[1]}`},

		// $inc
		{"inc int", `{"$inc":{"n":2}}`, `{"n":1}`, `{"n":3}`},
		{"inc negative", `{"$inc":{"n":-5}}`, `{"n":1}`, `{"n":-4}`},
		{"inc float", `{"$inc":{"n":0.5}}`, `{"n":1}`, `{"n":1.5}`},
		{"inc float field", `{"$inc":{"n":1}}`, `{"n":1.5}`, `{"n":2.5}`},
		{"inc missing", `{"$inc":{"n":3}}`, `{}`, `{"n":3}`},
		{"inc dot missing", `{"$inc":{"s.n":1}}`, `{}`, `{"s":{"n":1}}`},
		{"inc overflow", `{"$inc":{"n":1}}`, `{"n":9223372036854775807}`, `{"n":9223372036854775808.0}`},
		{"inc negative overflow", `{"$inc":{"n":-1}}`, `{"n":-9223372036854775808}`, `{"n":-9223372036854775809.0}`},
		{"inc array element", `{"$inc":{"a.1":1}}`, `{"a":[1,2]}`, `{"a":[1,3]}`},

		// $mul
		{"mul", `{"$mul":{"n":3}}`, `{"n":2}`, `{"n":6}`},
		{"mul float", `{"$mul":{"n":0.5}}`, `{"n":3}`, `{"n":1.5}`},
		{"mul missing int", `{"$mul":{"n":3}}`, `{}`, `{"n":0}`},
		{"mul missing float", `{"$mul":{"n":3.5}}`, `{}`, `{"n":0.0}`},
		{"mul overflow", `{"$mul":{"n":2}}`, `{"n":9223372036854775807}`, `{"n":18446744073709551614.0}`},
		{"mul min int", `{"$mul":{"n":-1}}`, `{"n":-9223372036854775808}`, `{"n":9223372036854775808.0}`},
		{"mul zero", `{"$mul":{"n":0}}`, `{"n":-9223372036854775808}`, `{"n":0}`},

		// $min / $max
		{"min lower", `{"$min":{"n":1}}`, `{"n":5}`, `{"n":1}`},
		{"min higher", `{"$min":{"n":9}}`, `{"n":5}`, `{"n":5}`},
		{"min missing", `{"$min":{"n":9}}`, `{}`, `{"n":9}`},
		{"min across types", `{"$min":{"n":null}}`, `{"n":5}`, `{"n":null}`},
		{"min equal keeps", `{"$min":{"n":5.0}}`, `{"n":5}`, `{"n":5}`},
		{"max higher", `{"$max":{"n":9}}`, `{"n":5}`, `{"n":9}`},
		{"max lower", `{"$max":{"n":1}}`, `{"n":5}`, `{"n":5}`},
		{"max string over number", `{"$max":{"n":"a"}}`, `{"n":5}`, `{"n":"a"}`},
		{"max missing", `{"$max":{"a.b":1}}`, `{}`, `{"a":{"b":1}}`},

		// $rename
		{"rename", `{"$rename":{"a":"b"}}`, `{"a":1}`, `{"b":1}`},
		{"rename overwrites", `{"$rename":{"a":"b"}}`, `{"a":1,"b":2}`, `{"b":1}`},
		{"rename missing", `{"$rename":{"a":"b"}}`, `{"b":2}`, `{"b":2}`},
		{"rename dot", `{"$rename":{"a.x":"b.y"}}`, `{"a":{"x":1,"k":0}}`, `{"a":{"k":0},"b":{"y":1}}`},
		{"rename within object", `{"$rename":{"a.x":"a.y"}}`, `{"a":{"x":[1]}}`, `{"a":{"y":[1]}}`},
		{"rename source through scalar", `{"$rename":{"a.x":"b"}}`, `{"a":1}`, `{"a":1}`},

		// $push
		{"push", `{"$push":{"t":"x"}}`, `{"t":["a"]}`, `{"t":["a","x"]}`},
		{"push missing", `{"$push":{"t":"x"}}`, `{}`, `{"t":["x"]}`},
		{"push array value", `{"$push":{"t":[1,2]}}`, `{"t":[]}`, `{"t":[[1,2]]}`},
		{"push object value", `{"$push":{"t":{"a":1}}}`, `{"t":[]}`, `{"t":[{"a":1}]}`},
		{"push each", `{"$push":{"t":{"$each":["x","y"]}}}`, `{"t":["a"]}`, `{"t":["a","x","y"]}`},
		{"push each empty", `{"$push":{"t":{"$each":[]}}}`, `{}`, `{"t":[]}`},
		{"push position", `{"$push":{"t":{"$each":["x"],"$position":0}}}`, `{"t":["a","b"]}`, `{"t":["x","a","b"]}`},
		{"push position negative", `{"$push":{"t":{"$each":["x"],"$position":-1}}}`, `{"t":["a","b"]}`, `{"t":["a","x","b"]}`},
		{"push position past end", `{"$push":{"t":{"$each":["x"],"$position":9}}}`, `{"t":["a"]}`, `{"t":["a","x"]}`},
		{"push position very negative", `{"$push":{"t":{"$each":["x"],"$position":-9}}}`, `{"t":["a"]}`, `{"t":["x","a"]}`},
		{"push slice", `{"$push":{"t":{"$each":[3,4],"$slice":3}}}`, `{"t":[1,2]}`, `{"t":[1,2,3]}`},
		{"push slice negative", `{"$push":{"t":{"$each":[3,4],"$slice":-2}}}`, `{"t":[1,2]}`, `{"t":[3,4]}`},
		{"push slice zero", `{"$push":{"t":{"$each":[3],"$slice":0}}}`, `{"t":[1,2]}`, `{"t":[]}`},
		{"push sort", `{"$push":{"t":{"$each":[3,1],"$sort":1}}}`, `{"t":[2]}`, `{"t":[1,2,3]}`},
		{"push sort desc slice", `{"$push":{"t":{"$each":[3,1],"$sort":-1,"$slice":2}}}`, `{"t":[2]}`, `{"t":[3,2]}`},
		{"push sort by field", `{"$push":{"t":{"$each":[{"s":3},{"s":1}],"$sort":{"s":1}}}}`, `{"t":[{"s":2}]}`, `{"t":[{"s":1},{"s":2},{"s":3}]}`},
		{"push array element", `{"$push":{"a.0":1}}`, `{"a":[[0]]}`, `{"a":[[0,1]]}`},

		// $addToSet
		{"addToSet new", `{"$addToSet":{"t":"x"}}`, `{"t":["a"]}`, `{"t":["a","x"]}`},
		{"addToSet present", `{"$addToSet":{"t":"a"}}`, `{"t":["a"]}`, `{"t":["a"]}`},
		{"addToSet numeric equality", `{"$addToSet":{"t":1.0}}`, `{"t":[1]}`, `{"t":[1]}`},
		{"addToSet missing", `{"$addToSet":{"t":"x"}}`, `{}`, `{"t":["x"]}`},
		{"addToSet each", `{"$addToSet":{"t":{"$each":["a","b","b","c"]}}}`, `{"t":["a"]}`, `{"t":["a","b","c"]}`},
		{"addToSet object", `{"$addToSet":{"t":{"k":1}}}`, `{"t":[{"k":1}]}`, `{"t":[{"k":1}]}`},

		// $pull
		{"pull value", `{"$pull":{"t":"a"}}`, `{"t":["a","b","a"]}`, `{"t":["b"]}`},
		{"pull missing", `{"$pull":{"t":"a"}}`, `{}`, `{}`},
		{"pull condition", `{"$pull":{"n":{"$gte":5}}}`, `{"n":[1,5,7,3]}`, `{"n":[1,3]}`},
		{"pull in", `{"$pull":{"n":{"$in":[1,3]}}}`, `{"n":[1,2,3]}`, `{"n":[2]}`},
		{"pull query", `{"$pull":{"r":{"score":{"$lt":5}}}}`, `{"r":[{"score":3,"x":1},{"score":8},7]}`, `{"r":[{"score":8},7]}`},
		{"pull query fields", `{"$pull":{"r":{"a":1,"b":"x"}}}`, `{"r":[{"a":1,"b":"x","c":0},{"a":1,"b":"y"}]}`, `{"r":[{"a":1,"b":"y"}]}`},
		{"pull array value", `{"$pull":{"t":[1]}}`, `{"t":[[1],[2],1]}`, `{"t":[[2],1]}`},
		{"pull dot", `{"$pull":{"a.t":1}}`, `{"a":{"t":[1,2]}}`, `{"a":{"t":[2]}}`},
		{"pull query $or", `{"$pull":{"r":{"$or":[{"a":1},{"b":1}]}}}`, `{"r":[{"a":1},{"b":1},{"c":1}]}`, `{"r":[{"c":1}]}`},

		// $currentDate
		{"currentDate true", `{"$currentDate":{"d":true}}`, `{}`, `{"d":"2025-01-02T02:04:05.600000000Z"}`},
		{"currentDate date", `{"$currentDate":{"d":{"$type":"date"}}}`, `{}`, `{"d":"2025-01-02T02:04:05.600000000Z"}`},
		{"currentDate timestamp", `{"$currentDate":{"d":{"$type":"timestamp"}}}`, `{}`, `{"d":1735783445600}`},

		// several operators
		{"mixed", `{"$set":{"a":1},"$inc":{"n":1},"$push":{"t":2},"$unset":{"z":1}}`, `{"n":1,"t":[1],"z":0,"_id":"k"}`, `{"_id":"k","a":1,"n":2,"t":[1,2]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := ParseUpdate(obj(t, tt.update))
			if err != nil {
				t.Fatalf("ParseUpdate(%s): %v", tt.update, err)
			}
			doc := obj(t, tt.doc)
			before := value.Clone(doc)
			got, err := u.Apply(doc, testNow)
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if want := obj(t, tt.want); !reflect.DeepEqual(got, want) {
				t.Errorf("%s on %s = %#v, want %#v", tt.update, tt.doc, got, want)
			}
			if !reflect.DeepEqual(doc, before) {
				t.Errorf("Apply modified its input: %#v", doc)
			}
		})
	}
}

func TestUpdateApplyDoesNotAlias(t *testing.T) {
	u, err := ParseUpdate(obj(t, `{"$set":{"a":{"b":[1]}},"$push":{"t":{"$each":[{"k":1}]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	d1, err := u.Apply(map[string]any{}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	d1["a"].(map[string]any)["b"].([]any)[0] = "changed"
	d1["t"].([]any)[0].(map[string]any)["k"] = "changed"
	d2, err := u.Apply(nil, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d2, obj(t, `{"a":{"b":[1]},"t":[{"k":1}]}`)) {
		t.Errorf("result aliases the parsed update: %#v", d2)
	}
	// Go values in the input document are normalized.
	d3, err := u.Apply(map[string]any{"n": 3}, testNow)
	if err != nil || d3["n"] != int64(3) {
		t.Errorf("got %#v, %v", d3, err)
	}
}

func TestParseUpdateErrors(t *testing.T) {
	tests := []struct {
		update string
		want   error
		subs   []string
	}{
		{`{}`, ErrEmptyUpdate, nil},
		{`{"name":"x"}`, ErrReplacement, []string{`"name"`, "ReplaceOne"}},
		{`{"$set":{"a":1},"b":2}`, ErrReplacement, []string{`"b"`}},
		{`{"$foo":{"a":1}}`, ErrUnknownOperator, []string{`"$foo"`}},
		{`{"$setOnInsert":{"a":1}}`, ErrUnknownOperator, []string{`"$setOnInsert"`}},
		{`{"$set":1}`, ErrBadOperand, []string{"$set", "document"}},
		{`{"$set":[]}`, ErrBadOperand, []string{"$set"}},
		{`{"$set":{}}`, ErrBadOperand, []string{"$set", "empty"}},
		{`{"$set":{"a":1},"$inc":{"a":1}}`, ErrConflict, []string{`"a" and "a"`}},
		{`{"$set":{"a":1},"$unset":{"a.b":1}}`, ErrConflict, []string{`at "a" and "a.b"`}},
		{`{"$set":{"a.b.c":1,"a.b":1}}`, ErrConflict, []string{`"a.b" and "a.b.c"`}},
		{`{"$rename":{"a":"b"},"$set":{"b.c":1}}`, ErrConflict, []string{`"b" and "b.c"`}},
		{`{"$set":{"_id":1}}`, ErrImmutableID, []string{"$set", `"_id"`}},
		{`{"$unset":{"_id.x":1}}`, ErrImmutableID, []string{"$unset", `"_id.x"`}},
		{`{"$rename":{"a":"_id"}}`, ErrImmutableID, []string{"$rename"}},
		{`{"$rename":{"_id":"a"}}`, ErrImmutableID, []string{"$rename"}},
		{`{"$inc":{"n":"1"}}`, ErrBadOperand, []string{"$inc needs a number", `"n"`, "string"}},
		{`{"$mul":{"n":true}}`, ErrBadOperand, []string{"$mul needs a number", `"n"`}},
		{`{"$rename":{"a":1}}`, ErrBadOperand, []string{"$rename", `"a"`}},
		{`{"$rename":{"a":"a.b"}}`, ErrBadOperand, []string{"$rename", `"a"`, `"a.b"`, "same path"}},
		{`{"$rename":{"a.b":"a"}}`, ErrBadOperand, []string{"$rename", "same path"}},
		{`{"$rename":{"a":"a"}}`, ErrBadOperand, []string{"$rename"}},
		{`{"$rename":{"a":"b..c"}}`, value.ErrBadPath, []string{`"b..c"`}},
		{`{"$set":{"a..b":1}}`, value.ErrBadPath, []string{`"a..b"`, "$set"}},
		{`{"$set":{"a.$":1}}`, value.ErrBadPath, []string{`"a.$"`}},
		{`{"$set":{"a":{"$x":1}}}`, ErrBadOperand, []string{`"$x"`, "$set"}},
		{`{"$set":{"a":{"b.c":1}}}`, ErrBadOperand, []string{`"b.c"`, "$set"}},
		{`{"$push":{"t":{"$slice":1}}}`, ErrBadOperand, []string{"$push", "$slice needs $each", `"t"`}},
		{`{"$push":{"t":{"$each":1}}}`, ErrBadOperand, []string{"$each needs an array", `"t"`}},
		{`{"$push":{"t":{"$each":[],"$slice":"x"}}}`, ErrBadOperand, []string{"$slice"}},
		{`{"$push":{"t":{"$each":[],"$position":1.5}}}`, ErrBadOperand, []string{"$position"}},
		{`{"$push":{"t":{"$each":[],"$sort":2}}}`, ErrBadOperand, []string{"$sort"}},
		{`{"$push":{"t":{"$each":[],"$sort":{"a":0}}}}`, ErrBadOperand, []string{"$sort", `"a"`}},
		{`{"$push":{"t":{"$each":[],"$bogus":1}}}`, ErrUnknownOperator, []string{`"$bogus"`, "$push", `"t"`}},
		{`{"$push":{"t":{"$each":[],"x":1}}}`, ErrBadOperand, []string{"mixed"}},
		{`{"$push":{"t":{"$each":[{"$x":1}]}}}`, ErrBadOperand, []string{`"$x"`}},
		{`{"$addToSet":{"t":{"$each":[],"$slice":1}}}`, ErrUnknownOperator, []string{`"$slice"`, "$addToSet"}},
		{`{"$addToSet":{"t":{"$each":"x"}}}`, ErrBadOperand, []string{"$addToSet", "$each"}},
		{`{"$pull":{"t":{"$gt":1,"a":1}}}`, ErrBadOperand, []string{"$pull"}},
		{`{"$pull":{"t":{"$foo":1}}}`, ErrUnknownOperator, []string{`"$foo"`, `"t"`}},
		{`{"$pull":{"t":{"a":{"$in":1}}}}`, ErrBadOperand, []string{"$in"}},
		{`{"$currentDate":{"d":false}}`, ErrBadOperand, []string{"$currentDate", `"d"`}},
		{`{"$currentDate":{"d":{"$type":"time"}}}`, ErrBadOperand, []string{"$currentDate"}},
		{`{"$currentDate":{"d":1}}`, ErrBadOperand, []string{"$currentDate"}},
	}
	for _, tt := range tests {
		t.Run(tt.update, func(t *testing.T) {
			_, err := ParseUpdate(obj(t, tt.update))
			checkErr(t, err, tt.want, tt.subs...)
		})
	}
	_, err := ParseUpdate(nil)
	checkErr(t, err, ErrEmptyUpdate)
}

func TestUpdateApplyErrors(t *testing.T) {
	tests := []struct {
		update string
		doc    string
		want   error
		subs   []string
	}{
		{`{"$inc":{"n":1}}`, `{"n":"x"}`, ErrTypeMismatch, []string{`$inc: field "n" holds a string, not a number`}},
		{`{"$inc":{"n":1}}`, `{"n":null}`, ErrTypeMismatch, []string{"$inc", "null"}},
		{`{"$mul":{"n":2}}`, `{"n":[1]}`, ErrTypeMismatch, []string{"$mul", `"n"`, "array"}},
		{`{"$inc":{"n":1e308}}`, `{"n":1e308}`, ErrOverflow, []string{"$inc", `"n"`}},
		{`{"$mul":{"n":1e308}}`, `{"n":10}`, ErrOverflow, []string{"$mul"}},
		{`{"$push":{"tags":"x"}}`, `{"tags":"a"}`, ErrTypeMismatch, []string{`$push: field "tags" is not an array`}},
		{`{"$addToSet":{"tags":"x"}}`, `{"tags":{}}`, ErrTypeMismatch, []string{"$addToSet", `"tags"`}},
		{`{"$pull":{"tags":"x"}}`, `{"tags":5}`, ErrTypeMismatch, []string{"$pull", `"tags"`}},
		{`{"$set":{"a.b":1}}`, `{"a":5}`, ErrTypeMismatch, []string{"$set", `"b"`, `"a"`, "number"}},
		{`{"$set":{"a.b":1}}`, `{"a":null}`, ErrTypeMismatch, []string{"$set", "null"}},
		{`{"$set":{"a.b.c":1}}`, `{"a":{"b":"s"}}`, ErrTypeMismatch, []string{`"c"`, `"a.b"`}},
		{`{"$set":{"a.x":1}}`, `{"a":[1]}`, ErrTypeMismatch, []string{"$set", `"x"`, "array"}},
		{`{"$set":{"a.0.x":1}}`, `{"a":[1]}`, ErrTypeMismatch, []string{"$set", `"a.0"`}},
		{`{"$set":{"a.99999":1}}`, `{"a":[]}`, value.ErrBadPath, []string{"$set", "99999"}},
		{`{"$rename":{"a.0":"b"}}`, `{"a":[{"x":1}]}`, ErrTypeMismatch, []string{"$rename", "array"}},
		{`{"$rename":{"a":"b.c"}}`, `{"a":1,"b":[]}`, ErrTypeMismatch, []string{"$rename", "array"}},
		{`{"$rename":{"a":"b.c"}}`, `{"a":1,"b":3}`, ErrTypeMismatch, []string{"$rename", `"c"`}},
		{`{"$rename":{"a":"b.c"}}`, `{"a":1,"b":null}`, ErrTypeMismatch, []string{"$rename", "null"}},
	}
	for _, tt := range tests {
		t.Run(tt.update+tt.doc, func(t *testing.T) {
			u, err := ParseUpdate(obj(t, tt.update))
			if err != nil {
				t.Fatal(err)
			}
			doc := obj(t, tt.doc)
			before := value.Clone(doc)
			got, err := u.Apply(doc, testNow)
			checkErr(t, err, tt.want, tt.subs...)
			if got != nil {
				t.Error("failed Apply must return nil")
			}
			if !reflect.DeepEqual(doc, before) {
				t.Error("failed Apply modified its input")
			}
		})
	}
	// The result must stay a valid document.
	u, err := ParseUpdate(obj(t, `{"$set":{"a":1}}`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = u.Apply(map[string]any{"_id": true}, testNow)
	checkErr(t, err, value.ErrInvalidDocument, "_id")
	_, err = u.Apply(map[string]any{"c": make(chan int)}, testNow)
	checkErr(t, err, value.ErrInvalidValue, "chan")
}

func TestUpdateOps(t *testing.T) {
	u, err := ParseUpdate(obj(t, `{
		"$set": {"b": 1, "a": {"x": 1}},
		"$push": {"t": {"$each": [1, 2], "$slice": 3}, "p": "v"},
		"$addToSet": {"s": {"$each": ["x"]}},
		"$rename": {"old": "new.path"},
		"$currentDate": {"d": {"$type": "timestamp"}, "e": true},
		"$inc": {"n": 2}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []Op{
		{"$addToSet", "s", []any{"x"}},
		{"$currentDate", "d", "timestamp"},
		{"$currentDate", "e", "date"},
		{"$inc", "n", int64(2)},
		{"$push", "p", "v"},
		{"$push", "t", []any{int64(1), int64(2)}},
		{"$rename", "old", "new.path"},
		{"$set", "a", map[string]any{"x": int64(1)}},
		{"$set", "b", int64(1)},
	}
	got := u.Ops()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Ops() =\n%#v\nwant\n%#v", got, want)
	}
	got[7].Value.(map[string]any)["x"] = "mutated"
	if !reflect.DeepEqual(u.Ops(), want) {
		t.Error("Ops must return copies")
	}
}

func TestApplyUpsert(t *testing.T) {
	tests := []struct {
		name   string
		filter string
		update string
		want   string
	}{
		{"equalities", `{"_id":"k","a":1,"b.c":"x","n":{"$gt":5},"$or":[{"z":1}]}`, `{"$set":{"d":2}}`, `{"_id":"k","a":1,"b":{"c":"x"},"d":2}`},
		{"$eq and $and", `{"a":{"$eq":[1,2]},"$and":[{"b":{"c":1}},{"e":null}]}`, `{"$inc":{"n":1}}`, `{"a":[1,2],"b":{"c":1},"e":null,"n":1}`},
		{"update overrides", `{"a":1}`, `{"$set":{"a":2}}`, `{"a":2}`},
		{"nested merge", `{"a.b":1,"a.c":2}`, `{"$set":{"a.d":3}}`, `{"a":{"b":1,"c":2,"d":3}}`},
		{"duplicate equal seed", `{"a":1,"$and":[{"a":1.0}]}`, `{"$set":{"x":1}}`, `{"a":1.0,"x":1}`},
		{"no update", `{"a":1}`, ``, `{"a":1}`},
		{"empty filter", `{}`, `{"$push":{"t":1}}`, `{"t":[1]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseFilter(obj(t, tt.filter))
			if err != nil {
				t.Fatal(err)
			}
			var u *Update
			if tt.update != "" {
				if u, err = ParseUpdate(obj(t, tt.update)); err != nil {
					t.Fatal(err)
				}
			}
			got, err := ApplyUpsert(f, u, testNow)
			if err != nil {
				t.Fatal(err)
			}
			if want := obj(t, tt.want); !reflect.DeepEqual(got, want) {
				t.Errorf("got %#v, want %#v", got, want)
			}
		})
	}
	got, err := ApplyUpsert(nil, nil, testNow)
	if err != nil || len(got) != 0 {
		t.Errorf("nil filter and update: %#v, %v", got, err)
	}
	for _, fs := range []string{`{"a":1,"a.b":2}`, `{"$and":[{"a":1},{"a":2}]}`} {
		f, err := ParseFilter(obj(t, fs))
		if err != nil {
			t.Fatal(err)
		}
		_, err = ApplyUpsert(f, nil, testNow)
		checkErr(t, err, ErrConflict, `"a"`)
	}
	// the seeded document must not alias the filter
	f, _ := ParseFilter(obj(t, `{"a":{"b":[1]}}`))
	d, _ := ApplyUpsert(f, nil, testNow)
	d["a"].(map[string]any)["b"] = "x"
	d2, _ := ApplyUpsert(f, nil, testNow)
	if !reflect.DeepEqual(d2, obj(t, `{"a":{"b":[1]}}`)) {
		t.Error("upsert aliases the filter")
	}
}

// TestUpdateRefusesTooDeepPaths: an update path deeper than a document may
// nest is refused when parsed, naming the problem.
func TestUpdateRefusesTooDeepPaths(t *testing.T) {
	p := strings.TrimSuffix(strings.Repeat("a.", value.MaxPathDepth+1), ".")
	_, err := ParseUpdate(map[string]any{"$set": map[string]any{p: 1}})
	checkErr(t, err, ErrBadPath, "at most")
	_, err = ParseFilter(map[string]any{p: 1})
	checkErr(t, err, ErrBadPath, "at most")
}
