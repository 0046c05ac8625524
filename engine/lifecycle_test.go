package engine_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/enginetest"
)

// Every call on a closed engine returns ErrClosed; none touches the closed
// store (pebble panics on use after close).
func TestClosedEngineRefusesCalls(t *testing.T) {
	ctx := context.Background()
	e, err := engine.New(ctx, engine.WithDataDir(t.TempDir()), engine.WithListenAddrs("/ip4/127.0.0.1/tcp/0"))
	require.NoError(t, err)
	db, err := e.Create(ctx, "d")
	require.NoError(t, err)
	addr := db.Address()
	require.NoError(t, e.Close())

	_, err = e.Create(ctx, "other")
	require.ErrorIs(t, err, engine.ErrClosed)
	_, err = e.Open(ctx, addr)
	require.ErrorIs(t, err, engine.ErrClosed)
	_, err = e.Databases(ctx)
	require.ErrorIs(t, err, engine.ErrClosed)
	require.ErrorIs(t, e.Drop(ctx, addr), engine.ErrClosed)
	_, err = db.Collection("c").InsertOne(ctx, engine.M{})
	require.ErrorIs(t, err, engine.ErrClosed)
}

// Closing an engine while writers are busy: each write either returns
// success or ErrClosed, and every write that returned success is on disk
// when the engine is opened again.
func TestCloseDuringWrites(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	e, err := engine.New(ctx, engine.WithDataDir(dir), engine.WithListenAddrs("/ip4/127.0.0.1/tcp/0"))
	require.NoError(t, err)
	db, err := e.Create(ctx, "busy", engine.WithAccess(accesscontrol.Open()))
	require.NoError(t, err)
	c := db.Collection("c")

	var mu sync.Mutex
	var acked []string
	var wg sync.WaitGroup
	started := make(chan struct{}, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				id := fmt.Sprintf("w%d-%d", w, i)
				_, err := c.InsertOne(ctx, engine.M{"_id": id})
				if err != nil {
					if !errors.Is(err, engine.ErrClosed) {
						t.Errorf("writer %d: %v", w, err)
					}
					return
				}
				mu.Lock()
				acked = append(acked, id)
				mu.Unlock()
				if i == 10 {
					started <- struct{}{}
				}
			}
		}()
	}
	for w := 0; w < 8; w++ {
		<-started
	}
	require.NoError(t, e.Close())
	wg.Wait()

	e2 := enginetest.NewEngineAt(t, dir)
	db2 := enginetest.Open(t, e2, db.Address())
	n, err := db2.Collection("c").CountDocuments(ctx, nil)
	require.NoError(t, err)
	require.EqualValues(t, len(acked), n)
	for _, id := range acked {
		require.True(t, has(db2.Collection("c"), id), "acknowledged write %s lost", id)
	}
}

// Close does not wait for an Open that is fetching a manifest nobody has:
// the Open ends with an error instead.
func TestCloseCutsShortAPendingOpen(t *testing.T) {
	e, err := engine.New(context.Background(), engine.WithInMemory(), engine.WithListenAddrs("/ip4/127.0.0.1/tcp/0"))
	require.NoError(t, err)
	mh, err := multihash.Sum([]byte("a manifest no peer has"), multihash.SHA2_256, -1)
	require.NoError(t, err)
	addr := "/lattice/" + cid.NewCidV1(cid.DagJSON, mh).String() + "/nowhere"

	opened := make(chan error, 1)
	go func() {
		_, err := e.Open(context.Background(), addr) // no deadline of its own
		opened <- err
	}()
	closed := make(chan error, 1)
	go func() { closed <- e.Close() }()
	select {
	case err := <-closed:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("Close is stuck behind a pending Open")
	}
	require.Error(t, <-opened)
}
