package value_test

import (
	"bytes"
	"cmp"
	"math"
	"math/rand"
	"reflect"
	"testing"
	"testing/quick"

	"github.com/latticedb/lattice/internal/valuetest"
	"github.com/latticedb/lattice/value"
)

func TestCompareOrder(t *testing.T) {
	// Strictly increasing, in MongoDB's BSON order.
	ordered := []string{
		`null`,
		`-1e300`,
		`-9223372036854775808`,
		`-5`,
		`-4.5`,
		`0`,
		`0.5`,
		`1`,
		`9007199254740992`,
		`9007199254740993`,
		`9223372036854775807`,
		`9223372036854775808.0`,
		`1e300`,
		`""`,
		`"A"`,
		`"a"`,
		`"a\u0000"`,
		`"ab"`,
		`"b"`,
		`"é"`,
		`{}`,
		`{"a":1}`,
		`{"a":1,"b":1}`,
		`{"a":2}`,
		`{"b":0}`,   // MongoDB compares the values' types before the keys:
		`{"a":"x"}`, // a number field sorts before a string field
		`{"a":[1]}`,
		`{"a":true}`,
		`[]`,
		`[null]`,
		`[1]`,
		`[1,2]`,
		`[2]`,
		`["a"]`,
		`[[]]`,
		`false`,
		`true`,
	}
	vals := make([]any, len(ordered))
	for i, s := range ordered {
		vals[i] = val(t, s)
	}
	for i := range vals {
		for j := range vals {
			want := cmp.Compare(i, j)
			if got := value.Compare(vals[i], vals[j]); got != want {
				t.Errorf("Compare(%s, %s) = %d, want %d", ordered[i], ordered[j], got, want)
			}
			if got := bytes.Compare(value.EncodeKey(vals[i]), value.EncodeKey(vals[j])); got != want {
				t.Errorf("EncodeKey order (%s, %s) = %d, want %d", ordered[i], ordered[j], got, want)
			}
		}
	}
}

func TestCompareNumbers(t *testing.T) {
	tests := []struct {
		a, b any
		want int
	}{
		{int64(1), 1.0, 0},
		{int64(1), 1.5, -1},
		{int64(2), 1.5, 1},
		{int64(-2), -1.5, -1},
		{int64(-1), -1.5, 1},
		{int64(1<<53 + 1), float64(1 << 53), 1},
		{float64(1 << 53), int64(1<<53 + 1), -1},
		{int64(math.MaxInt64), 0x1p63, -1},
		{int64(math.MinInt64), -0x1p63, 0},
		{int64(math.MinInt64), -0x1p64, 1},
		{int64(0), math.Copysign(0, -1), 0},
		{math.NaN(), math.Inf(-1), -1},
		{math.NaN(), math.NaN(), 0},
		{int64(0), math.NaN(), 1},
		{int64(5), math.Inf(1), -1},
		{3, int32(3), 0},
		{uint64(math.MaxUint64), int64(math.MaxInt64), 1},
		{float32(1.5), 1.5, 0},
	}
	for _, tt := range tests {
		if got := value.Compare(tt.a, tt.b); got != tt.want {
			t.Errorf("Compare(%v, %v) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := value.Compare(tt.b, tt.a); got != -tt.want {
			t.Errorf("Compare(%v, %v) = %d, want %d", tt.b, tt.a, got, -tt.want)
		}
		if got := bytes.Compare(value.EncodeKey(tt.a), value.EncodeKey(tt.b)); got != tt.want {
			t.Errorf("EncodeKey order (%v, %v) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestEqual(t *testing.T) {
	if !value.Equal(int64(2), 2.0) || !value.Equal(nil, nil) || !value.Equal(val(t, `{"a":[1]}`), val(t, `{"a":[1.0]}`)) {
		t.Error("expected equal")
	}
	if value.Equal(int64(0), false) || value.Equal(nil, int64(0)) || value.Equal("1", int64(1)) || value.Equal([]any{}, map[string]any{}) {
		t.Error("different classes must not be equal")
	}
}

func TestEncodeKeyForm(t *testing.T) {
	tests := []struct {
		v    any
		want []byte
	}{
		{nil, []byte{0x05}},
		{false, []byte{0x50, 0}},
		{true, []byte{0x50, 1}},
		{"a\x00b", []byte{0x20, 'a', 0x00, 0xFF, 'b', 0x00, 0x01}},
		{[]any{}, []byte{0x40, 0x00}},
		{map[string]any{}, []byte{0x30, 0x00}},
	}
	for _, tt := range tests {
		if got := value.EncodeKey(tt.v); !bytes.Equal(got, tt.want) {
			t.Errorf("EncodeKey(%#v) = %x, want %x", tt.v, got, tt.want)
		}
	}
	if !bytes.Equal(value.EncodeKey(int64(3)), value.EncodeKey(3.0)) {
		t.Error("int64 3 and float64 3 must encode alike")
	}
	if !bytes.Equal(value.EncodeKey(0.0), value.EncodeKey(math.Copysign(0, -1))) {
		t.Error("-0 and +0 must encode alike")
	}
	if n := len(value.EncodeKey(int64(1))); n != 11 {
		t.Errorf("number key length %d, want 11", n)
	}
}

// genValue is a random canonical value for property tests, biased toward
// edge cases: numbers near 2^53 and 2^63, both zeros, NUL bytes.
type genValue struct{ V any }

func (genValue) Generate(r *rand.Rand, size int) reflect.Value {
	return reflect.ValueOf(genValue{valuetest.Rand(r, 3)})
}

func TestEncodeKeyOrderProperty(t *testing.T) {
	cfg := &quick.Config{MaxCount: 20000, Rand: rand.New(rand.NewSource(valuetest.Seed(t)))}
	prop := func(a, b genValue) bool {
		ka, kb := value.EncodeKey(a.V), value.EncodeKey(b.V)
		c := value.Compare(a.V, b.V)
		if bytes.Compare(ka, kb) != c || value.Compare(b.V, a.V) != -c {
			t.Logf("a=%#v b=%#v Compare=%d keys %x %x", a.V, b.V, c, ka, kb)
			return false
		}
		// prefix-free: a key that differs is never a prefix of another
		if c != 0 && (bytes.HasPrefix(ka, kb) || bytes.HasPrefix(kb, ka)) {
			t.Logf("prefix: %x %x", ka, kb)
			return false
		}
		return true
	}
	if err := quick.Check(prop, cfg); err != nil {
		t.Fatal(err)
	}
}

func TestCompareTransitiveProperty(t *testing.T) {
	cfg := &quick.Config{MaxCount: 5000, Rand: rand.New(rand.NewSource(valuetest.Seed(t)))}
	prop := func(a, b, c genValue) bool {
		ab, bc, ac := value.Compare(a.V, b.V), value.Compare(b.V, c.V), value.Compare(a.V, c.V)
		if ab <= 0 && bc <= 0 && ac > 0 {
			t.Logf("not transitive: %#v %#v %#v", a.V, b.V, c.V)
			return false
		}
		return true
	}
	if err := quick.Check(prop, cfg); err != nil {
		t.Fatal(err)
	}
}

func TestPrefixEnd(t *testing.T) {
	if got := value.PrefixEnd([]byte{1, 0xFF}); !bytes.Equal(got, []byte{2}) {
		t.Errorf("got %x", got)
	}
	if got := value.PrefixEnd([]byte{0xFF}); got != nil {
		t.Errorf("got %x", got)
	}
}
