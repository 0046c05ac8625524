package query

import (
	"errors"
	"strings"
	"testing"

	"github.com/latticedb/lattice/value"
)

// obj decodes a JSON object for tests.
func obj(t testing.TB, s string) map[string]any {
	t.Helper()
	v, err := value.DecodeJSON([]byte(s))
	if err != nil {
		t.Fatalf("bad test JSON %s: %v", s, err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("test JSON %s is not an object", s)
	}
	return m
}

// val decodes any JSON value for tests.
func val(t testing.TB, s string) any {
	t.Helper()
	v, err := value.DecodeJSON([]byte(s))
	if err != nil {
		t.Fatalf("bad test JSON %s: %v", s, err)
	}
	return v
}

// checkErr asserts that err wraps want and mentions every string in subs.
func checkErr(t testing.TB, err, want error, subs ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", want)
	}
	if !errors.Is(err, want) {
		t.Fatalf("error %q does not wrap %q", err, want)
	}
	// Values and paths are checked by package value, under its prefix.
	if !strings.HasPrefix(err.Error(), "query: ") && !strings.HasPrefix(err.Error(), "value: ") {
		t.Errorf("error %q lacks the package prefix", err)
	}
	for _, s := range subs {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
}
