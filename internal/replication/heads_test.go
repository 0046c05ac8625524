package replication

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	dag "github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/go-cid"
	crdtpb "github.com/ipfs/go-ds-crdt/pb"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/latticedb/lattice/internal/poll"
)

func TestHeadsRequestRoundTrip(t *testing.T) {
	c := NewClaim(manifest, claimHeads, "a", "b")
	got, err := DecodeHeadsRequest(EncodeHeadsRequest(c))
	require.NoError(t, err)
	require.Equal(t, c, got)
	require.NotContains(t, string(EncodeHeadsRequest(c)), string(manifest.Bytes()), "the address is not sent")
	for name, bad := range map[string][]byte{
		"empty":         nil,
		"other kind":    {'C', 2, 0},
		"older version": append([]byte{'H', 1}, EncodeHeadsRequest(c)[2:]...),
		"trailing":      append(EncodeHeadsRequest(c), 0),
		"short claim":   EncodeHeadsRequest(c)[:40],
	} {
		_, err := DecodeHeadsRequest(bad)
		require.ErrorIs(t, err, ErrHeads, name)
	}
}

// FuzzDecodeHeadsRequest: requests come from the network.
func FuzzDecodeHeadsRequest(f *testing.F) {
	f.Add(EncodeHeadsRequest(NewClaim(manifest, claimHeads, "a", "b")))
	f.Add([]byte{'H', 2, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := DecodeHeadsRequest(data)
		if err != nil {
			return
		}
		if string(EncodeHeadsRequest(c)) != string(data) {
			t.Fatalf("re-encoding differs")
		}
	})
}

// openDelegate is a database whose gate lets everyone announce.
type openDelegate struct{ heads []cid.Cid }

func (d openDelegate) Heads(context.Context) []cid.Cid                      { return d.heads }
func (openDelegate) CanAnnounce(context.Context, peer.ID) error             { return nil }
func (openDelegate) PeerJoined(peer.ID)                                     {}
func (openDelegate) PeerLeft(peer.ID)                                       {}
func (openDelegate) CatchingUp(received uint64, remaining int64, done bool) {}

// TestPullHeads: a pull offers the responder's heads; a refusal, a
// malformed answer or an answer too long is an error naming the peer,
// and nothing from it is queued.
func TestPullHeads(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // the broadcasters are not started: nothing else to stop
	asker, responder := pair(t)
	bs := newBlockstore()
	nodes := chain(t, bs, 3)
	heads := []cid.Cid{nodes[0].Cid()}

	served := NewBroadcaster(ctx, Config{Self: responder.ID(), Blocks: bs, Counters: &Counters{},
		Delegate: openDelegate{heads: heads}, InlineLimit: 1 << 10})
	served.started.Store(true)
	srv := NewHeadsServer(func(k [32]byte) (cid.Cid, *Broadcaster) {
		if k == TopicKey(manifest) {
			return manifest, served
		}
		return cid.Undef, nil
	})
	responder.SetStreamHandler(HeadsProtocol, func(st network.Stream) { srv.Handle(ctx, st) })

	newAsker := func(m cid.Cid) *Broadcaster {
		b := NewBroadcaster(ctx, Config{Self: asker.ID(), Blocks: newBlockstore(), Counters: &Counters{},
			Delegate: openDelegate{}, Manifest: m})
		return b
	}
	b := newAsker(manifest)
	require.NoError(t, b.pullHeads(ctx, asker, responder.ID()))
	require.Equal(t, 1, b.Queued(), "the head is queued, its block came inline")
	// The server counts after its write, which the asker may read first.
	poll.Eventually(t, 10*time.Second, func() error {
		if n := served.stats.HeadsServed.Load(); n != 1 {
			return fmt.Errorf("%d heads served, want 1", n)
		}
		return nil
	})

	err := newAsker(nodes[1].Cid()).pullHeads(ctx, asker, responder.ID())
	require.ErrorIs(t, err, ErrHeads)
	require.ErrorContains(t, err, "database not open here")

	// A peer that saw the topic knows the key, not the address: its
	// claims fail and it gets no heads.
	forged := Claim{Key: TopicKey(manifest)}
	for name, c := range map[string]Claim{
		"made-up proof":     forged,
		"another requester": NewClaim(manifest, claimHeads, responder.ID(), responder.ID()),
		"another protocol":  NewClaim(manifest, claimCatchup, asker.ID(), responder.ID()),
	} {
		st, err := asker.NewStream(ctx, responder.ID(), HeadsProtocol)
		require.NoError(t, err)
		_, err = st.Write(appendBytes(nil, EncodeHeadsRequest(c)))
		require.NoError(t, err)
		require.NoError(t, st.CloseWrite())
		answer, err := io.ReadAll(st)
		require.NoError(t, err)
		require.NotEmpty(t, answer, name)
		require.Equal(t, byte(1), answer[0], "%s: not refused", name)
		require.Contains(t, string(answer), "database not open here", name)
	}
	require.EqualValues(t, 1, served.stats.HeadsServed.Load(), "nothing served to claims that fail")

	for name, answer := range map[string][]byte{
		"malformed message": appendBytes([]byte{0}, []byte("not a message")),
		"too long":          {0, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"no status":         nil,
	} {
		responder.SetStreamHandler(HeadsProtocol, func(st network.Stream) {
			defer st.Close()
			_, _ = st.Write(answer)
		})
		b := newAsker(manifest)
		err := b.pullHeads(ctx, asker, responder.ID())
		require.ErrorIs(t, err, ErrHeads, name)
		require.True(t, strings.Contains(err.Error(), responder.ID().String()), "%s: %v", name, err)
		require.Zero(t, b.Queued(), name)
	}

	responder.RemoveStreamHandler(HeadsProtocol)
	err = newAsker(manifest).pullHeads(ctx, asker, responder.ID())
	require.True(t, errors.Is(err, errHeadsUnsupported), "%v", err)
}

// TestRebroadcastLeavesOutHeardHeads: a head another peer announced on
// the topic within the rebroadcast interval is not announced again; one
// heard longer ago, or never, is.
func TestRebroadcastLeavesOutHeardHeads(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	nodes := chain(t, newBlockstore(), 3)
	heard, old, fresh := nodes[0].Cid(), nodes[1].Cid(), nodes[2].Cid()
	b := NewBroadcaster(ctx, Config{Counters: &Counters{}, Delegate: openDelegate{}, Rebroadcast: time.Minute})
	b.hear([]cid.Cid{heard, old})
	b.heard[old] = time.Now().Add(-2 * time.Minute).UnixNano()

	var bc crdtpb.CRDTBroadcast
	for _, c := range []cid.Cid{heard, old, fresh} {
		bc.Heads = append(bc.Heads, &crdtpb.Head{Cid: c.Bytes()})
	}
	data, err := proto.Marshal(&bc)
	require.NoError(t, err)
	require.NoError(t, b.Broadcast(ctx, data))
	require.Equal(t, []cid.Cid{old, fresh}, b.toSend)
	require.EqualValues(t, 1, b.stats.HeadsSuppressed.Load())

	for i := range maxHeard + 10 { // the memory is bounded
		b.hear([]cid.Cid{dag.NodeWithData([]byte(fmt.Sprint("head ", i))).Cid()})
	}
	require.Len(t, b.heard, maxHeard)
}
