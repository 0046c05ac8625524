package poll_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latticedb/lattice/internal/poll"
)

func TestEventuallyReturnsOnceTheConditionHolds(t *testing.T) {
	var calls atomic.Int32
	poll.Eventually(t, 10*time.Second, func() error {
		if calls.Add(1) < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if n := calls.Load(); n != 3 {
		t.Fatalf("cond called %d times, want 3", n)
	}
}

func TestWaitGivesUpWithTheLastError(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*poll.Interval)
	defer cancel()
	err := poll.Wait(ctx, func() error { return errors.New("still broken") })
	if !errors.Is(err, context.DeadlineExceeded) || err == nil || !strings.Contains(err.Error(), "still broken") {
		t.Fatalf("Wait = %v, want the deadline and the condition's error", err)
	}
}
