package engine_test

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/enginetest"
	"github.com/latticedb/lattice/internal/poll"
	"github.com/latticedb/lattice/internal/replication"
	"github.com/latticedb/lattice/internal/simtest"
)

// TestSynctestReplayedAnnouncements is TestReplayedAnnouncements under
// synctest: a stranger on the network captures a writer's real
// announcements and replays them 200 times to a replica. In a database
// the stranger may not write they are refused at the gate; in an open one
// they change nothing. Honest replication goes on either way.
func TestSynctestReplayedAnnouncements(t *testing.T) {
	for _, tc := range []struct {
		name   string
		access func(a, b *engine.Engine) accesscontrol.Config
		refuse bool
	}{
		{"static", func(a, b *engine.Engine) accesscontrol.Config { return accesscontrol.Static(a.ID(), b.ID()) }, true},
		{"open", func(*engine.Engine, *engine.Engine) accesscontrol.Config { return accesscontrol.Open() }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := simtest.New(t, 7)
				ctx := context.Background()
				a, b := n.Engine(), n.Engine()
				n.ConnectAll(a, b)
				dbA, err := a.Create(ctx, "replay", engine.WithAccess(tc.access(a, b)))
				require.NoError(t, err)
				dbB := enginetest.Open(t, b, dbA.Address())
				ca, cb := dbA.Collection("c"), dbB.Collection("c")

				// The stranger joins the topic through b and records a's
				// announcements.
				addr, err := engine.ParseAddress(dbA.Address())
				require.NoError(t, err)
				h := n.Host()
				pctx, cancel := context.WithCancel(ctx)
				defer cancel()
				ps, err := pubsub.NewGossipSub(pctx, h, pubsub.WithMessageSignaturePolicy(pubsub.StrictSign), pubsub.WithFloodPublish(true))
				require.NoError(t, err)
				topic, err := ps.Join(replication.TopicName(addr.Manifest))
				require.NoError(t, err)
				defer topic.Close()
				sub, err := topic.Subscribe()
				require.NoError(t, err)
				defer sub.Cancel()
				require.NoError(t, h.Connect(ctx, simtest.AddrInfo(b)))
				poll.Eventually(t, time.Minute, func() error {
					for _, p := range topic.ListPeers() {
						if p == b.ID() {
							return nil
						}
					}
					return fmt.Errorf("b not on the stranger's topic yet")
				})

				var captured [][]byte
				writes := 0
				poll.Eventually(t, time.Minute, func() error {
					_, err := ca.InsertOne(ctx, engine.M{"_id": fmt.Sprint("a", writes)})
					require.NoError(t, err)
					writes++
					rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
					defer rcancel()
					for {
						msg, err := sub.Next(rctx)
						if err != nil {
							return fmt.Errorf("no announcement from the writer seen after %d writes", writes)
						}
						if msg.GetFrom() == a.ID() {
							captured = append(captured, msg.Data)
							return nil
						}
					}
				})
				n.Converged(time.Minute, writes, ca, cb)
				before, rejectedBefore := enginetest.Dump(t, cb), dbB.Stats().Rejected

				for i := 0; i < 200; i++ {
					require.NoError(t, topic.Publish(ctx, captured[i%len(captured)]))
				}
				_, err = ca.InsertOne(ctx, engine.M{"_id": "after"})
				require.NoError(t, err)
				n.Converged(time.Minute, writes+1, ca, cb)
				require.NoError(t, cb.FindOneAndDelete(ctx, engine.M{"_id": "after"}).Err())
				n.Converged(time.Minute, writes, ca, cb)
				require.Equal(t, before, enginetest.Dump(t, cb), "the replays changed something")
				if tc.refuse {
					poll.Eventually(t, time.Minute, func() error {
						if dbB.Stats().Rejected == rejectedBefore {
							return fmt.Errorf("replays not refused yet")
						}
						return nil
					})
				}
			})
		})
	}
}
