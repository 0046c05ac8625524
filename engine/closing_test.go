package engine

import (
	"context"
	"fmt"
	"testing"
	"time"

	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"
	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/internal/poll"
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

// Open of an address whose CID names a block that is no manifest fails
// and keeps nothing on disk: a peer that holds no address of A's gets no
// such block from A (A's bitswap serves it only manifests of open
// databases); one that does gets it, and it is refused as no manifest.
func TestOpenOfANonManifestStoresNothing(t *testing.T) {
	ctx := context.Background()
	newPeer := func() *Engine {
		e, err := New(ctx, WithInMemory(), WithListenAddrs("/ip4/127.0.0.1/tcp/0"))
		require.NoError(t, err)
		t.Cleanup(func() { _ = e.Close() })
		return e
	}
	a, b := newPeer(), newPeer()
	require.NoError(t, b.Connect(ctx, peer.AddrInfo{ID: a.ID(), Addrs: a.Host().Addrs()}))
	db, err := a.Create(ctx, "notes", WithAccess(accesscontrol.Open()))
	require.NoError(t, err)
	// A dag-json block that A stores but that is no manifest.
	data := []byte(`{"name":"notes","type":"not-a-database"}`)
	c, err := cid.Prefix{Version: 1, Codec: cid.DagJSON, MhType: mh.SHA2_256, MhLength: -1}.Sum(data)
	require.NoError(t, err)
	junk, err := blocks.NewBlockWithCid(data, c)
	require.NoError(t, err)
	require.NoError(t, a.node.Put(ctx, junk))

	// A bound on the attempt, not a timing assertion: A never answers.
	sctx, scancel := context.WithTimeout(ctx, 3*time.Second)
	defer scancel()
	_, err = b.Open(sctx, "/lattice/"+c.String()+"/notes")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.False(t, StoresBlock(b, c), "the non-manifest block was stored")

	// The real manifest is served to anyone, and stored once opened.
	octx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err = b.Open(octx, db.Address())
	require.NoError(t, err)
	require.True(t, StoresBlock(b, db.addr.Manifest))
	poll.Eventually(t, 30*time.Second, func() error {
		if !a.node.Admitted(b.ID(), db.addr.Manifest) {
			return fmt.Errorf("b not admitted at a yet")
		}
		return nil
	})
	_, err = b.Open(octx, "/lattice/"+c.String()+"/notes")
	require.ErrorIs(t, err, ErrBadManifest)
	require.False(t, StoresBlock(b, c), "the non-manifest block was stored")
}
