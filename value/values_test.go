package value_test

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/latticedb/lattice/value"
)

func TestNormalize(t *testing.T) {
	type myInt int16
	type myMap map[string]any
	ts := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.FixedZone("X", 3600))
	tests := []struct {
		name string
		in   any
		want any
	}{
		{"nil", nil, nil},
		{"bool", true, true},
		{"int", 5, int64(5)},
		{"int8", int8(-5), int64(-5)},
		{"int32", int32(7), int64(7)},
		{"uint64", uint64(math.MaxInt64), int64(math.MaxInt64)},
		{"uint8", uint8(200), int64(200)},
		{"named int", myInt(3), int64(3)},
		{"float32", float32(1.5), float64(1.5)},
		{"integral float stays float", 2.0, float64(2)},
		{"json int", json.Number("12"), int64(12)},
		{"json big int", json.Number("9223372036854775808"), float64(9223372036854775808)},
		{"json float", json.Number("1.5"), 1.5},
		{"json exp", json.Number("1e3"), float64(1000)},
		{"time", ts, "2024-05-06T06:08:09.123456789Z"},
		{"time fixed width", time.Date(2024, 5, 6, 7, 8, 9, 500000000, time.UTC), "2024-05-06T07:08:09.500000000Z"},
		{"string", "héllo", "héllo"},
		{"pointer", &ts, "2024-05-06T06:08:09.123456789Z"},
		{"nil pointer", map[string]any{"p": (*int)(nil)}, map[string]any{"p": nil}},
		{"[]string", []string{"a", "b"}, []any{"a", "b"}},
		{"[]int", []int{1, 2}, []any{int64(1), int64(2)}},
		{"nil []string", []string(nil), []any{}},
		{"array", [2]int{1, 2}, []any{int64(1), int64(2)}},
		{"[]map", []map[string]any{{"a": 1}}, []any{map[string]any{"a": int64(1)}}},
		{"map[string]int", map[string]int{"a": 1}, map[string]any{"a": int64(1)}},
		{"named map nested", map[string]any{"m": myMap{"x": []any{1.5, "s", nil}}},
			map[string]any{"m": map[string]any{"x": []any{1.5, "s", nil}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := value.Normalize(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Normalize(%#v) = %#v, want %#v", tt.in, got, tt.want)
			}
		})
	}
}

func TestNormalizeCopies(t *testing.T) {
	in := map[string]any{"a": []any{map[string]any{"b": int64(1)}}}
	out, err := value.Normalize(in)
	if err != nil {
		t.Fatal(err)
	}
	out.(map[string]any)["a"].([]any)[0].(map[string]any)["b"] = int64(2)
	if in["a"].([]any)[0].(map[string]any)["b"] != int64(1) {
		t.Error("Normalize did not deep-copy")
	}
}

func TestNormalizeErrors(t *testing.T) {
	deep := any(1)
	for range value.MaxDepth + 1 {
		deep = []any{deep}
	}
	type S struct{ A int }
	tests := []struct {
		name string
		in   any
		subs []string
	}{
		{"NaN", map[string]any{"a": map[string]any{"b": math.NaN()}}, []string{"NaN", `"a.b"`}},
		{"Inf", []any{1, math.Inf(1)}, []string{"+Inf", `"1"`}},
		{"Inf32", float32(math.Inf(-1)), []string{"-Inf"}},
		{"json range", json.Number("1e400"), []string{"finite"}},
		{"json garbage", json.Number("x1"), []string{`"x1"`}},
		{"uint64 overflow", uint64(math.MaxUint64), []string{"overflows int64"}},
		{"bad utf8 string", map[string]any{"k": "\xff"}, []string{"UTF-8", `"k"`}},
		{"bad utf8 key", map[string]any{"a": map[string]any{"\xfe": 1}}, []string{"UTF-8", `"a"`}},
		{"struct", map[string]any{"s": S{1}}, []string{"value_test.S", `"s"`}},
		{"chan", make(chan int), []string{"chan int"}},
		{"func", map[string]any{"f": func() {}}, []string{"func()"}},
		{"pointer to struct", &S{1}, []string{"value_test.S"}},
		{"bytes", []byte("x"), []string{"[]uint8"}},
		{"int keys", map[int]any{1: 2}, []string{"map[int]"}},
		{"too deep", deep, []string{"deeper than 100"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := value.Normalize(tt.in)
			checkErr(t, err, value.ErrInvalidValue, tt.subs...)
		})
	}
}

func TestNormalizeCycle(t *testing.T) {
	m := map[string]any{}
	m["self"] = m
	_, err := value.Normalize(m)
	checkErr(t, err, value.ErrInvalidValue, "deeper")
}

func TestDecodeJSON(t *testing.T) {
	v, err := value.DecodeJSON([]byte(` {"a": 1, "b": 1.0, "c": [true, null, "x"], "d": 1e2, "e": -0} `))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"a": int64(1), "b": 1.0, "c": []any{true, nil, "x"}, "d": 100.0, "e": int64(0)}
	if !reflect.DeepEqual(v, want) {
		t.Errorf("got %#v", v)
	}
	for _, bad := range []string{``, `{`, `{"a":1} x`, `{"a":1}{}`, `[1,]`, `nul`} {
		_, err := value.DecodeJSON([]byte(bad))
		checkErr(t, err, value.ErrInvalidJSON)
	}
	deep := strings.Repeat("[", 150) + strings.Repeat("]", 150)
	_, err = value.DecodeJSON([]byte(deep))
	checkErr(t, err, value.ErrInvalidValue, "deeper")
}

func TestValidateDocument(t *testing.T) {
	good := []string{
		`{}`,
		`{"_id":"x","a":{"b":[{"c":1}]}}`,
		`{"_id":5}`,
		`{"_id":5.5}`,
		`{"a-b":1,"ü":2,"a$":3}`,
	}
	for _, s := range good {
		if err := value.ValidateDocument(obj(t, s)); err != nil {
			t.Errorf("ValidateDocument(%s): %v", s, err)
		}
	}
	deep := map[string]any{}
	cur := deep
	for range value.MaxDepth - 1 {
		next := map[string]any{}
		cur["x"] = next
		cur = next
	}
	if err := value.ValidateDocument(deep); err != nil {
		t.Errorf("depth %d should be accepted: %v", value.MaxDepth, err)
	}
	cur["x"] = map[string]any{}
	checkErr(t, value.ValidateDocument(deep), value.ErrInvalidDocument, "deeper than 100")

	bad := []struct {
		doc  map[string]any
		subs []string
	}{
		{map[string]any{"": 1}, []string{"empty field name"}},
		{map[string]any{"$set": 1}, []string{`"$set"`, "'$'"}},
		{map[string]any{"a": map[string]any{"b.c": 1}}, []string{`"b.c"`, `"a"`}},
		{map[string]any{"a": []any{map[string]any{"$x": 1}}}, []string{`"$x"`, `"a.0"`}},
		{map[string]any{"a\x00": 1}, []string{"NUL"}},
		{map[string]any{"\xff": 1}, []string{"UTF-8"}},
		{map[string]any{"_id": true}, []string{"_id", "boolean"}},
		{map[string]any{"_id": nil}, []string{"_id", "null"}},
		{map[string]any{"_id": []any{}}, []string{"_id", "array"}},
		{map[string]any{"a": 1}, []string{"non-canonical", "int", `"a"`}},
		{map[string]any{"a": math.NaN()}, []string{"NaN"}},
		{map[string]any{"a": []any{"ok", "\xff"}}, []string{"UTF-8", `"a.1"`}},
	}
	for _, tt := range bad {
		checkErr(t, value.ValidateDocument(tt.doc), value.ErrInvalidDocument, tt.subs...)
	}
}

func TestClone(t *testing.T) {
	in := obj(t, `{"a":[1,{"b":[2]}],"c":"s"}`)
	out := value.Clone(in).(map[string]any)
	if !reflect.DeepEqual(in, out) {
		t.Fatal("clone differs")
	}
	out["a"].([]any)[1].(map[string]any)["b"].([]any)[0] = int64(9)
	if in["a"].([]any)[1].(map[string]any)["b"].([]any)[0] != int64(2) {
		t.Error("Clone shares nested arrays")
	}
	if value.Clone(nil) != nil || value.Clone("x") != "x" {
		t.Error("scalars should be returned as is")
	}
}

func TestTimeFormatSortsAndParses(t *testing.T) {
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	times := []time.Time{base, base.Add(500 * time.Millisecond), base.Add(time.Second), base.Add(time.Second + time.Nanosecond)}
	var prev string
	for i, tm := range times {
		v, err := value.Normalize(tm.In(time.FixedZone("X", -7200)))
		if err != nil {
			t.Fatal(err)
		}
		s := v.(string)
		back, err := time.Parse(time.RFC3339, s)
		if err != nil || !back.Equal(tm) {
			t.Errorf("%q does not parse back: %v", s, err)
		}
		if i > 0 && value.Compare(prev, s) >= 0 {
			t.Errorf("%q should sort before %q", prev, s)
		}
		prev = s
	}
}
