package value_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/latticedb/lattice/value"
)

func TestLookup(t *testing.T) {
	doc := obj(t, `{
		"a": {"b": 1},
		"arr": [{"b": 1}, {"b": [2, 3]}, 5, {"c": 1}, [{"b": 9}]],
		"tags": ["x", "y"],
		"n": null
	}`)
	tests := []struct {
		path string
		want string
	}{
		{"a", `[{"b":1}]`},
		{"a.b", `[1]`},
		{"a.c", `[]`},
		{"a.b.c", `[]`},
		{"arr.b", `[1,[2,3]]`},
		{"arr.0.b", `[1]`},
		{"arr.1.b.1", `[3]`},
		{"arr.2", `[5]`},
		{"arr.9", `[]`},
		{"tags", `[["x","y"]]`},
		{"tags.0", `["x"]`},
		{"n", `[null]`},
		{"missing", `[]`},
	}
	for _, tt := range tests {
		got := value.Lookup(doc, tt.path)
		want := val(t, tt.want).([]any)
		if len(got) == 0 && len(want) == 0 {
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Lookup(%q) = %#v, want %#v", tt.path, got, want)
		}
	}
}

func TestGet(t *testing.T) {
	doc := obj(t, `{"a":{"b":[10,{"c":"x"}]},"n":null}`)
	tests := []struct {
		path string
		want any
		ok   bool
	}{
		{"a.b.0", int64(10), true},
		{"a.b.1.c", "x", true},
		{"a.b.c", nil, false},
		{"a.b.2", nil, false},
		{"a.b.-1", nil, false},
		{"a.b.01", nil, false},
		{"n", nil, true},
		{"n.x", nil, false},
		{"zz", nil, false},
	}
	for _, tt := range tests {
		got, ok := value.Get(doc, tt.path)
		if ok != tt.ok || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Get(%q) = %v, %v; want %v, %v", tt.path, got, ok, tt.want, tt.ok)
		}
	}
	if v, ok := value.Get(doc, "a"); !ok || !reflect.DeepEqual(v, doc["a"]) {
		t.Error("Get(a)")
	}
}

// TestPathDepthBound: a path longer than MaxPathDepth is refused with an
// error that says so, not truncated.
func TestPathDepthBound(t *testing.T) {
	deep := func(n int) string { return strings.TrimSuffix(strings.Repeat("a.", n), ".") }
	if _, err := value.SplitPath(deep(value.MaxPathDepth)); err != nil {
		t.Fatalf("a path of %d components: %v", value.MaxPathDepth, err)
	}
	_, err := value.SplitPath(deep(value.MaxPathDepth + 1))
	checkErr(t, err, value.ErrBadPath, "at most 99")
}
