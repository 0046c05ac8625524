package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/spf13/cobra"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/query"
)

func newDemoCmd() *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Two peers in one process share a to-do list and converge",
		Long: `Start two in-memory peers, A and B, on loopback. A creates a TodoList
database; B opens it by address. Both write to-dos, concurrently; every write
is printed as it happens and again as it replicates to the other peer.
Finally both replicas are compared: the demo exits 0 once they hold the same
documents, 1 if they do not converge within --timeout.`,
		Example: `  lattice demo`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			return runDemo(ctx, cmd.OutOrStdout())
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 20*time.Second, "give up if the replicas have not converged by then")
	return cmd
}

// demoPeer is one side of the demo.
type demoPeer struct {
	name  string
	e     *engine.Engine
	db    *engine.Database
	todos *engine.Collection
}

func runDemo(ctx context.Context, out io.Writer) (err error) {
	start := time.Now()
	var mu sync.Mutex
	say := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(out, format+"\n", args...)
	}

	newPeer := func(name string) (*demoPeer, error) {
		e, err := engine.New(ctx, engine.WithInMemory(), engine.WithListenAddrs("/ip4/127.0.0.1/tcp/0"),
			engine.WithRebroadcastInterval(time.Second))
		if err != nil {
			return nil, err
		}
		return &demoPeer{name: name, e: e}, nil
	}
	a, err := newPeer("A")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, a.e.Close()) }()
	b, err := newPeer("B")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, b.e.Close()) }()
	say("Lattice demo: two peers on loopback share one replicated to-do list.")
	say("  peer A %s", a.e.ID())
	say("  peer B %s", b.e.ID())

	if err := b.e.Connect(ctx, peer.AddrInfo{ID: a.e.ID(), Addrs: a.e.Host().Addrs()}); err != nil {
		return err
	}
	a.db, err = a.e.Create(ctx, "TodoList", engine.WithAccess(accesscontrol.Open()),
		engine.WithMeta("created", time.Now().UTC().Format(time.RFC3339Nano)))
	if err != nil {
		return err
	}
	b.db, err = b.e.Open(ctx, a.db.Address())
	if err != nil {
		return err
	}
	a.todos, b.todos = a.db.Collection("todos"), b.db.Collection("todos")
	say("A created %s (open access); B opened it by address.", a.db.Address())
	say("")

	// Print every change each peer sees, as it sees it.
	evCtx, stopEvents := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stopEvents(); wg.Wait() }()
	for _, p := range []*demoPeer{a, b} {
		events := p.db.Events(evCtx)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ev := range events {
				if ev.Type != engine.EventReplicated {
					continue
				}
				say("  %6s  %s received %s", since(start), p.name, describe(evCtx, p.todos, ev))
			}
		}()
	}

	// Both write at once: inserts, then an update and a delete of the other's
	// documents once they arrive.
	write := func(p *demoPeer, what string, f func() error) error {
		if err := f(); err != nil {
			return fmt.Errorf("%s %s: %w", p.name, what, err)
		}
		say("  %6s  %s wrote    %s", since(start), p.name, what)
		return nil
	}
	var writers sync.WaitGroup
	errs := make([]error, 2)
	for i, job := range []struct {
		p      *demoPeer
		titles []string
	}{
		{a, []string{"Buy oat milk", "Water the plants", "Book the dentist"}},
		{b, []string{"Call the plumber", "Return library books"}},
	} {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for j, title := range job.titles {
				id := fmt.Sprintf("%s%d", job.p.name, j+1)
				if err := write(job.p, fmt.Sprintf("%s %q", id, title), func() error {
					_, err := job.p.todos.InsertOne(ctx, engine.M{"_id": id, "title": title, "isDone": false})
					return err
				}); err != nil {
					errs[i] = err
					return
				}
			}
		}()
	}
	writers.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	// B completes one of A's to-dos and A deletes one of B's, once each has
	// arrived.
	if err := waitFor(ctx, func() bool { n, _ := b.todos.CountDocuments(ctx, engine.M{"_id": "A1"}); return n == 1 }); err != nil {
		return fmt.Errorf("A1 never reached B: %w", err)
	}
	if err := write(b, `A1 {"$set": {"isDone": true}}`, func() error {
		_, err := b.todos.UpdateOne(ctx, engine.M{"_id": "A1"}, engine.M{"$set": engine.M{"isDone": true}})
		return err
	}); err != nil {
		return err
	}
	if err := waitFor(ctx, func() bool { n, _ := a.todos.CountDocuments(ctx, engine.M{"_id": "B2"}); return n == 1 }); err != nil {
		return fmt.Errorf("B2 never reached A: %w", err)
	}
	if err := write(a, "delete B2", func() error {
		_, err := a.todos.DeleteOne(ctx, engine.M{"_id": "B2"})
		return err
	}); err != nil {
		return err
	}

	// Wait until both replicas agree.
	var final []engine.M
	err = waitFor(ctx, func() bool {
		if fmt.Sprint(a.db.Heads()) != fmt.Sprint(b.db.Heads()) {
			return false
		}
		for _, p := range []*demoPeer{a, b} {
			if st := p.db.Stats(); st.QueuedHeads > 0 || st.PendingChanges > 0 {
				return false
			}
		}
		da, errA := dump(ctx, a.todos)
		db, errB := dump(ctx, b.todos)
		if errA != nil || errB != nil || fmt.Sprint(da) != fmt.Sprint(db) || len(da) != 4 {
			return false
		}
		final = da
		return true
	})
	stopEvents()
	wg.Wait()
	if err != nil {
		return fmt.Errorf("the replicas did not converge: %w", err)
	}
	say("")
	say("Converged after %s: A and B hold the same %d to-dos.", since(start), len(final))
	for _, d := range final {
		mark := " "
		if d["isDone"] == true {
			mark = "x"
		}
		say("  [%s] %-4v %v", mark, d["_id"], d["title"])
	}
	return nil
}

// describe names the document an event is about, as the peer now sees it.
func describe(ctx context.Context, c *engine.Collection, ev engine.Event) string {
	if ev.Deleted {
		return fmt.Sprintf("delete %v", ev.ID)
	}
	doc, err := c.FindByID(ctx, ev.ID).Raw()
	if err != nil {
		return fmt.Sprintf("%v", ev.ID)
	}
	return fmt.Sprintf("%v %q (done: %v)", ev.ID, doc["title"], doc["isDone"])
}

// dump returns a collection's documents in _id order.
func dump(ctx context.Context, c *engine.Collection) ([]engine.M, error) {
	cur, err := c.Find(ctx, nil, query.Sort("_id", 1))
	if err != nil {
		return nil, err
	}
	var docs []map[string]any
	if err := cur.All(ctx, &docs); err != nil {
		return nil, err
	}
	out := make([]engine.M, len(docs))
	for i, d := range docs {
		out[i] = d
	}
	return out, nil
}

// waitFor polls cond until it holds or ctx ends.
func waitFor(ctx context.Context, cond func() bool) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

func since(t time.Time) string {
	return fmt.Sprintf("%dms", time.Since(t).Milliseconds())
}
