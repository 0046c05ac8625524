package replication

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multihash"
	"github.com/stretchr/testify/require"
)

// recordingDAG records the CIDs fetched and fails each fetch.
type recordingDAG struct {
	ipld.DAGService
	mu    sync.Mutex
	asked map[cid.Cid]bool
}

func (d *recordingDAG) Get(ctx context.Context, c cid.Cid) (ipld.Node, error) {
	d.mu.Lock()
	d.asked[c] = true
	d.mu.Unlock()
	return nil, errors.New("recordingDAG: no blocks")
}

func (d *recordingDAG) was(c cid.Cid) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.asked[c]
}

// TestSynctestFetchesPassOverAnnouncersAwaitingTheirFirstExchange: heads
// announced by peers whose first heads exchange is still pending (their
// bitswap would refuse this peer until it ends) do not take the fetch
// workers: with more such announcers than workers, another announcer's
// head is fetched at once, and theirs as soon as each exchange ends.
func TestSynctestFetchesPassOverAnnouncersAwaitingTheirFirstExchange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		dag := &recordingDAG{asked: make(map[cid.Cid]bool)}
		b := NewBroadcaster(ctx, Config{Self: peer.ID("self"), Blocks: newBlockstore(), DAG: dag, Counters: &Counters{},
			Delegate: openDelegate{}, Manifest: manifest, FetchTimeout: 30 * time.Second})
		b.wg.Add(maxConcurrentFetches)
		for range maxConcurrentFetches {
			go b.fetchLoop()
		}
		head := func(i int) cid.Cid {
			mh, err := multihash.Sum(fmt.Appendf(nil, "head %d", i), multihash.SHA2_256, -1)
			require.NoError(t, err)
			return cid.NewCidV1(cid.DagProtobuf, mh)
		}
		// Twice as many announcers as workers, each with its first
		// exchange in flight (as pullLoop would have it) and two heads.
		var waiting []peer.ID
		var theirs []cid.Cid
		for i := range 2 * maxConcurrentFetches {
			p := peer.ID(fmt.Sprintf("awaiting-%d", i))
			b.pullMu.Lock()
			b.pulls[p] = &pull{inFlight: true}
			b.pullsInFlight++
			b.pullMu.Unlock()
			for j := range 2 {
				h := head(100*i + j)
				b.offer(h, p)
				theirs = append(theirs, h)
			}
			waiting = append(waiting, p)
		}
		other := head(-1)
		b.offer(other, peer.ID("proven"))
		synctest.Wait()
		require.True(t, dag.was(other), "another announcer's head waited behind exchanges in flight")
		for _, h := range theirs {
			require.False(t, dag.was(h), "a head fetched before its announcer's exchange ended")
		}

		for _, p := range waiting {
			b.pulled(p, nil)
		}
		synctest.Wait()
		for _, h := range theirs {
			require.True(t, dag.was(h), "a head not fetched once its announcer's exchange ended")
		}
		cancel()
		b.wg.Wait()
	})
}
