package value

import "math"

// CanonicalNumbers rewrites v in place (and returns it) into the form it
// has after a round trip through storage: encoding/json writes a float64
// with an integral value below 1e21 without a fraction, and decoding reads
// it back as an int64 when it fits. Callers canonicalise documents before
// planning, so a writer's own state equals what every replica decodes.
func CanonicalNumbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = CanonicalNumbers(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = CanonicalNumbers(e)
		}
		return x
	case float64:
		if x == math.Trunc(x) && x >= -(1<<63) && x < 1<<63 {
			return int64(x)
		}
	}
	return v
}
