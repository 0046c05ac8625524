package engine_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/enginetest"
	"github.com/latticedb/lattice/internal/poll"
)

// TestReplayedAnnouncements captures a writer's real announcements and
// replays them many times from another peer: in a database that peer may
// not write, they are refused at the gate; in an open one they are
// accepted and change nothing. Either way honest replication goes on.
func TestReplayedAnnouncements(t *testing.T) {
	for _, tc := range []struct {
		name   string
		access func(a, b *engine.Engine) accesscontrol.Config
		refuse bool
	}{
		{"static", func(a, b *engine.Engine) accesscontrol.Config { return accesscontrol.Static(a.ID(), b.ID()) }, true},
		{"open", func(*engine.Engine, *engine.Engine) accesscontrol.Config { return accesscontrol.Open() }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			a, b := enginetest.NewEngine(t), enginetest.NewEngine(t)
			enginetest.ConnectAll(t, a, b)
			dbA, err := a.Create(ctx, "replay", engine.WithAccess(tc.access(a, b)))
			require.NoError(t, err)
			dbB := enginetest.Open(t, b, dbA.Address())
			ca, cb := dbA.Collection("c"), dbB.Collection("c")

			// A third peer listens on the topic and records A's messages.
			f := newFlooder(t, dbA.Address(), b)
			sub, err := f.topic.Subscribe()
			require.NoError(t, err)
			defer sub.Cancel()
			// Write until the listener has seen one of A's announcements:
			// one made before the listener is in B's mesh reaches it only
			// by gossip, if at all.
			var captured [][]byte
			n := 0
			poll.Eventually(t, 30*time.Second, func() error {
				_, err := ca.InsertOne(ctx, engine.M{"_id": fmt.Sprint("a", n)})
				require.NoError(t, err)
				n++
				rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				defer cancel()
				for {
					msg, err := sub.Next(rctx)
					if err != nil {
						return fmt.Errorf("no announcement from the writer seen after %d writes", n)
					}
					if msg.GetFrom() == a.ID() {
						captured = append(captured, msg.Data)
						return nil
					}
				}
			})
			enginetest.Converged(t, 20*time.Second, n, ca, cb)
			before := enginetest.Dump(t, cb)
			rejectedBefore := dbB.Stats().Rejected

			for i := 0; i < 200; i++ {
				f.publish(t, captured[i%len(captured)])
			}
			// Honest replication goes on, and the replays changed nothing.
			_, err = ca.InsertOne(ctx, engine.M{"_id": "after"})
			require.NoError(t, err)
			poll.Eventually(t, 20*time.Second, func() error {
				if !has(cb, "after") {
					return fmt.Errorf("the honest write after the replays has not arrived")
				}
				return nil
			})
			enginetest.Converged(t, 20*time.Second, n+1, ca, cb)
			require.NoError(t, cb.FindOneAndDelete(ctx, engine.M{"_id": "after"}).Err())
			enginetest.Converged(t, 20*time.Second, n, ca, cb)
			require.Equal(t, before, enginetest.Dump(t, cb))
			if tc.refuse {
				poll.Eventually(t, 10*time.Second, func() error {
					if dbB.Stats().Rejected == rejectedBefore {
						return fmt.Errorf("replays not refused yet")
					}
					return nil
				})
			}
		})
	}
}
