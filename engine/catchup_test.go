package engine_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	dag "github.com/ipfs/boxo/ipld/merkledag"
	blocks "github.com/ipfs/go-block-format"
	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/enginetest"
	"github.com/latticedb/lattice/internal/poll"
)

// history writes n single-write deltas (one InsertOne at a time, as an app
// writes) into a fresh database on e.
func history(t testing.TB, e *engine.Engine, n int) *engine.Database {
	t.Helper()
	ctx := context.Background()
	db, err := e.Create(ctx, "history", engine.WithAccess(accesscontrol.Open()))
	require.NoError(t, err)
	c := db.Collection("todos")
	for i := 0; i < n; i++ {
		_, err := c.InsertOne(ctx, engine.M{"_id": fmt.Sprintf("t%05d", i), "title": "to-do", "n": i})
		require.NoError(t, err)
	}
	return db
}

// TestLateJoinerCatchesUp: a replica that opens a database with a long
// history gets it through one catch-up stream, not a bitswap round trip
// per delta, and ends identical to the writer; restarted after missing
// writes, it catches up on them the same way.
func TestLateJoinerCatchesUp(t *testing.T) {
	const n = 400
	a := enginetest.NewEngine(t)
	dba := history(t, a, n)
	bdir := t.TempDir()
	b := enginetest.NewEngineAt(t, bdir)
	enginetest.ConnectAll(t, a, b)
	dbb := enginetest.Open(t, b, dba.Address())
	enginetest.Converged(t, 60*time.Second, n, dba.Collection("todos"), dbb.Collection("todos"))
	st := dbb.Stats()
	require.NotZero(t, st.Catchup.Runs, "no catch-up ran")
	require.Greater(t, st.Catchup.Blocks, uint64(n/2), "most of the history should come by catch-up: %+v", st.Catchup)
	require.Zero(t, st.Catchup.Failures)
	require.Zero(t, st.Catchup.Remaining, "nothing is left to fetch")

	// Restarted after missing 300 writes, it catches up again, and its
	// event stream (subscribed before it meets anyone) reports the
	// progress, ending with Done.
	require.NoError(t, b.Close())
	ctx := context.Background()
	for i := 0; i < 300; i++ {
		_, err := dba.Collection("todos").InsertOne(ctx, engine.M{"_id": fmt.Sprintf("away%03d", i)})
		require.NoError(t, err)
	}
	b = enginetest.NewEngineAt(t, bdir)
	dbb = enginetest.Open(t, b, dba.Address()) // the manifest is local: no peer needed
	events := dbb.Events(ctx)
	enginetest.ConnectAll(t, a, b)
	enginetest.Converged(t, 60*time.Second, n+300, dba.Collection("todos"), dbb.Collection("todos"))
	require.NotZero(t, dbb.Stats().Catchup.Runs, "the restarted replica caught up")
	var last *engine.CatchupProgress
	poll.Eventually(t, 10*time.Second, func() error {
		for {
			select {
			case ev := <-events:
				if ev.Type == engine.EventCatchup {
					last = ev.Catchup
				}
				continue
			default:
			}
			if last == nil || !last.Done {
				return fmt.Errorf("no final catch-up event yet (last %+v)", last)
			}
			return nil
		}
	})
	require.NotZero(t, last.Received, "the final event counts what arrived")
}

// TestCatchupWhenHandedHeadsHaveLocalParents: a joiner handed heads one at
// a time whose parents it already holds (the writer's newest deltas came
// inline, newest first) still catches up when go-ds-crdt's walk below them
// reaches the history it lacks, instead of walking it one bitswap round
// trip per block (issue 8: about 1 in 3 late joins through a relay).
func TestCatchupWhenHandedHeadsHaveLocalParents(t *testing.T) {
	const n, inline = 300, 3
	a := enginetest.NewEngine(t)
	dba := history(t, a, n)
	addr, err := engine.ParseAddress(dba.Address())
	require.NoError(t, err)

	// The newest deltas, newest first: each one's parents are the next.
	heads := engine.HeadsOf(dba)
	require.Len(t, heads, 1, "one writer, one chain")
	var newest []blocks.Block
	for c := heads[0]; len(newest) < inline; {
		blk, err := engine.BlockOf(a, c)
		require.NoError(t, err)
		newest = append(newest, blk)
		nd, err := dag.DecodeProtobufBlock(blk)
		require.NoError(t, err)
		require.Len(t, nd.Links(), 1, "a chain of single writes")
		c = nd.Links()[0].Cid
	}
	manifest, err := engine.BlockOf(a, addr.Manifest)
	require.NoError(t, err)

	// The joiner knows the database and holds the newest deltas, as if
	// they had come inline in one announcement, before it meets the
	// writer; the writer's announcement on join then hands it the head,
	// whose parent is local.
	b := enginetest.NewEngine(t)
	require.NoError(t, engine.Store(b, manifest))
	dbb := enginetest.Open(t, b, dba.Address())
	require.NoError(t, engine.Hold(b, newest...))
	enginetest.ConnectAll(t, a, b)
	enginetest.Converged(t, 60*time.Second, n, dba.Collection("todos"), dbb.Collection("todos"))

	st := dbb.Stats()
	require.NotZero(t, st.Catchup.Runs, "the walk below local parents started no catch-up: %+v", st)
	require.Greater(t, st.Catchup.Blocks, uint64(n/2), "most of the history should come by catch-up: %+v", st.Catchup)
	require.Less(t, st.BlocksFetched, uint64(n/2), "most of the history came over bitswap: %+v", st)
	require.Zero(t, st.Catchup.Failures)
}
