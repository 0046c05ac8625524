// Package poll waits for conditions in tests: the one way Lattice's tests
// wait, instead of sleeps standing in for a condition. It imports nothing
// of Lattice's, so every package's tests can use it, package engine's own
// internal tests included.
package poll

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// Interval is how often Eventually and Wait check their condition.
const Interval = 20 * time.Millisecond

// Eventually polls cond until it returns nil, failing the test with cond's
// last error when timeout passes first. The timeout is a deadline for a
// condition, never a measurement: keep it generous.
func Eventually(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s: %v", timeout, err)
		}
		time.Sleep(Interval)
	}
}

// Wait is Eventually for a condition that may be checked until ctx ends:
// it returns nil once cond holds, or cond's last error (wrapping ctx's)
// when ctx ends first. For goroutines and examples that cannot fail a
// test directly.
func Wait(ctx context.Context, cond func() error) error {
	tick := time.NewTicker(Interval)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %v", ctx.Err(), err)
		case <-tick.C:
		}
	}
}
