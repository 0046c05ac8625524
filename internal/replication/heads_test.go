package replication

import (
	"context"
	"errors"
	"fmt"
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
)

func TestHeadsRequestRoundTrip(t *testing.T) {
	got, err := DecodeHeadsRequest(EncodeHeadsRequest(manifest))
	require.NoError(t, err)
	require.Equal(t, manifest, got)
	for name, bad := range map[string][]byte{
		"empty":         nil,
		"other kind":    {'C', 1, 0},
		"newer version": append([]byte{'H', 2}, EncodeHeadsRequest(manifest)[2:]...),
		"trailing":      append(EncodeHeadsRequest(manifest), 0),
		"no CID":        {'H', 1, 0},
	} {
		_, err := DecodeHeadsRequest(bad)
		require.ErrorIs(t, err, ErrHeads, name)
	}
}

// FuzzDecodeHeadsRequest: requests come from the network.
func FuzzDecodeHeadsRequest(f *testing.F) {
	f.Add(EncodeHeadsRequest(manifest))
	f.Add([]byte{'H', 1, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeHeadsRequest(data)
		if err != nil {
			return
		}
		if string(EncodeHeadsRequest(m)) != string(data) {
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
	srv := NewHeadsServer(func(m cid.Cid) *Broadcaster {
		if m == manifest {
			return served
		}
		return nil
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
	require.EqualValues(t, 1, served.stats.HeadsServed.Load())

	err := newAsker(nodes[1].Cid()).pullHeads(ctx, asker, responder.ID())
	require.ErrorIs(t, err, ErrHeads)
	require.ErrorContains(t, err, "database not open here")

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
