package replication

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/libp2p/go-libp2p"
	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/crdt"
	"github.com/latticedb/lattice/internal/store"
)

// BenchmarkCompactOpen: an open replica with a long history compacts
// while a writer keeps committing signed deltas beside it. One writer
// commits LATTICE_COMPACT_DELTAS single-key deltas (default 20,000) over
// LATTICE_COMPACT_DOCS keys (default 1,000), each overwrite tombstoning
// what it overwrites (a delete and a put in one delta, as
// BenchmarkSnapshotJoin's default); then the replica compacts while the
// writer goes on. Reported: the compaction's time, the writes
// acknowledged during it and their slowest, the history before and
// after, and the heap's growth (sampled every 10 ms) over the compaction.
// On pebble in a temporary directory (the in-memory store copies a whole
// prefix under its lock on every query: writes would wait on the scans).
//
//	go test -run '^$' -bench CompactOpen -benchtime 1x -timeout 60m ./internal/replication/
func BenchmarkCompactOpen(b *testing.B) {
	deltas := envInt("LATTICE_COMPACT_DELTAS", 20_000)
	docs := envInt("LATTICE_COMPACT_DOCS", 1_000)
	ctx := b.Context()
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	require.NoError(b, err)
	st, err := store.Open(b.TempDir(), false, hclog.NewNullLogger(), store.DefaultSizes)
	require.NoError(b, err)
	cfg := DefaultNodeConfig()
	cfg.PubsubWatch = 0
	na, err := NewNode(ctx, h, st, cfg)
	require.NoError(b, err)
	b.Cleanup(func() {
		require.NoError(b, na.Close())
		require.NoError(b, h.Close())
		require.NoError(b, st.Close())
	})
	ha := h
	manifest := testManifest(b, "compact-bench")
	ac, err := accesscontrol.NewStatic(accesscontrol.Static(ha.ID()).Params, accesscontrol.Env{})
	require.NoError(b, err)
	c := replicaConfig(manifest, nil)
	c.Access = ac
	ra, err := na.Open(ctx, c)
	require.NoError(b, err)
	write := func(i int) {
		k := crdt.CollectionKey(fmt.Sprintf("d%05d", i%docs))
		if i < docs {
			signedWrite(b, ra, ha, k, fmt.Sprintf(`"v%d"`, i))
		} else {
			signedWrite(b, ra, ha, k, "", k, fmt.Sprintf(`"v%d"`, i))
		}
	}
	start := time.Now()
	for i := 0; i < deltas; i++ {
		write(i)
	}
	b.Logf("wrote %d deltas over %d keys in %s", deltas, docs, time.Since(start).Round(time.Millisecond))
	b.ResetTimer()
	for range b.N {
		stop := make(chan struct{})
		var during atomic.Int64
		var slowest atomic.Int64
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := deltas; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				t0 := time.Now()
				write(i)
				d := int64(time.Since(t0))
				for {
					s := slowest.Load()
					if d <= s || slowest.CompareAndSwap(s, d) {
						break
					}
				}
				during.Add(1)
			}
		}()
		var base runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&base)
		var peak atomic.Uint64
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			var ms runtime.MemStats
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					runtime.ReadMemStats(&ms)
					if ms.HeapInuse > peak.Load() {
						peak.Store(ms.HeapInuse)
					}
				}
			}
		}()
		start := time.Now()
		res, err := ra.Compact(ctx)
		took := time.Since(start)
		close(stop)
		wg.Wait()
		<-sampled
		require.NoError(b, err)
		b.ReportMetric(took.Seconds(), "compact-s")
		b.ReportMetric(float64(during.Load()), "writes-during")
		b.ReportMetric(float64(slowest.Load())/1e6, "slowest-write-ms")
		b.ReportMetric(float64(res.Before.Blocks), "blocks-before")
		b.ReportMetric(float64(res.After.Blocks), "blocks-after")
		b.ReportMetric(float64(res.Before.Bytes)/1e6, "MB-before")
		b.ReportMetric(float64(res.After.Bytes)/1e6, "MB-after")
		b.ReportMetric(float64(int64(peak.Load())-int64(base.HeapInuse))/1e6, "heap-growth-MB")
	}
}
