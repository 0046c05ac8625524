package replication

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/ipfs/boxo/blockstore"
	dshelp "github.com/ipfs/boxo/datastore/dshelp"
	dag "github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	crdtpb "github.com/ipfs/go-ds-crdt/pb"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

// TestJournalRecover: of three journaled heads, the interrupted one (its
// top marked processed, no head recorded) becomes a head again with the
// store marked dirty, the one never started is handed back, and the one
// that finished is only forgotten. The journal is empty afterwards.
func TestJournalRecover(t *testing.T) {
	ctx := context.Background()
	store := dssync.MutexWrap(ds.NewMapDatastore())
	bs := blockstore.NewBlockstore(store)
	ns := ds.NewKey("/db/x")
	j := NewJournal(store, ns)
	block := func(prio uint64, tag string) cid.Cid {
		b, err := proto.Marshal(&crdtpb.Delta{Priority: prio, Elements: []*crdtpb.Element{{Key: "/k", Value: []byte(tag)}}})
		require.NoError(t, err)
		nd := dag.NodeWithData(b)
		require.NoError(t, bs.Put(ctx, nd))
		return nd.Cid()
	}
	mh := func(c cid.Cid) ds.Key { return dshelp.MultihashToDsKey(c.Hash()) }
	interrupted, unstarted, finished := block(7, "a"), block(8, "b"), block(9, "c")
	for _, c := range []cid.Cid{interrupted, unstarted, finished} {
		require.NoError(t, j.Begin(ctx, c))
	}
	require.NoError(t, store.Put(ctx, ns.ChildString("b").Child(mh(interrupted)), nil))
	require.NoError(t, store.Put(ctx, ns.ChildString("b").Child(mh(finished)), nil))
	require.NoError(t, store.Put(ctx, ns.ChildString("h").Child(mh(finished)), binary.AppendUvarint(nil, 9)))

	retry, err := j.Recover(ctx, bs)
	require.NoError(t, err)
	require.Equal(t, []cid.Cid{unstarted}, retry)
	height, err := store.Get(ctx, ns.ChildString("h").Child(mh(interrupted)))
	require.NoError(t, err, "the interrupted branch is a head again")
	require.Equal(t, binary.AppendUvarint(nil, 7), height, "at its own height")
	dirty, err := store.Has(ctx, ns.ChildString("d"))
	require.NoError(t, err)
	require.True(t, dirty, "the store is marked for go-ds-crdt's repair")
	again, err := j.Recover(ctx, bs)
	require.NoError(t, err)
	require.Empty(t, again, "recovered entries are cleared")
}
