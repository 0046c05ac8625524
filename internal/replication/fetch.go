package replication

import (
	"context"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Fetching: announced heads whose blocks are missing are fetched in the
// background by a bounded pool, round-robin across announcers, so one
// announcer's unfetchable heads never stall the others.

// maxFetchesPerPeer bounds the fetches one announcer can have queued or in
// flight; its further heads are dropped until those complete.
const maxFetchesPerPeer = 16

// maxConcurrentFetches bounds background fetches of announced heads.
const maxConcurrentFetches = 8

// nextFetch takes the next head to fetch, round-robin across announcers so
// that one announcer's unfetchable heads cannot starve the others.
func (b *Broadcaster) nextFetch() (cid.Cid, peer.ID, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.fetchOrder) == 0 {
		return cid.Undef, "", false
	}
	from := b.fetchOrder[0]
	b.fetchOrder = b.fetchOrder[1:]
	q := b.fetchQ[from]
	h := q[0]
	if len(q) > 1 {
		b.fetchQ[from] = q[1:]
		b.fetchOrder = append(b.fetchOrder, from)
	} else {
		delete(b.fetchQ, from)
	}
	b.fetching[from]++
	return h, from, true
}

// fetchLoop is one of maxConcurrentFetches workers fetching announced
// heads' blocks, each bounded by the fetch timeout.
func (b *Broadcaster) fetchLoop() {
	defer b.wg.Done()
	for {
		h, from, ok := b.nextFetch()
		if !ok {
			select {
			case <-b.ctx.Done():
				return
			case <-b.fetchWake:
			}
			continue
		}
		// Wake another worker in case more is queued.
		select {
		case b.fetchWake <- struct{}{}:
		default:
		}
		ctx, cancel := context.WithTimeout(b.ctx, b.cfg.FetchTimeout)
		b.awaitPull(ctx, from)
		_, err := b.dag.Get(ctx, h)
		cancel()
		b.mu.Lock()
		if b.fetching[from]--; b.fetching[from] == 0 {
			delete(b.fetching, from)
		}
		if err != nil {
			delete(b.pending, h)
		}
		b.mu.Unlock()
		if err != nil {
			if b.ctx.Err() != nil {
				return
			}
			b.stats.FetchFailures.Add(1)
			b.log.Debug("fetch announced head", "head", h, "error", err)
			continue
		}
		b.Enqueue(h, from)
	}
}
