package replication

import (
	"context"
	"fmt"
	"testing"

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
	q := NewQuarantine(disk, 100, nil)

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
	require.Equal(t, 80, q.HeldBytes())

	// Over the bound, the oldest held block goes.
	require.NoError(t, q.Put(ctx, c))
	require.Equal(t, 80, q.HeldBytes())
	has, err := q.Has(ctx, a.Cid())
	require.NoError(t, err)
	require.False(t, has, "the oldest block was evicted")

	// Admitted: on disk, no longer held, and announced.
	var admitted []cid.Cid
	q.onAdmit = func(_ context.Context, blk blocks.Block) { admitted = append(admitted, blk.Cid()) }
	require.NoError(t, q.Admit(ctx, b))
	require.Equal(t, []cid.Cid{b.Cid()}, admitted)
	onDisk, err := disk.Has(ctx, b.Cid())
	require.NoError(t, err)
	require.True(t, onDisk)
	require.Equal(t, 40, q.HeldBytes())
	// Admitting a block evicted meanwhile still stores it.
	require.NoError(t, q.Admit(ctx, a))
	onDisk, err = disk.Has(ctx, a.Cid())
	require.NoError(t, err)
	require.True(t, onDisk)

	// Refused: forgotten.
	q.Reject(c.Cid())
	require.Zero(t, q.HeldBytes())
	has, err = q.Has(ctx, c.Cid())
	require.NoError(t, err)
	require.False(t, has)

	// A block already stored is not held again (rebroadcasts resend them).
	require.NoError(t, q.Put(ctx, b))
	require.Zero(t, q.HeldBytes(), "a stored block was held again")

	// A block larger than the whole quarantine is not held at all.
	big := testBlock(t, fmt.Sprintf("%0200d", 1))
	require.NoError(t, q.Put(ctx, big))
	require.Zero(t, q.HeldBytes())
}
