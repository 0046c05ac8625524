package sealing

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"

	"github.com/latticedb/lattice/internal/seal"
)

type memStore struct{ datastore.Batching }

func (memStore) SyncWAL() error { return nil }

func newHost(t *testing.T) host.Host {
	t.Helper()
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func admit(ctx context.Context) (context.Context, func(), error) { return ctx, func() {}, nil }

// TestRecords: a peer's record is made once, kept in its store, served to
// others and checked to be the answering peer's; an answer that is
// another peer's record, or too large, is refused by name.
func TestRecords(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, b, liar := newHost(t), newHost(t), newHost(t)
	store := memStore{dssync.MutexWrap(datastore.NewMapDatastore())}
	recs := NewRecords(store, a.Peerstore().PrivKey(a.ID()), time.Now)
	recs.Serve(a, admit)
	mine, err := recs.Record(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Made once: a second keeper over the same store has the same key.
	k1, _, _ := recs.Key(ctx)
	k2, _, err := NewRecords(store, a.Peerstore().PrivKey(a.ID()), time.Now).Key(ctx)
	if err != nil || !bytes.Equal(k1.PublicKey(), k2.PublicKey()) {
		t.Fatalf("member key not kept in the store: %v", err)
	}

	for _, h := range []host.Host{a, liar} {
		if err := b.Connect(ctx, *host.InfoFromHost(h)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Fetch(ctx, b, a.ID())
	if err != nil || !bytes.Equal(got, mine) {
		t.Fatalf("fetch: %v", err)
	}

	// The liar answers with a's record, then with too many bytes.
	liar.SetStreamHandler(RecordProtocol, func(st network.Stream) {
		defer st.Close()
		_, _ = st.Write(mine)
	})
	if _, err := Fetch(ctx, b, liar.ID()); !errors.Is(err, seal.ErrBadRecord) {
		t.Fatalf("another peer's record: %v, want ErrBadRecord", err)
	}
	liar.SetStreamHandler(RecordProtocol, func(st network.Stream) {
		defer st.Close()
		_, _ = st.Write(make([]byte, MaxRecordSize+1))
	})
	if _, err := Fetch(ctx, b, liar.ID()); !errors.Is(err, seal.ErrBadRecord) {
		t.Fatalf("an oversized record: %v, want ErrBadRecord", err)
	}
}
