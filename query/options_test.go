package query

import (
	"reflect"
	"testing"

	"github.com/latticedb/lattice/value"
)

func docs(t *testing.T, ss ...string) []map[string]any {
	t.Helper()
	out := make([]map[string]any, len(ss))
	for i, s := range ss {
		out[i] = obj(t, s)
	}
	return out
}

func ids(ds []map[string]any) []any {
	out := make([]any, len(ds))
	for i, d := range ds {
		out[i] = d["_id"]
	}
	return out
}

func TestOptionsApply(t *testing.T) {
	in := docs(t,
		`{"_id":1,"a":2,"b":"x"}`,
		`{"_id":2,"a":1,"b":"y"}`,
		`{"_id":3,"a":2,"b":"a"}`,
		`{"_id":4,"b":"z"}`,
		`{"_id":5,"a":null,"b":"m"}`,
		`{"_id":6,"a":"s","b":"m"}`,
		`{"_id":7,"a":1.5,"b":"m"}`,
	)
	tests := []struct {
		name string
		opts []Option
		want []any
	}{
		{"none", nil, []any{int64(1), int64(2), int64(3), int64(4), int64(5), int64(6), int64(7)}},
		{"asc stable missing as null", []Option{Sort("a", 1)}, []any{int64(4), int64(5), int64(2), int64(7), int64(1), int64(3), int64(6)}},
		{"desc", []Option{Sort("a", -1)}, []any{int64(6), int64(1), int64(3), int64(7), int64(2), int64(4), int64(5)}},
		{"multi key", []Option{Sort("a", -1), Sort("b", 1)}, []any{int64(6), int64(3), int64(1), int64(7), int64(2), int64(5), int64(4)}},
		{"multi key other", []Option{Sort("b", 1), Sort("_id", -1)}, []any{int64(3), int64(7), int64(6), int64(5), int64(1), int64(2), int64(4)}},
		{"skip limit", []Option{Sort("_id", 1), Skip(2), Limit(3)}, []any{int64(3), int64(4), int64(5)}},
		{"skip past end", []Option{Skip(10)}, []any{}},
		{"limit zero means all", []Option{Limit(0), Sort("_id", -1), Skip(5)}, []any{int64(2), int64(1)}},
		{"limit larger", []Option{Limit(100), Skip(6)}, []any{int64(7)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := NewOptions(tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			before := append([]map[string]any(nil), in...)
			got, err := o.Apply(in)
			if err != nil {
				t.Fatal(err)
			}
			if g := ids(got); !reflect.DeepEqual(g, tt.want) {
				t.Errorf("got %v, want %v", g, tt.want)
			}
			if !reflect.DeepEqual(in, before) {
				t.Error("Apply reordered its input")
			}
		})
	}
}

func TestSortArrays(t *testing.T) {
	in := docs(t,
		`{"_id":1,"a":[5,1]}`,
		`{"_id":2,"a":[3]}`,
		`{"_id":3,"a":4}`,
		`{"_id":4,"a":[]}`,
		`{"_id":5,"a":[{"b":2},{"b":9}]}`,
	)
	o, _ := NewOptions(Sort("a", 1))
	got, _ := o.Apply(in)
	// ascending by min element: [] (null) , 1, 3, 4, object
	if g := ids(got); !reflect.DeepEqual(g, []any{int64(4), int64(1), int64(2), int64(3), int64(5)}) {
		t.Errorf("asc got %v", g)
	}
	o, _ = NewOptions(Sort("a", -1))
	got, _ = o.Apply(in)
	// descending by max element: object, 5, 4, 3, []
	if g := ids(got); !reflect.DeepEqual(g, []any{int64(5), int64(1), int64(3), int64(2), int64(4)}) {
		t.Errorf("desc got %v", g)
	}
	o, _ = NewOptions(Sort("a.b", -1))
	got, _ = o.Apply(in)
	if g := ids(got); g[0] != int64(5) {
		t.Errorf("dot path through array: %v", g)
	}
}

func TestNewOptionsErrors(t *testing.T) {
	tests := []struct {
		opts []Option
		want error
		subs []string
	}{
		{[]Option{Sort("a", 0)}, ErrBadOption, []string{`"a"`, "1 or -1"}},
		{[]Option{Sort("a", 2)}, ErrBadOption, []string{"got 2"}},
		{[]Option{Sort("a", 1), Sort("a", -1)}, ErrBadOption, []string{`"a"`, "twice"}},
		{[]Option{Sort("a..b", 1)}, value.ErrBadPath, []string{`"a..b"`, "sort"}},
		{[]Option{Sort("", 1)}, value.ErrBadPath, []string{"empty"}},
		{[]Option{Skip(-1)}, ErrBadOption, []string{"skip"}},
		{[]Option{Limit(-1)}, ErrBadOption, []string{"limit"}},
		{[]Option{Project(map[string]any{"a": 1, "b": 0})}, ErrBadProjection, []string{`"a"`, `"b"`}},
	}
	for _, tt := range tests {
		_, err := NewOptions(tt.opts...)
		checkErr(t, err, tt.want, tt.subs...)
	}
	// Options built as a literal are validated by Apply.
	_, err := (&Options{Limit: -5}).Apply(nil)
	checkErr(t, err, ErrBadOption, "limit")
}

func TestOptionsProjection(t *testing.T) {
	in := docs(t, `{"_id":1,"a":1,"b":{"c":1,"d":2}}`)
	o, err := NewOptions(Project(map[string]any{"b.c": 1}))
	if err != nil {
		t.Fatal(err)
	}
	got, err := o.Apply(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := obj(t, `{"_id":1,"b":{"c":1}}`); !reflect.DeepEqual(got[0], want) {
		t.Errorf("got %v", got[0])
	}
	if len(in[0]) != 3 {
		t.Error("projection modified the input")
	}
}

func TestProjection(t *testing.T) {
	doc := `{"_id":7,"a":1,"b":{"c":1,"d":{"e":2,"f":3}},"arr":[{"x":1,"y":2},{"y":3},5,[{"x":4}]],"s":"str"}`
	tests := []struct {
		proj string
		want string
	}{
		{`{}`, doc},
		{`{"a":1}`, `{"_id":7,"a":1}`},
		{`{"a":true,"_id":0}`, `{"a":1}`},
		{`{"a":1,"_id":false}`, `{"a":1}`},
		{`{"_id":1}`, `{"_id":7}`},
		{`{"_id":0}`, `{"a":1,"b":{"c":1,"d":{"e":2,"f":3}},"arr":[{"x":1,"y":2},{"y":3},5,[{"x":4}]],"s":"str"}`},
		{`{"b.d.e":1}`, `{"_id":7,"b":{"d":{"e":2}}}`},
		{`{"b.c":1,"b.d.f":1.0}`, `{"_id":7,"b":{"c":1,"d":{"f":3}}}`},
		{`{"arr.x":1}`, `{"_id":7,"arr":[{"x":1},{},[{"x":4}]]}`},
		{`{"s.x":1}`, `{"_id":7}`},
		{`{"zz":1}`, `{"_id":7}`},
		{`{"a":0}`, `{"_id":7,"b":{"c":1,"d":{"e":2,"f":3}},"arr":[{"x":1,"y":2},{"y":3},5,[{"x":4}]],"s":"str"}`},
		{`{"a":0,"b.d":false,"_id":0}`, `{"b":{"c":1},"arr":[{"x":1,"y":2},{"y":3},5,[{"x":4}]],"s":"str"}`},
		{`{"arr.y":0,"s.q":0}`, `{"_id":7,"a":1,"b":{"c":1,"d":{"e":2,"f":3}},"arr":[{"x":1},{},5,[{"x":4}]],"s":"str"}`},
		{`{"a":0,"_id":1}`, `{"_id":7,"b":{"c":1,"d":{"e":2,"f":3}},"arr":[{"x":1,"y":2},{"y":3},5,[{"x":4}]],"s":"str"}`},
	}
	for _, tt := range tests {
		p, err := ParseProjection(obj(t, tt.proj))
		if err != nil {
			t.Fatalf("ParseProjection(%s): %v", tt.proj, err)
		}
		in := obj(t, doc)
		got := p.Apply(in)
		if want := obj(t, tt.want); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %v, want %v", tt.proj, got, want)
		}
		if !reflect.DeepEqual(in, obj(t, doc)) {
			t.Errorf("%s modified its input", tt.proj)
		}
	}
	// results share nothing with the input
	in := obj(t, doc)
	p, _ := ParseProjection(obj(t, `{"b":1}`))
	p.Apply(in)["b"].(map[string]any)["c"] = "x"
	if in["b"].(map[string]any)["c"] != int64(1) {
		t.Error("projection aliases the input")
	}
}

func TestProjectionErrors(t *testing.T) {
	tests := []struct {
		proj string
		want error
		subs []string
	}{
		{`{"a":1,"b":0}`, ErrBadProjection, []string{`inclusion of "a"`, `exclusion of "b"`}},
		{`{"a":2}`, ErrBadProjection, []string{`"a"`, "got 2"}},
		{`{"a":"yes"}`, ErrBadProjection, []string{`"a"`}},
		{`{"a":{"$slice":1}}`, ErrBadProjection, []string{`"a"`}},
		{`{"a":1,"a.b":1}`, ErrBadProjection, []string{"collision", `"a.b"`}},
		{`{"a.b":0,"a":0}`, ErrBadProjection, []string{"collision"}},
		{`{"a..b":1}`, value.ErrBadPath, []string{`"a..b"`}},
	}
	for _, tt := range tests {
		_, err := ParseProjection(obj(t, tt.proj))
		checkErr(t, err, tt.want, tt.subs...)
	}
}
