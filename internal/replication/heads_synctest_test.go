package replication

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/stretchr/testify/require"
)

// TestSynctestPullRetriesOnSchedule: a heads exchange with a peer whose
// database is not started yet is refused, and tried again on the
// schedule of announceGaps (1 s, then 2 s later, then 4 s later); the
// first try after the peer starts brings its heads. Under synctest the
// schedule is exact.
func TestSynctestPullRetriesOnSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		responder, asker := simPair(t, 5*time.Millisecond)
		bs := newBlockstore()
		nodes := chain(t, bs, 3)
		served := NewBroadcaster(ctx, Config{Self: responder.ID(), Blocks: bs, Counters: &Counters{},
			Delegate: openDelegate{heads: []cid.Cid{nodes[0].Cid()}}, InlineLimit: 1 << 10})
		srv := NewHeadsServer(func(k [32]byte) (cid.Cid, *Broadcaster) {
			if k == TopicKey(manifest) {
				return manifest, served
			}
			return cid.Undef, nil
		})
		responder.SetStreamHandler(HeadsProtocol, func(st network.Stream) { srv.Handle(ctx, st) })

		b := NewBroadcaster(ctx, Config{Self: asker.ID(), Blocks: newBlockstore(), Counters: &Counters{},
			Delegate: openDelegate{}, Manifest: manifest, Host: asker})
		b.wg.Add(1)
		go b.pullLoop(asker)
		start := time.Now()
		b.queuePull(responder.ID())

		// Refused at 0 s and at 1 s; the responder starts at 2 s; the
		// try at 3 s brings the head.
		time.Sleep(2 * time.Second)
		require.Zero(t, b.Queued(), "heads taken from a database not started")
		served.started.Store(true)
		for b.Queued() == 0 {
			time.Sleep(10 * time.Millisecond)
		}
		took := time.Since(start)
		require.GreaterOrEqual(t, took, 3*time.Second)
		require.Less(t, took, 3*time.Second+100*time.Millisecond, "the third try is 1 s + 2 s after the first")
		require.EqualValues(t, 1, served.stats.HeadsServed.Load())
		synctest.Wait()
		b.pullMu.Lock()
		require.Empty(t, b.pulls, "the schedule ends with the exchange that worked")
		b.pullMu.Unlock()

		cancel()
		b.wg.Wait()
	})
}

// TestSynctestPullGivesUpAfterTheSchedule: a peer that keeps refusing is
// tried len(announceGaps) times, over 7 s, and then left alone.
func TestSynctestPullGivesUpAfterTheSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		responder, asker := simPair(t, 5*time.Millisecond)
		var tries atomic.Int32
		responder.SetStreamHandler(HeadsProtocol, func(st network.Stream) {
			defer st.Close()
			tries.Add(1)
			_, _ = st.Write(appendBytes([]byte{1}, []byte("busy")))
		})
		b := NewBroadcaster(ctx, Config{Self: asker.ID(), Blocks: newBlockstore(), Counters: &Counters{},
			Delegate: openDelegate{}, Manifest: manifest, Host: asker})
		b.wg.Add(1)
		go b.pullLoop(asker)
		b.queuePull(responder.ID())
		time.Sleep(time.Minute)
		synctest.Wait()
		require.EqualValues(t, len(announceGaps), tries.Load())
		b.pullMu.Lock()
		require.Empty(t, b.pulls)
		b.pullMu.Unlock()
		require.Zero(t, b.Queued())
		cancel()
		b.wg.Wait()
		require.True(t, errors.Is(b.ctx.Err(), context.Canceled))
	})
}

// TestSynctestPullFromAnEmptyDatabase: a peer whose database has no heads
// yet answers with an empty message; that is an answer (no retry, nothing
// counted as rejected), so a heads exchange also tells whether a peer has
// the database open.
func TestSynctestPullFromAnEmptyDatabase(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		responder, asker := simPair(t, 5*time.Millisecond)
		served := NewBroadcaster(ctx, Config{Self: responder.ID(), Blocks: newBlockstore(), Counters: &Counters{},
			Delegate: openDelegate{}, InlineLimit: 1 << 10})
		served.started.Store(true)
		srv := NewHeadsServer(func([32]byte) (cid.Cid, *Broadcaster) { return manifest, served })
		responder.SetStreamHandler(HeadsProtocol, func(st network.Stream) { srv.Handle(ctx, st) })
		b := NewBroadcaster(ctx, Config{Self: asker.ID(), Blocks: newBlockstore(), Counters: &Counters{},
			Delegate: openDelegate{}, Manifest: manifest})
		empty, err := EncodeMessage(&Message{})
		require.NoError(t, err)
		require.Equal(t, noHeads, empty, "what an empty database answers")
		require.NoError(t, b.pullHeads(ctx, asker, responder.ID()))
		require.Zero(t, b.stats.Rejected.Load())
		require.Zero(t, b.Queued())
	})
}
