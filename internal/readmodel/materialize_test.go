package readmodel

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	ds "github.com/ipfs/go-datastore"
	dsq "github.com/ipfs/go-datastore/query"
	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/crdt"
	"github.com/latticedb/lattice/query"
)

// pausingStore holds the first query under prefix after it has read the
// store, until released: a slow re-read of a document.
type pausingStore struct {
	ds.Datastore
	prefix  string
	read    chan struct{}
	release chan struct{}
	paused  atomic.Bool
}

func (s *pausingStore) Query(ctx context.Context, q dsq.Query) (dsq.Results, error) {
	res, err := s.Datastore.Query(ctx, q)
	if err != nil || !strings.HasPrefix(q.Prefix, s.prefix) {
		return res, err
	}
	entries, err := res.Rest()
	if err != nil {
		return nil, err
	}
	if s.paused.CompareAndSwap(false, true) {
		close(s.read)
		<-s.release
	}
	return dsq.ResultsWithEntries(q, entries), nil
}

// A local commit that installs its result while a re-read of the same
// document is in flight must not hide the remote change that re-read saw.
// Before the Model counted reads in flight, the local result (made
// without the remote change) went in first and the re-read was then
// discarded as older: the view lost the remote field for good.
func TestLocalInstallDoesNotHideAnInFlightRemoteChange(t *testing.T) {
	ctx := context.Background()
	ns := ds.NewKey("/db/x")
	base := ds.NewMapDatastore()
	m := New(hclog.NewNullLogger(), base, ns)
	m.OnMeta = func(string) {}
	r := Ref{"c", "sX"}
	w := crdt.Writer{Replica: "r1", Now: time.Unix(0, 0)}
	write := func(muts []crdt.Mutation) {
		for _, mu := range muts {
			require.False(t, mu.Delete)
			require.NoError(t, base.Put(ctx, ds.NewKey(m.layout.ValueKey(mu.Key)), mu.Value))
		}
	}
	update := func(cur *crdt.Doc, field string, v any) []crdt.Mutation {
		u, err := query.ParseUpdate(map[string]any{"$set": map[string]any{field: v}})
		require.NoError(t, err)
		w.Nonce = crdt.NewNonce()
		p, err := crdt.PlanUpdate(cur, u, w)
		require.NoError(t, err)
		return p.Mutations
	}

	w.Nonce = crdt.NewNonce()
	none, _ := crdt.Assemble(r.Coll, r.ID, nil)
	ins, err := crdt.PlanInsert(none, map[string]any{"_id": "X", "a": int64(1)}, w)
	require.NoError(t, err)
	write(ins.Mutations)
	require.NoError(t, m.Rebuild(ctx))
	entry := m.view.entry(r.Coll, r.ID)
	require.NotNil(t, entry)
	state, err := m.Load(ctx, r) // what a writer plans against
	require.NoError(t, err)

	// A remote change arrives: the store has it, the view must re-read.
	remote := update(state, "b", int64(2))
	write(remote)
	ps := &pausingStore{Datastore: base, prefix: m.layout.ValuesPrefix() + crdt.DocPrefix(r.Coll, r.ID),
		read: make(chan struct{}), release: make(chan struct{})}
	m.store = ps
	m.Notify([]Change{{Key: remote[0].Key, Value: remote[0].Value}})
	flushed := make(chan struct{})
	go func() {
		defer close(flushed)
		m.flush(ctx)
	}()
	<-ps.read // the re-read has seen the remote change and is slow to install it

	// Meanwhile a local commit made from the view's (older) state installs.
	local := update(state, "c", int64(3))
	write(local)
	require.NoError(t, m.Install(ctx, r, state.With(local), entry.Seq, false))
	close(ps.release)
	<-flushed

	got := m.view.entry(r.Coll, r.ID).Doc
	require.Equal(t, int64(2), got["b"], "remote change lost: %v", got)
	require.Equal(t, int64(3), got["c"], "local change lost: %v", got)
	require.Zero(t, m.Pending())
}
