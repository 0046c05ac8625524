// Package valuetest generates canonical values for property tests of
// packages value and query, from a seed each test logs for replay. It is
// for tests only.
package valuetest

import (
	"flag"
	"math"
	"math/rand"
	"testing"
	"time"
)

var seedFlag = flag.Int64("value.seed", 0, "seed for property tests (0: time-based)")

// Seed returns the seed for a property test and logs it for replay.
func Seed(t testing.TB) int64 {
	seed := *seedFlag
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	t.Logf("seed %d (replay with -value.seed=%d)", seed, seed)
	return seed
}

// Rand returns a random canonical value nested at most depth deep,
// biased toward edge cases: numbers near 2^53 and 2^63, both zeros, NUL
// bytes, invalid UTF-8 in strings and keys.
func Rand(r *rand.Rand, depth int) any {
	n := 9
	if depth <= 0 {
		n = 7
	}
	switch r.Intn(n) {
	case 0:
		return nil
	case 1:
		return r.Intn(2) == 0
	case 2:
		edges := []int64{0, 1, -1, 1 << 53, 1<<53 + 1, -(1 << 53) - 1, math.MaxInt64, math.MaxInt64 - 1, math.MinInt64, math.MinInt64 + 1, 1<<62 + 511, 1<<62 + 512, 1<<62 + 513}
		if r.Intn(2) == 0 {
			return edges[r.Intn(len(edges))] + int64(r.Intn(3)-1)
		}
		return r.Int63n(2000) - 1000
	case 3:
		edges := []float64{0, math.Copysign(0, -1), 0.5, -0.5, 1 << 53, 0x1p63, -0x1p63, 0x1p62, math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64, 1e300}
		if r.Intn(2) == 0 {
			return edges[r.Intn(len(edges))]
		}
		return float64(r.Intn(2000)-1000) / 4
	case 4, 5, 6:
		alphabet := []string{"", "a", "b", "\x00", "\xff", "é", "ab", "a\x00"}
		s := ""
		for range r.Intn(4) {
			s += alphabet[r.Intn(len(alphabet))]
		}
		return s
	case 7:
		arr := make([]any, r.Intn(3))
		for i := range arr {
			arr[i] = Rand(r, depth-1)
		}
		return arr
	}
	m := map[string]any{}
	for range r.Intn(3) {
		m[[]string{"a", "b", "c", "", "a\x00"}[r.Intn(5)]] = Rand(r, depth-1)
	}
	return m
}
