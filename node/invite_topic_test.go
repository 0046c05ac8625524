package node

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/ipfs/go-cid"
	"github.com/latticedb/lattice/internal/poll"
	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"
	"github.com/stretchr/testify/require"
)

// newPubSubHost starts a loopback host with gossipsub, as the engine does,
// closed when the test ends.
func newPubSubHost(t *testing.T) (host.Host, *pubsub.PubSub) {
	t.Helper()
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	ps, err := pubsub.NewGossipSub(ctx, h, pubsub.WithMessageSignaturePolicy(pubsub.StrictSign), pubsub.WithFloodPublish(true))
	require.NoError(t, err)
	t.Cleanup(func() {
		cancel()
		require.NoError(t, h.Close())
	})
	return h, ps
}

// TestInviteTopic checks the seed demo's invite form on bare hosts, until
// the engine exposes its pubsub: the inviter announces its shared database
// on /lattice/invite/<its peer ID>; an invitee that subscribes, then dials,
// learns the address; messages from anyone but the inviter are ignored.
func TestInviteTopic(t *testing.T) {
	ha, psA := newPubSubHost(t)
	hb, psB := newPubSubHost(t)
	hm, psM := newPubSubHost(t) // a third peer that tries to spoof the inviter

	inviter, err := startInviteTopic(ha.ID(), psA, time.Hour, hclog.NewNullLogger())
	require.NoError(t, err)
	defer func() { require.NoError(t, inviter.close()) }()
	h, err := mh.Sum([]byte("manifest"), mh.SHA2_256, -1)
	require.NoError(t, err)
	want := "/lattice/" + cid.NewCidV1(cid.DagJSON, h).String() + "/TodoList"
	h, err = mh.Sum([]byte("fake"), mh.SHA2_256, -1)
	require.NoError(t, err)
	fake := "/lattice/" + cid.NewCidV1(cid.DagJSON, h).String() + "/TodoList"
	inviter.share(want, "TodoList", "todos")

	invitee, err := startInviteTopic(hb.ID(), psB, time.Hour, hclog.NewNullLogger())
	require.NoError(t, err)
	defer func() { require.NoError(t, invitee.close()) }()

	// The spoofer publishes a fake announcement on the inviter's topic.
	spoofTopic, err := psM.Join(InviteTopic(ha.ID()))
	require.NoError(t, err)
	defer spoofTopic.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	w, err := invitee.await(ctx, ha.ID())
	require.NoError(t, err)
	require.NoError(t, hb.Connect(ctx, peer.AddrInfo{ID: hm.ID(), Addrs: hm.Addrs()}))
	poll.Eventually(t, 20*time.Second, func() error {
		if !slices.Contains(spoofTopic.ListPeers(), hb.ID()) {
			return errors.New("the spoofer never saw the invitee subscribe")
		}
		return nil
	})
	require.NoError(t, spoofTopic.Publish(ctx, []byte(`{"inviter":"`+ha.ID().String()+`","databases":[{"address":"`+fake+`"}]}`)))
	require.NoError(t, hb.Connect(ctx, peer.AddrInfo{ID: ha.ID(), Addrs: ha.Addrs()}))
	got, err := w.result()
	require.NoError(t, err)
	require.Equal(t, want, got)

	// A second wait works (the topic was left), and times out cleanly when
	// nothing is announced.
	short, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel2()
	w, err = invitee.await(short, hm.ID())
	require.NoError(t, err)
	_, err = w.result()
	require.Error(t, err)
	require.Equal(t, 504, classify(err).status)
}

// Joins wait on invite topics one at a time, but a second join gives up
// when its own deadline passes instead of waiting for the first to end.
func TestSecondJoinHonoursItsDeadline(t *testing.T) {
	ha, psA := newPubSubHost(t)
	it, err := startInviteTopic(ha.ID(), psA, time.Hour, hclog.NewNullLogger())
	require.NoError(t, err)
	defer func() { require.NoError(t, it.close()) }()

	inviter1, inviter2 := peer.ID("inviter-one"), peer.ID("inviter-two")
	first, err := it.await(context.Background(), inviter1)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	gaveUp := make(chan error, 1)
	go func() {
		w, err := it.await(ctx, inviter2)
		if err == nil {
			w.cancel()
		}
		gaveUp <- err
	}()
	select {
	case err = <-gaveUp:
	case <-time.After(10 * time.Second):
		first.cancel()
		t.Fatal("the second join waited past its deadline for the first")
	}
	var ae *apiError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, 504, ae.status)

	first.cancel() // frees the slot for the next join
	second, err := it.await(context.Background(), inviter2)
	require.NoError(t, err)
	second.cancel()
}
