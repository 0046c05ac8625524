package crdt

import (
	"reflect"
	"testing"
)

// decodeJSON's scalar fast path decodes exactly as the stream decoder
// (UseNumber, trailing data refused) that objects and arrays go through.
func checkDecodeMatchesStream(t *testing.T, in []byte) {
	t.Helper()
	got, gerr := decodeJSON(in)
	want, werr := decodeStream(in)
	if (gerr == nil) != (werr == nil) || !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: decodeJSON %#v (%v), decodeStream %#v (%v)", in, got, gerr, want, werr)
	}
}

var decodeSeeds = []string{
	"1", " 1 ", "-1", "1.5", "1e400", "-0", "01", "1 2", "1x", `"a"`, `"a" `, `"a" "b"`, `"\u00e9"`,
	"true", "false", "null", " null", "nul", "", " ", "{}", "[1]", `{"a":1}`, "9223372036854775807",
	"9223372036854775808", "-9223372036854775809", "1.0", "\"\xff\"", "-", "--1", "+1", "1.", ".5",
	"\t7\n", "tru", "[", `"abc`, "0x10", "true false", "null,",
}

func TestDecodeJSONMatchesStream(t *testing.T) {
	for _, in := range decodeSeeds {
		checkDecodeMatchesStream(t, []byte(in))
	}
}

func FuzzDecodeJSONMatchesStream(f *testing.F) {
	for _, in := range decodeSeeds {
		f.Add([]byte(in))
	}
	f.Fuzz(checkDecodeMatchesStream)
}
