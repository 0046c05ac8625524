package engine_test

import (
	"context"
	"errors"
	"testing"
	"time"

	blocks "github.com/ipfs/go-block-format"
	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/poll"
)

// A queued head whose block the quarantine evicted before go-ds-crdt took
// it goes back to the background fetch (bounded by the fetch timeout)
// instead of to go-ds-crdt, whose own fetch would hold up every later head
// for minutes.
func TestEvictedQueuedHeadIsFetchedAgain(t *testing.T) {
	ctx := context.Background()
	e, err := engine.New(ctx, engine.WithInMemory(), engine.WithListenAddrs("/ip4/127.0.0.1/tcp/0"), engine.WithFetchTimeout(200*time.Millisecond))
	require.NoError(t, err)
	defer e.Close()
	db, err := e.Create(ctx, "notes")
	require.NoError(t, err)

	// Queued as present, gone (evicted) by the time go-ds-crdt asks.
	blk := blocks.NewBlock([]byte("a head nobody serves"))
	engine.EnqueueHead(db, blk.Cid())

	poll.Eventually(t, 30*time.Second, func() error {
		if db.Stats().FetchFailures == 0 {
			return errors.New("the evicted head was not fetched again")
		}
		return nil
	})
}
