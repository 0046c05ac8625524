package replication

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"
	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/crdt"
	"github.com/latticedb/lattice/internal/poll"
)

// peerEvents is a ReplicaDelegate that admits every author and records
// the peers that joined.
type peerEvents struct{ joined chan peer.ID }

func (peerEvents) CanAnnounce(context.Context, peer.ID) error { return nil }
func (d peerEvents) PeerJoined(p peer.ID) {
	select {
	case d.joined <- p:
	default:
	}
}
func (peerEvents) PeerLeft(peer.ID)                                       {}
func (peerEvents) CatchingUp(received uint64, remaining int64, done bool) {}

func testNode(t *testing.T) (*Node, host.Host) {
	t.Helper()
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	require.NoError(t, err)
	cfg := DefaultNodeConfig()
	cfg.PubsubWatch = 0
	n, err := NewNode(t.Context(), h, dssync.MutexWrap(ds.NewMapDatastore()), cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, n.Close())
		require.NoError(t, h.Close())
	})
	return n, h
}

func replicaConfig(manifest cid.Cid, joined chan peer.ID) ReplicaConfig {
	return ReplicaConfig{
		Manifest:       manifest,
		Topic:          TopicName(manifest),
		Database:       "/lattice/" + manifest.String() + "/test",
		Namespace:      ds.NewKey("/db/" + manifest.String()),
		Access:         accesscontrol.AllowAll(),
		Delegate:       peerEvents{joined: joined},
		Counters:       &Counters{},
		FetchTimeout:   10 * time.Second,
		Rebroadcast:    time.Minute,
		DAGSyncTimeout: 30 * time.Second,
		Catchup:        true,
	}
}

func testManifest(t testing.TB, name string) cid.Cid {
	t.Helper()
	c, err := cid.Prefix{Version: 1, Codec: cid.DagJSON, MhType: mh.SHA2_256, MhLength: -1}.Sum([]byte(name))
	require.NoError(t, err)
	return c
}

// TestNodeConfigValidate: a node refuses sizes it cannot run with.
func TestNodeConfigValidate(t *testing.T) {
	require.NoError(t, DefaultNodeConfig().Validate())
	bad := DefaultNodeConfig()
	bad.HistoryGossip = bad.HistoryLength + 1
	require.ErrorIs(t, bad.Validate(), ErrBadNodeConfig)
	bad = DefaultNodeConfig()
	bad.PubsubWatch = -time.Second
	_, err := NewNode(t.Context(), nil, nil, bad)
	require.ErrorIs(t, err, ErrBadNodeConfig)
}

// TestNodeOpenReplicates: two nodes open a replica of one database; a
// delta committed on one, signed as the engine signs it, reaches the
// other's go-ds-crdt through the node's own parts alone. A database opens
// once per node, again after it closes, and not on a closed node.
func TestNodeOpenReplicates(t *testing.T) {
	ctx := t.Context()
	a, ha := testNode(t)
	b, hb := testNode(t)
	manifest := testManifest(t, "node-open")
	joined := make(chan peer.ID, 4)
	ra, err := a.Open(ctx, replicaConfig(manifest, joined))
	require.NoError(t, err)
	_, err = a.Open(ctx, replicaConfig(manifest, nil))
	require.ErrorIs(t, err, ErrReplicaOpen)
	_, err = a.Open(ctx, ReplicaConfig{Manifest: manifest})
	require.ErrorIs(t, err, ErrBadNodeConfig)
	rb, err := b.Open(ctx, replicaConfig(manifest, make(chan peer.ID, 4)))
	require.NoError(t, err)
	require.NoError(t, hb.Connect(ctx, peer.AddrInfo{ID: ha.ID(), Addrs: ha.Addrs()}))
	select {
	case p := <-joined:
		require.Equal(t, hb.ID(), p)
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}

	signedWrite(t, ra, ha, crdt.CollectionKey("notes"), `"v"`) // any key an open database takes
	want := ra.Heads(ctx)
	require.Len(t, want, 1)
	poll.Eventually(t, 30*time.Second, func() error {
		if got := rb.Heads(ctx); !slices.Equal(got, want) {
			return fmt.Errorf("b's heads %v, want %v", got, want)
		}
		return nil
	})

	require.NoError(t, ra.Close())
	require.NoError(t, ra.Close(), "Close is idempotent")
	require.Nil(t, ra.Heads(ctx), "a closed replica has no heads")
	_, err = ra.Batch(ctx)
	require.ErrorIs(t, err, ErrClosed)
	again, err := a.Open(ctx, replicaConfig(manifest, nil))
	require.NoError(t, err, "a closed database opens again")
	require.Equal(t, want, again.Heads(ctx), "from what the store kept")
	require.NoError(t, a.Close(), "closes the replicas still open")
	_, err = a.Open(ctx, replicaConfig(testManifest(t, "other"), nil))
	require.ErrorIs(t, err, ErrClosed)
}
