package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/engine/query"
)

// newEngine starts an engine on loopback TCP with its data in a fresh
// temporary directory (real pebble), closed when the test ends.
func newEngine(t testing.TB, opts ...engine.Option) *engine.Engine {
	t.Helper()
	return newEngineAt(t, t.TempDir(), opts...)
}

func newEngineAt(t testing.TB, dir string, opts ...engine.Option) *engine.Engine {
	t.Helper()
	base := []engine.Option{
		engine.WithDataDir(dir),
		engine.WithListenAddrs("/ip4/127.0.0.1/tcp/0"),
		engine.WithRebroadcastInterval(2 * time.Second),
	}
	e, err := engine.New(context.Background(), append(base, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, e.Close()) })
	return e
}

// connectAll connects every pair of engines.
func connectAll(t testing.TB, es ...*engine.Engine) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, a := range es {
		for _, b := range es[i+1:] {
			require.NoError(t, a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: b.Host().Addrs()}))
		}
	}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for {
		if err = cond(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s: %v", timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// dump returns a collection's documents as canonical JSON, for comparing
// replicas.
func dump(t testing.TB, c *engine.Collection) string {
	t.Helper()
	cur, err := c.Find(context.Background(), nil, query.Sort("_id", 1))
	require.NoError(t, err)
	var docs []map[string]any
	require.NoError(t, cur.All(context.Background(), &docs))
	b, err := json.Marshal(docs)
	require.NoError(t, err)
	return string(b)
}

// settled reports an error unless every replica has the same DAG heads and
// nothing left to ingest or materialise.
func settled(cs ...*engine.Collection) error {
	heads := func(c *engine.Collection) string { return fmt.Sprint(c.Database().Heads()) }
	first := heads(cs[0])
	for i, c := range cs {
		if h := heads(c); h != first {
			return fmt.Errorf("replica %d heads %s, replica 0 heads %s", i, h, first)
		}
		if st := c.Database().Stats(); st.QueuedHeads > 0 || st.PendingChanges > 0 {
			return fmt.Errorf("replica %d busy: %d queued heads, %d pending changes", i, st.QueuedHeads, st.PendingChanges)
		}
	}
	return nil
}

// converged waits until every collection handle shows the same documents
// and at least want of them.
func converged(t testing.TB, timeout time.Duration, want int, cs ...*engine.Collection) string {
	t.Helper()
	var last string
	eventually(t, timeout, func() error {
		if err := settled(cs...); err != nil {
			return err
		}
		first := dump(t, cs[0])
		for i, c := range cs[1:] {
			if d := dump(t, c); d != first {
				return fmt.Errorf("replica %d differs:\n%s\nvs\n%s", i+1, d, first)
			}
		}
		n, err := cs[0].CountDocuments(context.Background(), nil)
		if err != nil {
			return err
		}
		if int(n) < want {
			return fmt.Errorf("%d documents, want %d", n, want)
		}
		last = first
		return nil
	})
	return last
}

func toJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}
