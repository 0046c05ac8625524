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

// blockWrites starts a write that holds the database's write path until
// the returned release is called, and returns once it does hold it.
func blockWrites(t *testing.T, db *Database) (release func(), done <-chan error) {
	t.Helper()
	in, out := make(chan struct{}), make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- db.write(context.Background(), func(*txn) error {
			close(in)
			<-out
			return nil
		})
	}()
	<-in
	var once sync.Once
	release = func() { once.Do(func() { close(out) }) }
	t.Cleanup(release)
	return release, errc
}

// queued waits until n requests wait behind the running group.
func queued(t *testing.T, db *Database, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		db.wq.mu.Lock()
		defer db.wq.mu.Unlock()
		return len(db.wq.pending) == n
	}, 10*time.Second, time.Millisecond)
}

// A write queued behind a slow one whose caller gives up is dropped: the
// caller sees its context's error at once, and the write never lands (a
// client that timed out and retries an insert without _id would otherwise
// find two documents).
func TestAbandonedQueuedWriteIsDropped(t *testing.T) {
	ctx := context.Background()
	e, err := New(ctx, WithInMemory(), WithListenAddrs("/ip4/127.0.0.1/tcp/0"))
	require.NoError(t, err)
	defer func() { require.NoError(t, e.Close()) }()
	db, err := e.Create(ctx, "w")
	require.NoError(t, err)
	c := db.Collection("c")

	release, first := blockWrites(t, db)
	wctx, cancel := context.WithCancel(ctx)
	abandoned := make(chan error, 1)
	go func() {
		_, err := c.InsertOne(wctx, M{"_id": "gone"})
		abandoned <- err
	}()
	queued(t, db, 1)
	cancel()
	require.ErrorIs(t, <-abandoned, context.Canceled) // before the slow write ends
	queued(t, db, 0)                                  // withdrawn from the queue
	release()
	require.NoError(t, <-first)

	// The write path still works, and the abandoned insert is not there.
	_, err = c.InsertOne(ctx, M{"_id": "kept"})
	require.NoError(t, err)
	require.ErrorIs(t, c.FindByID(ctx, "gone").Err(), ErrNoDocuments)
	n, err := c.CountDocuments(ctx, nil)
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
}

// A write already taken into a commit group whose caller gives up before
// the write runs is dropped too, and the rest of the group commits.
func TestAbandonedWriteInGroupIsDropped(t *testing.T) {
	ctx := context.Background()
	e, err := New(ctx, WithInMemory(), WithListenAddrs("/ip4/127.0.0.1/tcp/0"))
	require.NoError(t, err)
	defer func() { require.NoError(t, e.Close()) }()
	db, err := e.Create(ctx, "w")
	require.NoError(t, err)
	c := db.Collection("c")

	releaseFirst, first := blockWrites(t, db)
	// Queue a write that will lead the next group and block in it, and
	// behind it the write whose caller will give up.
	inLeader, releaseLeader := make(chan struct{}), make(chan struct{})
	var once sync.Once
	defer once.Do(func() { close(releaseLeader) })
	leader := make(chan error, 1)
	go func() {
		leader <- db.write(ctx, func(t *txn) error {
			close(inLeader)
			<-releaseLeader
			return c.insert(t, M{"_id": "leader"})
		})
	}()
	queued(t, db, 1)
	wctx, cancel := context.WithCancel(ctx)
	abandoned := make(chan error, 1)
	go func() {
		_, err := c.InsertOne(wctx, M{"_id": "gone"})
		abandoned <- err
	}()
	queued(t, db, 2)
	releaseFirst()
	require.NoError(t, <-first)
	<-inLeader       // the next group runs, holding both
	queued(t, db, 0) // both were taken into it
	cancel()
	once.Do(func() { close(releaseLeader) })
	require.NoError(t, <-leader)
	require.ErrorIs(t, <-abandoned, context.Canceled)

	require.NoError(t, c.FindByID(ctx, "leader").Err())
	require.ErrorIs(t, c.FindByID(ctx, "gone").Err(), ErrNoDocuments)
}

// A caller handed the leadership of the next group that gives up at that
// moment hands it on (or ends the queue's activity when nobody waits), so
// the queue never waits on a caller that has gone.
func TestWithdrawHandsLeadershipOn(t *testing.T) {
	db := &Database{}
	req := func() *writeReq {
		return &writeReq{ctx: context.Background(), done: make(chan error, 1), lead: make(chan struct{})}
	}
	gone, next := req(), req()
	db.wq.active = true
	db.wq.pending = []*writeReq{gone, next}
	close(gone.lead) // the last group's leader handed it on
	require.True(t, db.withdraw(gone))
	require.Equal(t, []*writeReq{next}, db.wq.pending)
	select {
	case <-next.lead:
	default:
		t.Fatal("leadership was not handed on")
	}
	require.True(t, db.wq.active)

	// The last one queued gives up after being handed leadership.
	require.True(t, db.withdraw(next))
	require.Empty(t, db.wq.pending)
	require.False(t, db.wq.active)

	// A request a group has taken is not withdrawn.
	require.False(t, db.withdraw(gone))

	// A queued request not yet leading is withdrawn without a hand-over.
	a, b := req(), req()
	db.wq.active = true
	db.wq.pending = []*writeReq{a, b}
	require.True(t, db.withdraw(b))
	require.Equal(t, []*writeReq{a}, db.wq.pending)
	select {
	case <-a.lead:
		t.Fatal("leadership handed on by a request that did not hold it")
	default:
	}
}
