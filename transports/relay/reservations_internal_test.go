package relay

import (
	"testing"
	"time"
)

// A reservation is renewed ahead of its expiry, but never in a tight loop,
// whatever TTL the relay grants or however far the clocks disagree.
func TestRenewAfter(t *testing.T) {
	for _, tc := range []struct{ ttl, want time.Duration }{
		{time.Hour, time.Hour - renewBefore},
		{3 * time.Minute, 90 * time.Second}, // halfway beats renewBefore ahead
		{90 * time.Second, 45 * time.Second},
		{time.Second, retryMin},
		{-time.Hour, retryMin}, // already expired by the relay's clock
	} {
		if got := renewAfter(tc.ttl); got != tc.want {
			t.Errorf("renewAfter(%v) = %v, want %v", tc.ttl, got, tc.want)
		}
	}
}
