package replication

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/boxo/exchange/offline"
	dag "github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	crdtpb "github.com/ipfs/go-ds-crdt/pb"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/crdt"
)

// recordingACL is a Replicated controller that records the entries fed to
// it.
type recordingACL struct {
	mu      sync.Mutex
	entries [][]byte
}

func (r *recordingACL) Type() string                                        { return "recording" }
func (r *recordingACL) CanWrite(context.Context, accesscontrol.Write) error { return nil }
func (r *recordingACL) Apply(e []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.entries = append(r.entries, e)
	return nil
}
func (r *recordingACL) Entries() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.entries...)
}

// The walk for access-control entries below a delta is bounded per
// validation; when it stops, the next one must resume where it stopped.
// Before the frontier, the nodes left in the queue were marked scanned but
// never expanded, so an entry deeper than one walk was never found: a
// writer granted far below its head stayed refused on a catching-up
// replica forever.
func TestACLWalkResumesWhereItStopped(t *testing.T) {
	ctx := context.Background()
	bs := blockstore.NewBlockstore(dssync.MutexWrap(ds.NewMapDatastore()))
	dagSvc := dag.NewDAGService(blockservice.New(bs, offline.Exchange(bs)))
	node := func(key, value string, parent *dag.ProtoNode) *dag.ProtoNode {
		b, err := proto.Marshal(&crdtpb.Delta{Elements: []*crdtpb.Element{{Key: key, Value: []byte(value)}}, Priority: 1})
		require.NoError(t, err)
		nd := dag.NodeWithData(b)
		if parent != nil {
			require.NoError(t, nd.AddNodeLink("", parent))
		}
		require.NoError(t, dagSvc.Add(ctx, nd))
		return nd
	}
	// grant <- 9 ordinary deltas <- head
	cur := node(crdt.ACLPrefix()+"/grant", "the grant", nil)
	for i := 0; i < 9; i++ {
		cur = node(fmt.Sprintf("/d/c/s%d", i), "{}", cur)
	}
	head := node("/d/c/head", "{}", cur)
	headDelta, err := decodeDelta(head)
	require.NoError(t, err)

	acl := &recordingACL{}
	v := NewValidatingDAG(dagSvc, dagSvc, NewQuarantine(bs, 1<<20, nil), ValidatorConfig{Database: "/lattice/x/walk", Access: acl, MaxACLWalk: 2})
	found := func() bool {
		for _, e := range acl.Entries() {
			if string(e) == "the grant" {
				return true
			}
		}
		return false
	}
	// Each validation of the head (go-ds-crdt retries a refused head on
	// every announcement) walks at most two more blocks.
	for i := 0; i < 10 && !found(); i++ {
		v.applyACLBelow(ctx, acl, nil, head, headDelta)
	}
	require.True(t, found(), "the grant 10 blocks down was never applied")
	v.applyACLBelow(ctx, acl, nil, head, headDelta)
	require.Empty(t, v.frontier, "the whole history is scanned")
}

// A walk that asks for a block that is neither stored nor held tells
// ValidatorConfig.Missing, so a catch-up can start (issue 8); local blocks
// never do.
func TestValidatingDAGReportsMissingBlocks(t *testing.T) {
	ctx := context.Background()
	bs := blockstore.NewBlockstore(dssync.MutexWrap(ds.NewMapDatastore()))
	dagSvc := dag.NewDAGService(blockservice.New(bs, offline.Exchange(bs)))
	local := dag.NodeWithData([]byte("local"))
	require.NoError(t, dagSvc.Add(ctx, local))
	held := NewQuarantine(bs, 1<<20, nil)
	inQuarantine := dag.NodeWithData([]byte("held"))
	require.NoError(t, held.Put(ctx, inQuarantine))
	absent := dag.NodeWithData([]byte("absent")).Cid()

	var missing []string
	v := NewValidatingDAG(dagSvc, dagSvc, held, ValidatorConfig{
		Database: "/lattice/x/missing", Access: &recordingACL{},
		Missing: func(c cid.Cid, _ int) { missing = append(missing, c.String()) },
	})
	_, _ = v.Get(ctx, local.Cid())
	_, _ = v.Get(ctx, inQuarantine.Cid())
	require.Empty(t, missing, "local blocks are not missing")
	_, err := v.Get(ctx, absent)
	require.Error(t, err)
	require.Equal(t, []string{absent.String()}, missing)
	for range v.Session(ctx).GetMany(ctx, []cid.Cid{local.Cid(), absent}) {
	}
	require.Equal(t, []string{absent.String(), absent.String()}, missing, "a session's GetMany reports the first missing block")
}

// Missing's depth counts the missing blocks in a row a walk went down: a
// gap below a local delta is 1 deep, the next missing block below a
// fetched one 2.
func TestValidatingDAGMissingDepth(t *testing.T) {
	ctx := context.Background()
	bs := blockstore.NewBlockstore(dssync.MutexWrap(ds.NewMapDatastore()))
	dagSvc := dag.NewDAGService(blockservice.New(bs, offline.Exchange(bs)))
	node := func(key string, parent *dag.ProtoNode) *dag.ProtoNode {
		d := &crdtpb.Delta{Elements: []*crdtpb.Element{{Key: key, Value: []byte("{}")}}, Priority: 1}
		b, err := proto.Marshal(d)
		require.NoError(t, err)
		nd := dag.NodeWithData(b)
		if parent != nil {
			require.NoError(t, nd.AddNodeLink("", parent))
		}
		return nd
	}
	// The deltas are unsigned, so check refuses them: the test records
	// their links as check does for each delta it admits.
	c := node("/d/c/c", nil)
	b := node("/d/c/b", c)
	a := node("/d/c/a", b)
	require.NoError(t, dagSvc.Add(ctx, a))
	depths := map[string]int{}
	v := NewValidatingDAG(dagSvc, dagSvc, NewQuarantine(bs, 1<<20, nil), ValidatorConfig{
		Database: "/lattice/x/depth", Access: &recordingACL{},
		Missing: func(m cid.Cid, depth int) { depths[m.String()] = depth },
	})
	v.noteLinks(a)
	_, _ = v.Get(ctx, b.Cid())
	require.Equal(t, 1, depths[b.Cid().String()], "b is missing below a local delta")
	require.NoError(t, dagSvc.Add(ctx, b)) // bitswap brings it
	v.noteLinks(b)
	_, _ = v.Get(ctx, c.Cid())
	require.Equal(t, 2, depths[c.Cid().String()], "c is missing below b, which was missing")
}
