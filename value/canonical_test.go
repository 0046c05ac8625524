package value

import (
	"reflect"
	"testing"
)

// TestCanonicalNumbers: integral floats that fit an int64 become int64,
// in place and at any depth, as a storage round trip makes them.
func TestCanonicalNumbers(t *testing.T) {
	doc := map[string]any{"a": 1.0, "b": 1.5, "c": []any{2.0, "x", map[string]any{"d": -3.0}}, "e": 1e300, "f": int64(4)}
	got := CanonicalNumbers(doc)
	want := map[string]any{"a": int64(1), "b": 1.5, "c": []any{int64(2), "x", map[string]any{"d": int64(-3)}}, "e": 1e300, "f": int64(4)}
	if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(doc, want) {
		t.Fatalf("CanonicalNumbers = %#v, want %#v (in place)", got, want)
	}
	if got := CanonicalNumbers(7.0); got != int64(7) {
		t.Fatalf("CanonicalNumbers(7.0) = %#v", got)
	}
}
