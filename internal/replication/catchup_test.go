package replication

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/ipfs/boxo/blockstore"
	dag "github.com/ipfs/boxo/ipld/merkledag"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/require"
)

func newBlockstore() blockstore.Blockstore {
	return blockstore.NewBlockstore(dssync.MutexWrap(ds.NewMapDatastore()))
}

// chain stores a linear DAG of n nodes in bs and returns them, head first.
func chain(t *testing.T, bs blockstore.Blockstore, n int) []*dag.ProtoNode {
	t.Helper()
	var nodes []*dag.ProtoNode
	var below *dag.ProtoNode
	for i := 0; i < n; i++ {
		nd := dag.NodeWithData([]byte(fmt.Sprintf("delta %d", i)))
		if below != nil {
			require.NoError(t, nd.AddNodeLink("", below))
		}
		require.NoError(t, bs.Put(context.Background(), nd))
		nodes = append([]*dag.ProtoNode{nd}, nodes...)
		below = nd
	}
	return nodes
}

func pair(t *testing.T) (host.Host, host.Host) {
	t.Helper()
	mk := func() host.Host {
		h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
		require.NoError(t, err)
		t.Cleanup(func() { _ = h.Close() })
		return h
	}
	a, b := mk(), mk()
	require.NoError(t, b.Connect(context.Background(), peer.AddrInfo{ID: a.ID(), Addrs: a.Addrs()}))
	return a, b
}

// quarantineSink is the sink a replica uses: the quarantine.
type quarantineSink struct{ q *Quarantine }

func (s quarantineSink) Has(ctx context.Context, c cid.Cid) bool {
	ok, err := s.q.Has(ctx, c)
	return err == nil && ok
}
func (s quarantineSink) Put(ctx context.Context, b blocks.Block) error { return s.q.Put(ctx, b) }
func (s quarantineSink) Wait(context.Context) error                    { return nil }

var manifest = cid.MustParse("bafkqaaa")

func serve(t *testing.T, h host.Host, bs blockstore.Blockstore) {
	srv := &CatchupServer{Blocks: bs, Resolve: func(k [32]byte) (cid.Cid, bool) {
		if k == TopicKey(manifest) {
			return manifest, true
		}
		return cid.Undef, false
	}}
	h.SetStreamHandler(CatchupProtocol, func(st network.Stream) { srv.Handle(context.Background(), st) })
}

// TestCatchUpStreamsTheMissingHistory: the whole chain below a head
// arrives on one stream, and what the requester had stops the walk.
func TestCatchUpStreamsTheMissingHistory(t *testing.T) {
	ctx := context.Background()
	sender, receiver := pair(t)
	sbs := newBlockstore()
	nodes := chain(t, sbs, 50)
	serve(t, sender, sbs)

	// The receiver has the head (it came inline) and the bottom ten.
	q := NewQuarantine(newBlockstore(), 1<<20, nil)
	require.NoError(t, q.Put(ctx, nodes[0]))
	for _, nd := range nodes[40:] {
		require.NoError(t, q.Blockstore.Put(ctx, nd))
	}
	var ctr CatchupCounters
	left, err := CatchUp(ctx, receiver, sender.ID(), CatchupRequest{Manifest: manifest, Wanted: []cid.Cid{nodes[0].Cid()}, Have: []cid.Cid{nodes[40].Cid()}}, quarantineSink{q}, &ctr)
	require.NoError(t, err)
	require.Empty(t, left)
	require.EqualValues(t, 39, ctr.Blocks.Load(), "exactly the missing middle")
	for _, nd := range nodes {
		has, err := q.Has(ctx, nd.Cid())
		require.NoError(t, err)
		require.True(t, has)
	}
}

// TestCatchUpRefusals: a head the sender lacks, or a database it does not
// serve, is refused with a reason, at once.
func TestCatchUpRefusals(t *testing.T) {
	ctx := context.Background()
	sender, receiver := pair(t)
	serve(t, sender, newBlockstore())
	q := NewQuarantine(newBlockstore(), 1<<20, nil)
	head := dag.NodeWithData([]byte("nobody has it")).Cid()
	_, err := CatchUp(ctx, receiver, sender.ID(), CatchupRequest{Manifest: manifest, Wanted: []cid.Cid{head}}, quarantineSink{q}, &CatchupCounters{})
	require.ErrorIs(t, err, errCatchupRefused)
	require.ErrorContains(t, err, "missing head")
	_, err = CatchUp(ctx, receiver, sender.ID(), CatchupRequest{Manifest: head, Wanted: []cid.Cid{head}}, quarantineSink{q}, &CatchupCounters{})
	require.ErrorContains(t, err, "not open here")

	// A peer that knows the database's key (from its topic name) but not
	// its address cannot make a claim: a made-up proof, a claim made for
	// another requester, and one made for the heads exchange are refused
	// like a database that is not open.
	forged := Claim{Key: TopicKey(manifest)}
	forged.Proof[0] = 1
	for name, c := range map[string]Claim{
		"made-up proof":     forged,
		"another requester": NewClaim(manifest, claimCatchup, sender.ID(), sender.ID()),
		"another protocol":  NewClaim(manifest, claimHeads, receiver.ID(), sender.ID()),
	} {
		_, err = CatchUp(ctx, receiver, sender.ID(), CatchupRequest{Claim: c, Wanted: []cid.Cid{head}}, quarantineSink{q}, &CatchupCounters{})
		require.ErrorContains(t, err, "not open here", name)
	}
}

// TestCatchUpRefusesBadSenders: blocks nobody asked for, blocks that do
// not hash to their CID, and endless garbage end the catch-up with an
// error, and none of them is kept.
func TestCatchUpRefusesBadSenders(t *testing.T) {
	ctx := context.Background()
	good := chain(t, newBlockstore(), 3)
	stranger := dag.NodeWithData([]byte("unasked"))
	cases := map[string]func(w *bufio.Writer){
		"unrequested block": func(w *bufio.Writer) {
			_, _ = w.Write(appendBytes(appendBytes(nil, stranger.Cid().Bytes()), stranger.RawData()))
		},
		"forged block": func(w *bufio.Writer) {
			_, _ = w.Write(appendBytes(appendBytes(nil, good[1].Cid().Bytes()), []byte("not the block")))
		},
		"garbage": func(w *bufio.Writer) {
			for i := 0; i < 1000; i++ {
				_, _ = w.Write([]byte{0xff, 0xff, 0xff})
			}
		},
	}
	for name, send := range cases {
		t.Run(name, func(t *testing.T) {
			sender, receiver := pair(t)
			sender.SetStreamHandler(CatchupProtocol, func(st network.Stream) {
				defer st.Close()
				w := bufio.NewWriter(st)
				_ = w.WriteByte(0)
				_, _ = w.Write(appendBytes(appendBytes(nil, good[0].Cid().Bytes()), good[0].RawData()))
				send(w)
				_ = w.Flush()
			})
			q := NewQuarantine(newBlockstore(), 1<<20, nil)
			require.NoError(t, q.Put(ctx, good[0]))
			_, err := CatchUp(ctx, receiver, sender.ID(), CatchupRequest{Manifest: manifest, Wanted: []cid.Cid{good[0].Cid()}}, quarantineSink{q}, &CatchupCounters{})
			require.ErrorIs(t, err, ErrCatchup)
			require.False(t, errors.Is(err, errCatchupRefused))
			for _, c := range []cid.Cid{stranger.Cid(), good[1].Cid()} {
				has, _ := q.Has(ctx, c)
				require.False(t, has, "%s was kept", c)
			}
		})
	}
}

func TestCatchupRequestRoundTrip(t *testing.T) {
	r := CatchupRequest{Claim: NewClaim(manifest, claimCatchup, "a", "b"), Wanted: []cid.Cid{manifest}, Have: []cid.Cid{manifest, manifest}}
	b, err := EncodeCatchupRequest(r)
	require.NoError(t, err)
	other, err := EncodeCatchupRequest(CatchupRequest{Claim: r.Claim, Manifest: manifest, Wanted: []cid.Cid{dag.NodeWithData([]byte("x")).Cid()}})
	require.NoError(t, err)
	require.NotContains(t, string(other), string(manifest.Bytes()), "the address is not sent")
	got, err := DecodeCatchupRequest(b)
	require.NoError(t, err)
	require.Equal(t, r, got)
	_, err = EncodeCatchupRequest(CatchupRequest{Manifest: manifest})
	require.ErrorIs(t, err, ErrCatchup, "a request wants at least one head")
}

// FuzzDecodeCatchupRequest: requests come from the network.
func FuzzDecodeCatchupRequest(f *testing.F) {
	seed, _ := EncodeCatchupRequest(CatchupRequest{Claim: NewClaim(manifest, claimCatchup, "a", "b"), Wanted: []cid.Cid{manifest}})
	f.Add(seed)
	f.Add([]byte{'C', 2, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeCatchupRequest(data)
		if err != nil {
			return
		}
		again, err := EncodeCatchupRequest(r)
		if err != nil {
			t.Fatalf("decoded request does not encode: %v", err)
		}
		if string(again) != string(data) {
			t.Fatalf("re-encoding differs")
		}
	})
}
