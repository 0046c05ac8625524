package engine_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/enginetest"
	"github.com/latticedb/lattice/internal/poll"
)

// deliveries is a pubsub.RawTracer that records the authors of the
// messages gossipsub delivered.
type deliveries struct {
	mu   sync.Mutex
	from []peer.ID
}

func (d *deliveries) DeliverMessage(msg *pubsub.Message) {
	d.mu.Lock()
	d.from = append(d.from, msg.GetFrom())
	d.mu.Unlock()
}

func (d *deliveries) authors() []peer.ID {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]peer.ID(nil), d.from...)
}

func (*deliveries) OnNewOutboundStream(peer.ID, protocol.ID)             {}
func (*deliveries) OnClosedOutboundStream(peer.ID)                       {}
func (*deliveries) Join(string)                                          {}
func (*deliveries) Leave(string)                                         {}
func (*deliveries) Graft(peer.ID, string)                                {}
func (*deliveries) Prune(peer.ID, string)                                {}
func (*deliveries) ValidateMessage(*pubsub.Message)                      {}
func (*deliveries) RejectMessage(*pubsub.Message, string)                {}
func (*deliveries) DuplicateMessage(*pubsub.Message)                     {}
func (*deliveries) ThrottlePeer(peer.ID)                                 {}
func (*deliveries) RecvRPC(*pubsub.RPC)                                  {}
func (*deliveries) SendRPC(*pubsub.RPC, peer.ID)                         {}
func (*deliveries) SendRPCCompleted(*pubsub.RPC, peer.ID, time.Duration) {}
func (*deliveries) DropRPC(*pubsub.RPC, peer.ID)                         {}
func (*deliveries) UndeliverableMessage(*pubsub.Message)                 {}

// TestPubsubTracer: the tracer given with WithPubsubTracer sees the
// announcement of a write made on another engine; a nil one is refused.
func TestPubsubTracer(t *testing.T) {
	_, err := engine.New(context.Background(), engine.WithInMemory(), engine.WithPubsubTracer(nil))
	require.True(t, errors.Is(err, engine.ErrBadOption), "%v", err)

	tr := &deliveries{}
	a, b := enginetest.NewEngine(t), enginetest.NewEngine(t, engine.WithPubsubTracer(tr))
	enginetest.ConnectAll(t, a, b)
	dbA, ta := notesOn(t, a)
	octx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dbB, err := b.Open(octx, dbA.Address())
	require.NoError(t, err)
	// Write once each side lists the other on the topic: a write made
	// before reaches b through the heads exchange of the join, not a
	// pubsub message from a, and afterwards b's forward of the head and
	// a's rebroadcast suppress each other (each leaves out a head the
	// other announced within the interval), so a delivery from a was left
	// to chance (4 failures in 20 runs under load).
	poll.Eventually(t, 30*time.Second, func() error {
		if pa, pb := dbA.Stats().Peers, dbB.Stats().Peers; pa < 1 || pb < 1 {
			return fmt.Errorf("topic peers: a lists %d, b lists %d", pa, pb)
		}
		return nil
	})
	_, err = ta.InsertOne(context.Background(), engine.M{"_id": "n1"})
	require.NoError(t, err)
	enginetest.Converged(t, 60*time.Second, 1, ta, dbB.Collection("notes"))
	poll.Eventually(t, 30*time.Second, func() error {
		if !slices.Contains(tr.authors(), a.ID()) {
			return fmt.Errorf("no delivery from %s traced", a.ID())
		}
		return nil
	})
}
