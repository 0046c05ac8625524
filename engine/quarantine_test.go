package engine

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ipfs/boxo/blockstore"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/stretchr/testify/require"
)

func TestQuarantine(t *testing.T) {
	ctx := context.Background()
	disk := blockstore.NewBlockstore(dssync.MutexWrap(ds.NewMapDatastore()))
	q := newQuarantine(disk, 100)

	a, b, c := testBlock(t, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), testBlock(t, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"), testBlock(t, "cccccccccccccccccccccccccccccccccccccccc")
	require.NoError(t, q.PutMany(ctx, []blocks.Block{a, b}))
	for _, blk := range []blocks.Block{a, b} {
		has, err := q.Has(ctx, blk.Cid())
		require.NoError(t, err)
		require.True(t, has, "a held block is readable")
		got, err := q.Get(ctx, blk.Cid())
		require.NoError(t, err)
		require.Equal(t, blk.RawData(), got.RawData())
		onDisk, err := disk.Has(ctx, blk.Cid())
		require.NoError(t, err)
		require.False(t, onDisk, "a held block is not on disk")
	}
	require.Equal(t, 80, q.heldBytes())

	// Over the bound, the oldest held block goes.
	require.NoError(t, q.Put(ctx, c))
	require.Equal(t, 80, q.heldBytes())
	has, err := q.Has(ctx, a.Cid())
	require.NoError(t, err)
	require.False(t, has, "the oldest block was evicted")

	// Admitted: on disk, no longer held, and announced.
	var admitted []cid.Cid
	q.onAdmit = func(_ context.Context, blk blocks.Block) { admitted = append(admitted, blk.Cid()) }
	require.NoError(t, q.admit(ctx, b))
	require.Equal(t, []cid.Cid{b.Cid()}, admitted)
	onDisk, err := disk.Has(ctx, b.Cid())
	require.NoError(t, err)
	require.True(t, onDisk)
	require.Equal(t, 40, q.heldBytes())
	// Admitting a block evicted meanwhile still stores it.
	require.NoError(t, q.admit(ctx, a))
	onDisk, err = disk.Has(ctx, a.Cid())
	require.NoError(t, err)
	require.True(t, onDisk)

	// Refused: forgotten.
	q.reject(c.Cid())
	require.Zero(t, q.heldBytes())
	has, err = q.Has(ctx, c.Cid())
	require.NoError(t, err)
	require.False(t, has)

	// A block already stored is not held again (rebroadcasts resend them).
	require.NoError(t, q.Put(ctx, b))
	require.Zero(t, q.heldBytes(), "a stored block was held again")

	// A block larger than the whole quarantine is not held at all.
	big := testBlock(t, fmt.Sprintf("%0200d", 1))
	require.NoError(t, q.Put(ctx, big))
	require.Zero(t, q.heldBytes())
}

// A queued head whose block the quarantine evicted before go-ds-crdt took
// it goes back to the background fetch (bounded by the fetch timeout)
// instead of to go-ds-crdt, whose own fetch would hold up every later head
// for minutes.
func TestEvictedQueuedHeadIsFetchedAgain(t *testing.T) {
	ctx := context.Background()
	e, err := New(ctx, WithInMemory(), WithListenAddrs("/ip4/127.0.0.1/tcp/0"), WithFetchTimeout(200*time.Millisecond))
	require.NoError(t, err)
	defer e.Close()
	db, err := e.Create(ctx, "notes")
	require.NoError(t, err)

	// Queued as present, gone (evicted) by the time go-ds-crdt asks.
	blk := testBlock(t, "a head nobody serves")
	db.bc.enqueue(blk.Cid(), e.ID())

	deadline := time.Now().Add(30 * time.Second)
	for db.Stats().FetchFailures == 0 {
		require.True(t, time.Now().Before(deadline), "the evicted head was not fetched again")
		time.Sleep(10 * time.Millisecond)
	}
}
