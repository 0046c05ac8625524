package benchmarks

import (
	"context"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/latticedb/lattice/engine"
)

// restartCatchUp has a replica B join A's database (base documents), close,
// miss away writes on A, and start again on the same data directory:
// timed from B's restart to holding every document, with B reconnecting on
// its own (its address book) rather than being told where A is.
func restartCatchUp(b *testing.B, base, away int, joiner ...engine.Option) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ctx := context.Background()
		ea := newEngine(b)
		ca := newCollection(b, ea)
		for k := 0; k < base; k++ {
			if _, err := ca.InsertOne(ctx, todo(k)); err != nil {
				b.Fatal(err)
			}
		}
		dir := b.TempDir()
		opts := append([]engine.Option{engine.WithDataDir(dir), engine.WithListenAddrs("/ip4/127.0.0.1/tcp/0")}, joiner...)
		eb, err := engine.New(ctx, opts...)
		if err != nil {
			b.Fatal(err)
		}
		if err := eb.Connect(ctx, peer.AddrInfo{ID: ea.ID(), Addrs: ea.Host().Addrs()}); err != nil {
			b.Fatal(err)
		}
		addr := ca.Database().Address()
		dbB, err := eb.Open(ctx, addr)
		if err != nil {
			b.Fatal(err)
		}
		waitCount(b, dbB.Collection("docs"), base)
		if err := eb.Close(); err != nil {
			b.Fatal(err)
		}
		for k := 0; k < away; k++ {
			if _, err := ca.InsertOne(ctx, todo(base+k)); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		start := time.Now()
		eb, err = engine.New(ctx, opts...)
		if err != nil {
			b.Fatal(err)
		}
		dbB, err = eb.Open(ctx, addr)
		if err != nil {
			b.Fatal(err)
		}
		waitCount(b, dbB.Collection("docs"), base+away)
		b.ReportMetric(time.Since(start).Seconds(), "s-to-catch-up")
		st := dbB.Stats()
		b.ReportMetric(float64(st.Catchup.Runs), "catchups")
		b.StopTimer()
		_ = eb.Close()
	}
}

// waitCount waits (up to 10 minutes) until c holds n documents.
func waitCount(b *testing.B, c *engine.Collection, n int) {
	b.Helper()
	deadline := time.Now().Add(10 * time.Minute)
	for {
		got, err := c.CountDocuments(context.Background(), nil)
		if err != nil {
			b.Fatal(err)
		}
		if int(got) == n {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d documents after 10 minutes", got, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// RestartCatchUp300 is a replica restarted after missing 300 writes on
// top of a 1,000-delta history: it redials its peer from its address book
// and catches up by stream.
func RestartCatchUp300(b *testing.B) { restartCatchUp(b, 1000, 300) }

// RestartCatchUp300Bitswap is the baseline: the same restart walking the
// missed writes with bitswap.
func RestartCatchUp300Bitswap(b *testing.B) { restartCatchUp(b, 1000, 300, engine.WithCatchup(false)) }
