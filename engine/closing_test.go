package engine

import (
	"context"
	"testing"

	ds "github.com/ipfs/go-datastore"
	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/accesscontrol"
)

// Open of a database whose Close has begun waits for the close to finish
// and opens it anew, rather than returning the instance shutting down.
func TestOpenDuringCloseOpensAnew(t *testing.T) {
	ctx := context.Background()
	e, err := New(ctx, WithDataDir(t.TempDir()), WithListenAddrs("/ip4/127.0.0.1/tcp/0"))
	require.NoError(t, err)
	defer e.Close()
	old, err := e.Create(ctx, "notes", WithAccess(accesscontrol.Open()))
	require.NoError(t, err)
	_, err = old.Collection("c").InsertOne(ctx, M{"_id": "kept"})
	require.NoError(t, err)

	// Close has begun: the instance is marked closed but still registered
	// (stop has not run yet).
	old.closed.Store(true)
	_, listed := e.Database(old.Address())
	require.False(t, listed, "a closing database is not reported open")

	opened := make(chan *Database, 1)
	failed := make(chan error, 1)
	go func() {
		db, err := e.Open(ctx, old.Address())
		if err != nil {
			failed <- err
			return
		}
		opened <- db
	}()
	require.NoError(t, old.Close())

	select {
	case err := <-failed:
		t.Fatal(err)
	case db := <-opened:
		require.NotSame(t, old, db, "Open returned the closed instance")
		n, err := db.Collection("c").CountDocuments(ctx, nil)
		require.NoError(t, err)
		require.EqualValues(t, 1, n, "the reopened database has its data")
		_, err = db.Collection("c").InsertOne(ctx, M{"_id": "after"})
		require.NoError(t, err)
	}
}

// Open of a database that is being dropped waits for the drop, then opens
// it anew (its manifest block stays), registered again: it never runs over
// a namespace that Drop is deleting.
func TestOpenWaitsForDrop(t *testing.T) {
	ctx := context.Background()
	e, err := New(ctx, WithDataDir(t.TempDir()), WithListenAddrs("/ip4/127.0.0.1/tcp/0"))
	require.NoError(t, err)
	defer e.Close()
	db, err := e.Create(ctx, "notes", WithAccess(accesscontrol.Open()))
	require.NoError(t, err)
	addr := db.Address()

	// Drop's steps, with Open started between them.
	release, ok := e.markBusy(db.addr.Manifest.String())
	require.True(t, ok)
	require.NoError(t, db.Close())
	opened := make(chan error, 1)
	go func() {
		_, err := e.Open(ctx, addr)
		opened <- err
	}()
	require.NoError(t, e.store.Delete(ctx, ds.NewKey(dbRegistryPrefix+"/"+db.addr.Manifest.String())))
	release()
	require.NoError(t, <-opened)

	_, open := e.Database(addr)
	require.True(t, open)
	infos, err := e.Databases(ctx)
	require.NoError(t, err)
	require.Len(t, infos, 1, "the database Open reopened is registered")
	require.Equal(t, addr, infos[0].Address)

	// The real thing: Drop then Open leaves it open and registered, and a
	// second Drop removes it.
	require.NoError(t, e.Drop(ctx, addr))
	_, err = e.Open(ctx, addr)
	require.NoError(t, err)
	require.NoError(t, e.Drop(ctx, addr))
	infos, err = e.Databases(ctx)
	require.NoError(t, err)
	require.Empty(t, infos)
}
