package snapshot

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"

	"github.com/latticedb/lattice/crdt"
)

// failingStore fails the commit of its batches from the nth on, as a
// process killed there leaves the store: every batch before is whole,
// nothing of the failed one or after is written.
type failingStore struct {
	ds.Batching
	commits *int
	failAt  int
}

var errCrash = errors.New("crash")

func (f failingStore) Batch(ctx context.Context) (ds.Batch, error) {
	b, err := f.Batching.Batch(ctx)
	return failingBatch{b, f}, err
}

type failingBatch struct {
	ds.Batch
	f failingStore
}

func (b failingBatch) Commit(ctx context.Context) error {
	*b.f.commits++
	if *b.f.commits >= b.f.failAt {
		return errCrash
	}
	return b.Batch.Commit(ctx)
}

// An install cut short leaves the replica empty: it opens with no heads
// and no values, and installs again.
func TestInstallCutShortLeavesNothing(t *testing.T) {
	w := newWorld(t)
	defer w.close()
	a := w.writer("A")
	a.put("/k", "1")
	a.put("/j", "2")
	b := w.snapshot(a)
	base := dssync.MutexWrap(ds.NewMapDatastore())
	commits := 0
	layout := crdt.NewStoreLayout(harnessNS.String())
	if err := Install(w.ctx, failingStore{base, &commits, 1}, layout, w.bs, b); !errors.Is(err, errCrash) {
		t.Fatalf("got %v", err)
	}
	r := w.open("J", base)
	if len(r.heads()) != 0 || len(r.state([]string{"/k", "/j"})) != 0 {
		t.Fatalf("a cut-short install left heads %v, values %v", r.heads(), r.state([]string{"/k", "/j"}))
	}
	r.stop()
	if err := Install(w.ctx, base, layout, w.bs, b); err != nil {
		t.Fatal(err)
	}
	r.start()
	sameState(t, []string{"/k", "/j"}, a, r)
}

// A compaction cut short after any batch leaves a replica that reads the
// same and merges the same, and the next compaction finishes the work.
func TestCompactionCutShortLosesNothing(t *testing.T) {
	for failAt := 1; failAt <= 3; failAt++ {
		t.Run(fmt.Sprintf("crash at commit %d", failAt), func(t *testing.T) {
			w := newWorld(t)
			defer w.close()
			a, off := w.writer("A"), w.writer("Offline")
			keys := []string{"/k0", "/k1", "/k2"}
			a.put(keys[0], "first")
			w.deliver(a, off)
			for i := 0; i < 1400; i++ { // 4,200 keys to delete (marker, tombstone, version): two batches after the coverage's
				k := keys[i%3]
				a.batch([]op{{key: k, del: true}, {key: k, value: fmt.Sprintf("v%d", i)}})
			}
			want := a.state(keys)
			a.stop()
			commits := 0
			a.cov.Batching = failingStore{a.cov.Batching, &commits, failAt}
			_, err := Compact(w.ctx, a.cov, a.layout, goneBlocks{w.bs, a}, w.key, w.db, time.UnixMilli(1e12))
			if !errors.Is(err, errCrash) {
				t.Fatalf("got %v, want the crash", err)
			}
			a.cov.Batching = a.cov.Batching.(failingStore).Batching
			// Reopened as after a restart: the coverage is read again.
			cs, err := NewCoveredStore(w.ctx, a.cov.Batching, a.layout)
			if err != nil {
				t.Fatal(err)
			}
			a.cov, a.store = cs, cs
			a.start()
			if got := a.state(keys); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("after the crash %v, want %v", got, want)
			}
			off.del(keys[0])
			w.syncAll(a, off)
			sameState(t, keys, off, a)
			c := w.compact(a)
			if c.After.Blocks > 5 {
				t.Fatalf("the next compaction left %d blocks", c.After.Blocks)
			}
			sameState(t, keys, off, a)
		})
	}
}
