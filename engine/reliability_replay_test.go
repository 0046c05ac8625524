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
			dbB := openOn(t, b, dbA.Address())
			ca, cb := dbA.Collection("c"), dbB.Collection("c")

			// A third peer listens on the topic and records A's messages.
			f := newFlooder(t, dbA.Address(), b)
			sub, err := f.topic.Subscribe()
			require.NoError(t, err)
			defer sub.Cancel()
			for i := 0; i < 5; i++ {
				_, err := ca.InsertOne(ctx, engine.M{"_id": fmt.Sprint("a", i)})
				require.NoError(t, err)
			}
			var captured [][]byte
			rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			for len(captured) == 0 {
				msg, err := sub.Next(rctx)
				require.NoError(t, err, "no announcement from the writer seen")
				if msg.GetFrom() == a.ID() {
					captured = append(captured, msg.Data)
				}
			}
			enginetest.Converged(t, 20*time.Second, 5, ca, cb)
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
			enginetest.Converged(t, 20*time.Second, 6, ca, cb)
			require.NoError(t, cb.FindOneAndDelete(ctx, engine.M{"_id": "after"}).Err())
			enginetest.Converged(t, 20*time.Second, 5, ca, cb)
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
