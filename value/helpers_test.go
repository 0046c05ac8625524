package value_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/latticedb/lattice/value"
)

// val decodes any JSON value for tests.
func val(t testing.TB, s string) any {
	t.Helper()
	v, err := value.DecodeJSON([]byte(s))
	if err != nil {
		t.Fatalf("bad test JSON %s: %v", s, err)
	}
	return v
}

// obj decodes a JSON object for tests.
func obj(t testing.TB, s string) map[string]any {
	t.Helper()
	m, ok := val(t, s).(map[string]any)
	if !ok {
		t.Fatalf("test JSON %s is not an object", s)
	}
	return m
}

// checkErr asserts that err wraps want, carries the package prefix and
// mentions every string in subs.
func checkErr(t testing.TB, err, want error, subs ...string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error %v does not wrap %q", err, want)
	}
	if !strings.HasPrefix(err.Error(), "value: ") {
		t.Errorf("error %q lacks the package prefix", err)
	}
	for _, s := range subs {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
}
