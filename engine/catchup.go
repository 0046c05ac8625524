package engine

import (
	"context"
	"time"

	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/latticedb/lattice/internal/replication"
)

// Catch-up (see internal/replication's CatchUp): the engine serves the
// stored blocks of its open databases to peers catching up, and its
// databases' broadcasters stream missing histories into the quarantine
// through catchupSink.

// catchupPatience is how long a catch-up waits for the quarantine to make
// room before it goes on anyway (eviction then bounds the memory).
const catchupPatience = 2 * time.Second

// serveCatchup registers the catch-up protocol on the host.
func (e *Engine) serveCatchup() {
	srv := &replication.CatchupServer{
		Blocks: e.bstore,
		Serves: func(manifest cid.Cid) bool {
			e.mu.Lock()
			defer e.mu.Unlock()
			return isOpen(e.databases[manifest.String()])
		},
		Log: e.log.Named("catchup"),
	}
	e.handle(replication.CatchupProtocol, srv.Handle)
}

// handle serves protocol p with serve, one call per stream, while the
// engine is open: a stream that arrives as it closes is reset.
func (e *Engine) handle(p protocol.ID, serve func(context.Context, network.Stream)) {
	e.host.SetStreamHandler(p, func(st network.Stream) {
		ctx, leave, err := e.enter(context.Background())
		if err != nil {
			_ = st.Reset()
			return
		}
		defer leave()
		serve(ctx, st)
	})
}

// serveHeads registers the heads exchange on the host: a peer that joins
// one of our databases' topics asks for its heads (see
// replication.HeadsServer).
func (e *Engine) serveHeads() {
	srv := replication.NewHeadsServer(func(manifest cid.Cid) *replication.Broadcaster {
		e.mu.Lock()
		db := e.databases[manifest.String()]
		e.mu.Unlock()
		if !isOpen(db) {
			return nil
		}
		return db.served.Load()
	})
	e.handle(replication.HeadsProtocol, srv.Handle)
}

// catchupSink puts streamed blocks in the engine's quarantine.
type catchupSink struct{ e *Engine }

func (s catchupSink) Has(ctx context.Context, c cid.Cid) bool {
	has, err := s.e.held.Has(ctx, c)
	return err == nil && has
}

// Put goes through the fetch path's blockservice, so a bitswap fetch
// waiting for the block is answered at once.
func (s catchupSink) Put(ctx context.Context, b blocks.Block) error {
	return s.e.fetchServ.AddBlock(ctx, b)
}

// Wait keeps a catch-up from filling more than half the quarantine, which
// go-ds-crdt empties as it merges.
func (s catchupSink) Wait(ctx context.Context) error {
	return s.e.held.WaitBelow(ctx, s.e.held.Max()/2, catchupPatience)
}

var _ replication.CatchupSink = catchupSink{}
