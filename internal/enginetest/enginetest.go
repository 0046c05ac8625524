// Package enginetest is the test harness every Lattice package shares:
// engines preset for tests (loopback TCP, real pebble in a temporary
// directory), connecting them, and checking that replicas converged.
// Waiting for a condition is package poll's, which tests inside package
// engine can import too. It is for tests only; production code never
// imports it.
package enginetest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/poll"
	"github.com/latticedb/lattice/query"
)

// Options are the settings of a test engine before the caller's own: TCP
// on loopback, a 2 s rebroadcast, so a lost announcement is repaired
// within a test's patience, and no automatic reconnect, so a partition a
// test makes by closing connections holds until the test heals it (tests
// of reconnecting pass engine.WithReconnect(true)).
func Options(dir string) []engine.Option {
	return []engine.Option{
		engine.WithDataDir(dir),
		engine.WithListenAddrs("/ip4/127.0.0.1/tcp/0"),
		engine.WithRebroadcastInterval(2 * time.Second),
		engine.WithReconnect(false),
	}
}

// NewEngine starts a test engine with its data in a fresh temporary
// directory (real pebble), closed when the test ends.
func NewEngine(t testing.TB, opts ...engine.Option) *engine.Engine {
	t.Helper()
	return NewEngineAt(t, t.TempDir(), opts...)
}

// NewEngineAt is NewEngine over dir, for restarts on the same data.
func NewEngineAt(t testing.TB, dir string, opts ...engine.Option) *engine.Engine {
	t.Helper()
	e, err := engine.New(context.Background(), append(Options(dir), opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, e.Close()) })
	return e
}

// ConnectAll connects every pair of engines.
func ConnectAll(t testing.TB, es ...*engine.Engine) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, a := range es {
		for _, b := range es[i+1:] {
			require.NoError(t, a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: b.Host().Addrs()}))
		}
	}
}

// Dump returns a collection's documents as canonical JSON sorted by _id,
// for comparing replicas.
func Dump(t testing.TB, c *engine.Collection) string {
	t.Helper()
	cur, err := c.Find(context.Background(), nil, query.Sort("_id", 1))
	require.NoError(t, err)
	var docs []map[string]any
	require.NoError(t, cur.All(context.Background(), &docs))
	b, err := json.Marshal(docs)
	require.NoError(t, err)
	return string(b)
}

// Settled reports an error unless every replica has the same DAG heads and
// nothing left to ingest or materialise.
func Settled(cs ...*engine.Collection) error {
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

// Converged waits until every collection handle is settled and shows the
// same documents, at least want of them, and returns them (as Dump).
func Converged(t testing.TB, timeout time.Duration, want int, cs ...*engine.Collection) string {
	t.Helper()
	var last string
	poll.Eventually(t, timeout, func() error {
		if err := Settled(cs...); err != nil {
			return err
		}
		first := Dump(t, cs[0])
		for i, c := range cs[1:] {
			if d := Dump(t, c); d != first {
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

// Open opens a database by address on e, failing the test on error.
func Open(t testing.TB, e *engine.Engine, address string) *engine.Database {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := e.Open(ctx, address)
	require.NoError(t, err)
	return db
}

// Partition cuts lone off from the others until a test connects them
// again: it forgets their addresses (so nothing redials them), closes the
// connections, and waits until pubsub on both sides let go of each
// other. (A connection made while pubsub still holds the dead one is
// taken for a duplicate, and after a few of those, go-libp2p-pubsub's
// MaxBackoffAttempts, it stops opening streams to the peer.)
func Partition(t testing.TB, lone *engine.Engine, others ...*engine.Engine) {
	t.Helper()
	for _, o := range others {
		lone.Host().Peerstore().ClearAddrs(o.ID())
		o.Host().Peerstore().ClearAddrs(lone.ID())
		require.NoError(t, lone.Host().Network().ClosePeer(o.ID()))
		require.NoError(t, o.Host().Network().ClosePeer(lone.ID()))
	}
	poll.Eventually(t, 30*time.Second, func() error {
		for _, o := range others {
			if len(lone.Host().Network().ConnsToPeer(o.ID())) > 0 {
				return fmt.Errorf("still connected to %s", o.ID())
			}
			if slices.Contains(lone.PubSub().ListPeers(""), o.ID()) || slices.Contains(o.PubSub().ListPeers(""), lone.ID()) {
				return fmt.Errorf("pubsub still holds %s", o.ID())
			}
		}
		return nil
	})
}

// OutboundPubsubStream is a's stream to b that gossipsub writes to, if
// one is open: tests reset it to make gossipsub lose the peer.
func OutboundPubsubStream(a, b *engine.Engine) network.Stream {
	for _, c := range a.Host().Network().ConnsToPeer(b.ID()) {
		for _, s := range c.GetStreams() {
			if s.Stat().Direction == network.DirOutbound && strings.HasPrefix(string(s.Protocol()), "/meshsub/") {
				return s
			}
		}
	}
	return nil
}
