package replication

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/ipfs/go-datastore/query"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/crdt"
	"github.com/latticedb/lattice/internal/store"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func benchNode(b *testing.B) (*Node, host.Host) {
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	require.NoError(b, err)
	cfg := DefaultNodeConfig()
	cfg.PubsubWatch = 0
	st := store.InMemory()
	n, err := NewNode(b.Context(), h, st, cfg)
	require.NoError(b, err)
	b.Cleanup(func() {
		require.NoError(b, n.Close())
		require.NoError(b, h.Close())
		require.NoError(b, st.Close())
	})
	return n, h
}

// waitFor checks cond every 250 ms (counting a long history's markers
// every 20 ms, as poll does, would slow the join it measures).
func waitFor(b *testing.B, cond func() error) {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(60 * time.Minute)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			b.Fatal(err)
		}
		<-tick.C
	}
}

// processed counts the blocks r's go-ds-crdt merged.
func processed(b *testing.B, r *Replica) int {
	res, err := r.n.store.Query(b.Context(), query.Query{Prefix: crdt.NewStoreLayout(r.cfg.Namespace.String()).ProcessedPrefix(), KeysOnly: true})
	require.NoError(b, err)
	defer res.Close()
	n := 0
	for range res.Next() {
		n++
	}
	return n
}

// BenchmarkSnapshotJoin: a fresh join of a long history over few live
// keys, by the catch-up stream (today's join) and from a snapshot, on
// real hosts over loopback TCP, in-memory stores. One writer commits
// LATTICE_SNAP_DELTAS signed single-key deltas (default 100,000) over
// LATTICE_SNAP_DOCS keys (default 1,000). Each delta after the first
// round overwrites its key as a writer that tombstones what it overwrites
// would (a delete and a put in one delta): go-ds-crdt's own puts tombstone
// nothing, so with LATTICE_SNAP_PUTS_ONLY=1 (today's engine writer) every
// version stays live and the snapshot carries the whole history.
//
//	go test -run '^$' -bench SnapshotJoin -benchtime 1x -timeout 60m ./internal/replication/
func BenchmarkSnapshotJoin(b *testing.B) {
	deltas := envInt("LATTICE_SNAP_DELTAS", 100_000)
	docs := envInt("LATTICE_SNAP_DOCS", 1_000)
	putsOnly := os.Getenv("LATTICE_SNAP_PUTS_ONLY") != ""
	ctx := b.Context()
	na, ha := benchNode(b)
	n1, h1 := benchNode(b)
	n2, h2 := benchNode(b)
	manifest := testManifest(b, "snapshot-bench")
	ac, err := accesscontrol.NewStatic(accesscontrol.Static(ha.ID()).Params, accesscontrol.Env{})
	require.NoError(b, err)
	config := func() ReplicaConfig {
		c := replicaConfig(manifest, nil)
		c.Access = ac
		return c
	}
	ra, err := na.Open(ctx, config())
	require.NoError(b, err)
	start := time.Now()
	for i := 0; i < deltas; i++ {
		k := crdt.CollectionKey(fmt.Sprintf("d%05d", i%docs))
		v := fmt.Sprintf(`"v%d"`, i)
		if i < docs || putsOnly {
			signedWrite(b, ra, ha, k, v)
		} else {
			signedWrite(b, ra, ha, k, "", k, v)
		}
	}
	b.Logf("wrote %d deltas over %d keys in %s (puts only: %v)", deltas, docs, time.Since(start).Round(time.Millisecond), putsOnly)
	want := ra.Heads(ctx)
	var keys []string
	for i := 0; i < docs; i++ {
		keys = append(keys, crdt.CollectionKey(fmt.Sprintf("d%05d", i)))
	}
	wantValues := values(b, ra, keys)
	// A fresh go-ds-crdt takes the first heads it hears as its own before
	// it merges them: a join is done when every value is A's.
	done := func(r *Replica, merged int) func() error {
		return func() error {
			if err := sameHeads(ra, r); err != nil {
				return err
			}
			if n := processed(b, r); n < merged {
				return fmt.Errorf("%d blocks merged, want %d", n, merged)
			}
			got := values(b, r, keys)
			for k, v := range wantValues {
				if got[k] != v {
					return fmt.Errorf("%s: %q, want %q", k, got[k], v)
				}
			}
			return nil
		}
	}
	b.ResetTimer()
	for range b.N {
		// Before: the catch-up stream.
		start = time.Now()
		r1, err := n1.Open(ctx, config())
		require.NoError(b, err)
		connect(b, h1, ha)
		waitFor(b, done(r1, deltas))
		catchup := time.Since(start)
		c1 := r1.cfg.Counters
		got1 := c1.Catchup.Bytes.Load() + c1.BytesIn.Load()

		// After: a snapshot, then the tail.
		start = time.Now()
		connect(b, h2, ha)
		bundle, err := n2.FetchSnapshot(ctx, ha.ID(), manifest)
		require.NoError(b, err)
		fetched := time.Since(start)
		require.NoError(b, n2.InstallSnapshot(ctx, config(), bundle))
		r2, err := n2.Open(ctx, config())
		require.NoError(b, err)
		waitFor(b, done(r2, 0))
		snap := time.Since(start)
		c2 := r2.cfg.Counters
		got2 := uint64(len(bundle.Encode())) + c2.Catchup.Bytes.Load() + c2.BytesIn.Load()

		require.Equal(b, wantValues, values(b, r1, keys))
		require.Equal(b, wantValues, values(b, r2, keys))
		require.Equal(b, want, r2.Heads(ctx))
		b.ReportMetric(catchup.Seconds(), "catchup-s")
		b.ReportMetric(float64(got1)/1e6, "catchup-MB")
		b.ReportMetric(snap.Seconds(), "snapshot-s")
		b.ReportMetric(fetched.Seconds(), "snapshot-fetch-s")
		b.ReportMetric(float64(got2)/1e6, "snapshot-MB")
		b.ReportMetric(float64(len(bundle.Snapshot.Live)), "live-versions")
		b.ReportMetric(float64(len(bundle.Blocks)), "carried-blocks")
		b.ReportMetric(float64(bundle.Snapshot.Coverage.Len()), "covered-blocks")
	}
}
