package replication

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/crdt"
	"github.com/latticedb/lattice/internal/poll"
	"github.com/latticedb/lattice/internal/snapshot"
)

// signedWrite commits puts (value != "") and deletes (value == "") as one
// delta signed as the engine signs it, through Replica.Commit: a remote
// head merged between signing and committing moves the delta's height, and
// Commit signs it again (signing here by hand once failed CI that way).
func signedWrite(t testing.TB, r *Replica, h host.Host, kv ...string) {
	t.Helper()
	var muts []crdt.Mutation
	for i := 0; i < len(kv); i += 2 {
		k, v := kv[i], kv[i+1]
		muts = append(muts, crdt.Mutation{Key: k, Value: []byte(v), Delete: v == ""})
	}
	var commits, resigned atomic.Uint64
	require.NoError(t, r.Commit(t.Context(), Commit{
		Identity: h.Peerstore().PrivKey(h.ID()),
		Author:   h.ID(),
		Clock:    time.Now,
		Commits:  &commits, Resigned: &resigned,
	}, muts))
	require.EqualValues(t, 1, commits.Load())
}

func values(t testing.TB, r *Replica, keys []string) map[string]string {
	out := map[string]string{}
	for _, k := range keys {
		v, err := r.store().Get(t.Context(), ds.NewKey(k))
		if errors.Is(err, ds.ErrNotFound) {
			continue
		}
		require.NoError(t, err)
		out[k] = string(v)
	}
	return out
}

func sameHeads(rs ...*Replica) error {
	for _, r := range rs[1:] {
		if a, b := rs[0].Heads(context.Background()), r.Heads(context.Background()); !slices.Equal(a, b) {
			return fmt.Errorf("heads %v (%s) and %v (%s)", a, describe(rs[0]), b, describe(r))
		}
	}
	return nil
}

// rebroadcast is short in these tests: with go-ds-crdt's minute, 2 of 8
// loaded runs once lost the live announcement of A's last head before the
// snapshot (W stayed one head behind for 30 s, nothing rejected or
// dropped), which only the next rebroadcast repairs: the open lost-head
// item in RELIABILITY.md, not a snapshot matter.
var rebroadcast = 2 * time.Second

func describe(r *Replica) string {
	c := r.cfg.Counters
	return fmt.Sprintf("height %d, rejected %d, heads received %d, dropped %d, fetch failures %d, sent %d", r.InternalStats(context.Background()).MaxHeight, c.Rejected.Load(), c.HeadsReceived.Load(), c.HeadsDropped.Load(), c.FetchFailures.Load(), c.HeadsSent.Load())
}

func connect(t testing.TB, a, b host.Host) {
	require.NoError(t, a.Connect(t.Context(), peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}))
}

// TestSnapshotJoinBetweenReplicas: a joiner installs a snapshot fetched
// from a writer, opens the database and merges the tail; a writer offline
// since before the snapshot then comes back, meets only the joiner, and
// its branch merges there with the result of the uncompacted history.
// The joiner never stores the history the snapshot covers.
func TestSnapshotJoinBetweenReplicas(t *testing.T) {
	ctx := t.Context()
	na, ha := testNode(t)
	nw, hw := testNode(t)
	nj, hj := testNode(t)
	manifest := testManifest(t, "snapshot-join")
	static, err := accesscontrol.NewStatic(accesscontrol.Static(ha.ID(), hw.ID(), hj.ID()).Params, accesscontrol.Env{})
	require.NoError(t, err)
	joined := map[*Node]chan peer.ID{na: make(chan peer.ID, 16), nw: make(chan peer.ID, 16), nj: make(chan peer.ID, 16)}
	configFor := func(n *Node) ReplicaConfig {
		c := replicaConfig(manifest, joined[n])
		c.Access = static
		c.Rebroadcast = rebroadcast
		return c
	}
	// meet connects two peers and waits until each sees the other on
	// the database's topic (announcements before that are lost to it).
	meet := func(a, b *Node, ha, hb host.Host) {
		t.Helper()
		connect(t, ha, hb)
		for _, w := range []struct {
			n *Node
			p peer.ID
		}{{a, hb.ID()}, {b, ha.ID()}} {
			for {
				select {
				case p := <-joined[w.n]:
					if p != w.p {
						continue
					}
				case <-time.After(30 * time.Second):
					t.Fatalf("%s never joined", w.p)
				}
				break
			}
		}
	}
	keys := []string{crdt.CollectionKey("a"), crdt.CollectionKey("b"), crdt.CollectionKey("c"), crdt.CollectionKey("d"), crdt.CollectionKey("e")}
	ra, err := na.Open(ctx, configFor(na))
	require.NoError(t, err)
	rw, err := nw.Open(ctx, configFor(nw))
	require.NoError(t, err)

	// A shared history, then W goes offline.
	meet(nw, na, hw, ha)
	for i := 0; i < 20; i++ {
		signedWrite(t, ra, ha, keys[i%3], fmt.Sprintf(`"a%d"`, i))
	}
	signedWrite(t, rw, hw, keys[3], `"w0"`)
	poll.Eventually(t, 30*time.Second, func() error { return sameHeads(ra, rw) })
	require.NoError(t, rw.Close())
	require.NoError(t, hw.Network().ClosePeer(ha.ID()))
	hw.Peerstore().RemovePeer(ha.ID())
	ha.Peerstore().RemovePeer(hw.ID())

	// A goes on; W, offline, forks.
	signedWrite(t, ra, ha, keys[0], `"a-after"`, keys[3], "")
	signedWrite(t, ra, ha, keys[1], "")
	rw, err = nw.Open(ctx, configFor(nw))
	require.NoError(t, err)
	signedWrite(t, rw, hw, keys[2], "", keys[4], `"w1"`)

	// J joins from A's snapshot.
	connect(t, hj, ha)
	bundle, err := nj.FetchSnapshot(ctx, ha.ID(), manifest)
	require.NoError(t, err)
	require.NoError(t, nj.InstallSnapshot(ctx, configFor(nj), bundle))
	rj, err := nj.Open(ctx, configFor(nj))
	require.NoError(t, err)
	meet(nj, na, hj, ha)
	require.Equal(t, values(t, ra, keys), values(t, rj, keys), "the joiner shows the snapshot's state at once")
	signedWrite(t, ra, ha, keys[1], `"tail"`)
	poll.Eventually(t, 30*time.Second, func() error { return sameHeads(ra, rj) })
	require.Equal(t, values(t, ra, keys), values(t, rj, keys))

	// W comes back and meets J only: its branch merges on J.
	require.NoError(t, hj.Network().ClosePeer(ha.ID()))
	hj.Peerstore().RemovePeer(ha.ID())
	ha.Peerstore().RemovePeer(hj.ID())
	meet(nw, nj, hw, hj)
	poll.Eventually(t, 30*time.Second, func() error {
		if got := values(t, rj, keys)[keys[4]]; got != `"w1"` {
			return fmt.Errorf("J shows %q for W's key", got)
		}
		return nil
	})

	// Everyone together: one state, the uncompacted replicas' one. (Not
	// meet: a peer that left and comes back is not always reported
	// joining again; the heads then come with the next rebroadcast.)
	connect(t, hw, ha)
	connect(t, hj, ha)
	poll.Eventually(t, 60*time.Second, func() error { return sameHeads(ra, rw, rj) })
	want := values(t, ra, keys)
	require.Equal(t, want, values(t, rw, keys))
	require.Equal(t, want, values(t, rj, keys))
	require.Equal(t, map[string]string{keys[0]: `"a-after"`, keys[1]: `"tail"`, keys[4]: `"w1"`}, want)

	// The joiner never stored what its snapshot covers and does not carry.
	carried := map[string]bool{}
	for _, b := range bundle.Blocks {
		carried[b.Cid().Hash().String()] = true
	}
	all, err := na.bstore.AllKeysChan(ctx)
	require.NoError(t, err)
	covered := 0
	for c := range all {
		if bundle.Snapshot.Coverage.Has(c.Hash()) && !carried[c.Hash().String()] {
			covered++
			has, err := nj.bstore.Has(ctx, cid.NewCidV1(cid.DagProtobuf, c.Hash()))
			require.NoError(t, err)
			require.False(t, has, "the joiner stored covered block %s", c)
		}
	}
	require.Greater(t, covered, 5)
}

// TestSnapshotJoinRefusals: a database not open at the peer is refused;
// a snapshot from a peer the controller does not let produce snapshots,
// or a forged one, is not installed and leaves the namespace empty.
func TestSnapshotJoinRefusals(t *testing.T) {
	ctx := t.Context()
	na, ha := testNode(t)
	nj, hj := testNode(t)
	manifest := testManifest(t, "snapshot-refusals")
	connect(t, hj, ha)
	_, err := nj.FetchSnapshot(ctx, ha.ID(), manifest)
	require.ErrorIs(t, err, ErrSnapshot)
	require.ErrorContains(t, err, "not open here")

	open, err := accesscontrol.NewStatic(accesscontrol.Static(ha.ID(), hj.ID()).Params, accesscontrol.Env{})
	require.NoError(t, err)
	cfg := replicaConfig(manifest, nil)
	cfg.Access = open
	ra, err := na.Open(ctx, cfg)
	require.NoError(t, err)
	signedWrite(t, ra, ha, crdt.CollectionKey("a"), `"1"`)
	bundle, err := nj.FetchSnapshot(ctx, ha.ID(), manifest)
	require.NoError(t, err)

	onlyJ, err := accesscontrol.NewStatic(accesscontrol.Static(hj.ID()).Params, accesscontrol.Env{})
	require.NoError(t, err)
	jcfg := replicaConfig(manifest, nil)
	jcfg.Access = onlyJ
	err = nj.InstallSnapshot(ctx, jcfg, bundle)
	require.ErrorIs(t, err, snapshot.ErrUnauthorizedProducer)

	bundle.Snapshot.Live = nil // dropped after signing
	jcfg.Access = open
	err = nj.InstallSnapshot(ctx, jcfg, bundle)
	require.ErrorIs(t, err, snapshot.ErrBadSignature)

	rj, err := nj.Open(ctx, jcfg)
	require.NoError(t, err)
	require.Empty(t, rj.Heads(ctx), "nothing was installed")
}

// TestCompactThenJoin: a writer compacts its closed replica, opens it
// again with the same state and less history, keeps writing, and a
// fresh peer joins it from a snapshot.
func TestCompactThenJoin(t *testing.T) {
	ctx := t.Context()
	na, ha := testNode(t)
	nj, hj := testNode(t)
	manifest := testManifest(t, "compact")
	static, err := accesscontrol.NewStatic(accesscontrol.Static(ha.ID()).Params, accesscontrol.Env{})
	require.NoError(t, err)
	config := func() ReplicaConfig {
		c := replicaConfig(manifest, nil)
		c.Access = static
		c.Rebroadcast = rebroadcast
		return c
	}
	ra, err := na.Open(ctx, config())
	require.NoError(t, err)
	keys := []string{crdt.CollectionKey("a"), crdt.CollectionKey("b")}
	for i := 0; i < 30; i++ {
		k := keys[i%2]
		signedWrite(t, ra, ha, k, "", k, fmt.Sprintf(`"v%d"`, i))
	}
	want := values(t, ra, keys)
	_, err = na.Compact(ctx, config())
	require.ErrorIs(t, err, ErrReplicaOpen, "an open database is not compacted")
	require.NoError(t, ra.Close())
	c, err := na.Compact(ctx, config())
	require.NoError(t, err)
	require.Equal(t, 30, c.Before.Blocks)
	require.Equal(t, 2, c.After.Blocks, "the blocks of the two live versions, one the head")
	ra, err = na.Open(ctx, config())
	require.NoError(t, err)
	require.Equal(t, want, values(t, ra, keys))
	signedWrite(t, ra, ha, keys[0], `"after"`)

	connect(t, hj, ha)
	bundle, err := nj.FetchSnapshot(ctx, ha.ID(), manifest)
	require.NoError(t, err)
	require.NoError(t, nj.InstallSnapshot(ctx, config(), bundle))
	rj, err := nj.Open(ctx, config())
	require.NoError(t, err)
	require.Equal(t, values(t, ra, keys), values(t, rj, keys))
	signedWrite(t, ra, ha, keys[1], `"tail"`)
	poll.Eventually(t, 30*time.Second, func() error {
		if got := values(t, rj, keys)[keys[1]]; got != `"tail"` {
			return fmt.Errorf("joiner shows %q", got)
		}
		return nil
	})
}
