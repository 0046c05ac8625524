package replication

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/hashicorp/go-hclog"
	blockstore "github.com/ipfs/boxo/blockstore"
	dshelp "github.com/ipfs/boxo/datastore/dshelp"
	dag "github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	crdtpb "github.com/ipfs/go-ds-crdt/pb"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

// guardWorld is a store with go-ds-crdt's set layout under /db/x/s and a
// blockstore of deltas, for driving the merge guard by hand: what two of
// go-ds-crdt's merges write, interleaved as its workers can interleave
// them.
type guardWorld struct {
	t      *testing.T
	ctx    context.Context
	store  ds.Batching
	blocks blockstore.Blockstore
	g      *mergeGuard
}

const guardKey = "/d/c/doc/f/t"

func newGuardWorld(t *testing.T) *guardWorld {
	store := dssync.MutexWrap(ds.NewMapDatastore())
	w := &guardWorld{t: t, ctx: context.Background(), store: store, blocks: blockstore.NewBlockstore(store)}
	w.g = newMergeGuard(store, "/db/x", w.blocks, hclog.NewNullLogger(), nil)
	return w
}

// delta stores a delta block putting value at guardKey with priority prio
// and returns its block id, as go-ds-crdt names elements by it.
func (w *guardWorld) delta(prio uint64, value string) string {
	d := &crdtpb.Delta{Priority: prio, Elements: []*crdtpb.Element{{Key: guardKey, Value: []byte(value)}}}
	data, err := proto.Marshal(d)
	require.NoError(w.t, err)
	nd := dag.NodeWithData(data)
	require.NoError(w.t, nd.SetCidBuilder(cid.V1Builder{Codec: cid.DagProtobuf, MhType: 0x12}))
	require.NoError(w.t, w.blocks.Put(w.ctx, nd))
	return dshelp.MultihashToDsKey(nd.Cid().Hash()).String()
}

func (w *guardWorld) batch() ds.Batch {
	b, err := w.g.Batch(w.ctx)
	require.NoError(w.t, err)
	return b
}

func (w *guardWorld) put(b ds.Batch, k string, v []byte) {
	require.NoError(w.t, b.Put(w.ctx, ds.NewKey(k), v))
}

func (w *guardWorld) del(b ds.Batch, k string) {
	require.NoError(w.t, b.Delete(w.ctx, ds.NewKey(k)))
}

// addElem is what putElems writes for an element it judged the best.
func (w *guardWorld) addElem(b ds.Batch, id string, prio uint64, value string) {
	w.put(b, "/db/x/s/s"+guardKey+id, nil)
	w.put(b, "/db/x/s/k"+guardKey+"/v", []byte(value))
	w.put(b, "/db/x/s/k"+guardKey+"/p", binary.AppendUvarint(nil, prio+1))
}

// tomb is what putTombs writes when it found no other live element.
func (w *guardWorld) tomb(b ds.Batch, id string) {
	w.del(b, "/db/x/s/k"+guardKey+"/v")
	w.del(b, "/db/x/s/k"+guardKey+"/p")
	w.put(b, "/db/x/s/t"+guardKey+id, nil)
}

func (w *guardWorld) value() (string, bool) {
	v, err := w.store.Get(w.ctx, ds.NewKey("/db/x/s/k"+guardKey+"/v"))
	if err == ds.ErrNotFound {
		return "", false
	}
	require.NoError(w.t, err)
	return string(v), true
}

// A tombstone and the element it removes merge at once: putElems judged
// the element live before the tombstone committed and commits last. The
// element's value would come back; the guard repairs it away.
func TestMergeGuardTombstonedValueDoesNotComeBack(t *testing.T) {
	w := newGuardWorld(t)
	x := w.delta(1, "x")
	elems, tombs := w.batch(), w.batch()
	w.addElem(elems, x, 1, "x")
	w.tomb(tombs, x)
	require.NoError(t, tombs.Commit(w.ctx))
	require.NoError(t, elems.Commit(w.ctx))
	_, ok := w.value()
	require.False(t, ok, "a tombstoned element's value is visible")
	require.EqualValues(t, 1, w.g.repairs.Load())
}

// A tombstone of one element merges while another element of the key is
// added: putTombs found no other element and deletes the value after the
// new one was set. The live element's value would be lost; the guard
// puts it back.
func TestMergeGuardLiveValueIsNotLost(t *testing.T) {
	w := newGuardWorld(t)
	x, y := w.delta(1, "x"), w.delta(2, "y")
	first := w.batch()
	w.addElem(first, x, 1, "x")
	require.NoError(t, first.Commit(w.ctx))
	elems, tombs := w.batch(), w.batch()
	w.addElem(elems, y, 2, "y")
	require.NoError(t, elems.Commit(w.ctx))
	w.tomb(tombs, x)
	require.NoError(t, tombs.Commit(w.ctx))
	v, ok := w.value()
	require.True(t, ok, "the live element's value is lost")
	require.Equal(t, "y", v)
}

// Merges that never overlap are go-ds-crdt's serial case: nothing is
// repaired, and their result stands.
func TestMergeGuardSerialMergesCostNoRepair(t *testing.T) {
	w := newGuardWorld(t)
	x, y := w.delta(1, "x"), w.delta(2, "y")
	for _, step := range []func(ds.Batch){
		func(b ds.Batch) { w.addElem(b, x, 1, "x") },
		func(b ds.Batch) { w.addElem(b, y, 2, "y") },
		func(b ds.Batch) { w.put(b, "/db/x/s/t"+guardKey+x, nil) }, // y stays the best
	} {
		b := w.batch()
		step(b)
		require.NoError(t, b.Commit(w.ctx))
	}
	v, _ := w.value()
	require.Equal(t, "y", v)
	require.Zero(t, w.g.repairs.Load())
}

// Ties go to the larger value, and an element of a longer key sharing
// the prefix is not taken for one of this key.
func TestMergeGuardRepairFollowsGoDsCrdtRule(t *testing.T) {
	w := newGuardWorld(t)
	a, b := w.delta(3, "a"), w.delta(3, "b")
	w.put(w.batch(), "/db/x/s/s"+guardKey+"/sub"+a, nil) // never committed: must not matter
	one, two := w.batch(), w.batch()
	w.addElem(one, a, 3, "a")
	w.put(two, "/db/x/s/s"+guardKey+b, nil) // judged lower: no value written
	require.NoError(t, two.Commit(w.ctx))
	require.NoError(t, one.Commit(w.ctx))
	v, _ := w.value()
	require.Equal(t, "b", v, "equal priorities: the larger value wins")
}

func TestMergeGuardSetKey(t *testing.T) {
	g := newMergeGuard(nil, "/db/x", nil, hclog.NewNullLogger(), nil)
	for in, want := range map[string]string{
		"/db/x/s/s/d/c/doc/CIQA":  "/d/c/doc",
		"/db/x/s/t/d/c/doc/CIQA":  "/d/c/doc",
		"/db/x/s/k/d/c/doc/v":     "/d/c/doc",
		"/db/x/s/k/d/c/doc/f/t/p": "/d/c/doc/f/t",
		"/db/x/h/CIQA":            "",
		"/db/x/b/CIQA":            "",
		"/db/x/s/z/d/c":           "",
		"/db/y/s/k/d/c/doc/v":     "",
		"/db/x/s/k":               "",
	} {
		got, ok := g.setKey(in)
		require.Equal(t, want != "", ok, in)
		require.Equal(t, want, got, in)
	}
}
