package engine

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A caller that leads a commit group returns once its own group is
// committed, not after every group queued behind it: before leadership was
// handed on, a steady stream of writers could hold one caller (an HTTP
// request, say) indefinitely.
func TestLeaderReturnsAfterItsOwnGroup(t *testing.T) {
	ctx := context.Background()
	e, err := New(ctx, WithInMemory(), WithListenAddrs("/ip4/127.0.0.1/tcp/0"))
	require.NoError(t, err)
	defer func() { require.NoError(t, e.Close()) }()
	db, err := e.Create(ctx, "w")
	require.NoError(t, err)

	inFirst, releaseFirst := make(chan struct{}), make(chan struct{})
	inSecond, releaseSecond := make(chan struct{}), make(chan struct{})
	var release sync.Once
	defer release.Do(func() { close(releaseSecond) }) // before Close, on failure too
	first := make(chan error, 1)
	go func() {
		first <- db.write(ctx, func(*txn) error {
			close(inFirst)
			<-releaseFirst
			return nil
		})
	}()
	<-inFirst // the first caller leads and is inside its group
	second := make(chan error, 1)
	go func() {
		second <- db.write(ctx, func(*txn) error {
			close(inSecond)
			<-releaseSecond
			return nil
		})
	}()
	// The second request is queued behind the running group.
	require.Eventually(t, func() bool {
		db.wq.mu.Lock()
		defer db.wq.mu.Unlock()
		return len(db.wq.pending) == 1
	}, 10*time.Second, time.Millisecond)
	close(releaseFirst)
	<-inSecond // the second group runs, and blocks
	select {
	case err := <-first:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the first caller is still leading the second caller's group")
	}
	release.Do(func() { close(releaseSecond) })
	require.NoError(t, <-second)
}
