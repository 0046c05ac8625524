// Package discoverytest is the conformance suite of discovery sources: a
// custom discovery.Source proves itself with one call of Run.
//
//	func TestMySource(t *testing.T) {
//		discoverytest.Run(t, discoverytest.Config{
//			NewSource: func(t testing.TB, started []peer.AddrInfo) discovery.Source {
//				return mysource.New(...)
//			},
//		})
//	}
//
// Run starts two engines that know nothing of each other, each with one
// source from NewSource and no other way to meet (no bootstrap peers, no
// explicit connect), and checks that they find each other, that a
// database created on one opens on the other by address alone, that
// writes replicate both ways, and that closing the engines stops the
// sources: no goroutine outlives them and a closed source does not start
// again. It is for tests only.
package discoverytest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/discovery"
	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/enginetest"
	"github.com/latticedb/lattice/internal/leaktest"
	"github.com/latticedb/lattice/internal/poll"
)

// Config is what Run needs of the source under test.
type Config struct {
	// NewSource returns a fresh source for one engine. It is called once
	// for each of the two engines, in order; started holds the address
	// of the engines started before (none for the first), for sources
	// such as a bootstrap list that must be told where to look. A source
	// that finds peers by itself (mDNS, a DHT) ignores it.
	NewSource func(t testing.TB, started []peer.AddrInfo) discovery.Source
	// EngineOptions are added to each engine's options (after the suite's
	// own: a data directory, TCP on loopback, discovery limits for tests).
	EngineOptions []engine.Option
	// Timeout bounds each condition the suite waits for; 0 means 60 s.
	Timeout time.Duration
	// SkipLeakCheck skips the check that no goroutine outlives the
	// engines, for a caller whose test process runs other goroutines of
	// its own meanwhile (a package's TestMain leak check still applies).
	SkipLeakCheck bool
}

// Run runs the suite. It calls t.Fatal on the first failure.
func Run(t *testing.T, cfg Config) {
	t.Helper()
	require.NotNil(t, cfg.NewSource, "discoverytest: Config.NewSource is nil")
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	var before goleak.Option
	if !cfg.SkipLeakCheck {
		before = goleak.IgnoreCurrent()
	}

	ctx, cancel := context.WithTimeout(context.Background(), 4*cfg.Timeout)
	defer cancel()
	var started []peer.AddrInfo
	var engines []*engine.Engine
	var sources []discovery.Source
	for i := range 2 {
		src := cfg.NewSource(t, slices.Clone(started))
		require.NotNil(t, src, "discoverytest: NewSource returned nil")
		opts := append(enginetest.Options(t.TempDir()),
			engine.WithDiscovery(src),
			// Quick enough for a test on a loaded machine, still bounded.
			engine.WithDiscoveryLimits(discovery.Limits{RetryAfter: time.Second, DialTimeout: 5 * time.Second}))
		e, err := engine.New(ctx, append(opts, cfg.EngineOptions...)...)
		require.NoError(t, err, "engine %d with the source", i)
		t.Cleanup(func() { _ = e.Close() })
		engines = append(engines, e)
		sources = append(sources, src)
		started = append(started, peer.AddrInfo{ID: e.ID(), Addrs: e.Host().Addrs()})
	}
	a, b := engines[0], engines[1]

	dbA, err := a.Create(ctx, "discoverytest", engine.WithAccess(accesscontrol.Open()))
	require.NoError(t, err)
	_, err = dbA.Collection("docs").InsertOne(ctx, engine.M{"_id": "from-a"})
	require.NoError(t, err)

	// B opens by address alone: the manifest, and then the documents, come
	// from a peer only the source can lead it to.
	var dbB *engine.Database
	start := time.Now()
	poll.Eventually(t, cfg.Timeout, func() error {
		octx, ocancel := context.WithTimeout(ctx, cfg.Timeout/4)
		defer ocancel()
		var err error
		dbB, err = b.Open(octx, dbA.Address())
		return err
	})
	opened := time.Since(start)
	_, err = dbB.Collection("docs").InsertOne(ctx, engine.M{"_id": "from-b"})
	require.NoError(t, err)
	enginetest.Converged(t, cfg.Timeout, 2, dbA.Collection("docs"), dbB.Collection("docs"))
	t.Logf("discoverytest: opened by address after %s, both writes on both replicas after %s",
		opened.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	require.Contains(t, a.Peers(), b.ID(), "the engines replicated without being connected")
	require.Positive(t, a.DiscoveryStats().Connected+b.DiscoveryStats().Connected,
		"the engines are connected, but not by a dial of what the source found")

	for i, e := range engines {
		require.NoError(t, e.Close(), "close engine %d", i)
	}
	for i, s := range sources {
		require.Error(t, s.Start(a.Host(), func(peer.AddrInfo) {}), "source %d started again after its engine closed", i)
	}
	if cfg.SkipLeakCheck {
		return
	}
	poll.Eventually(t, cfg.Timeout, func() error {
		if err := goleak.Find(append(leaktest.Options(), before)...); err != nil {
			return fmt.Errorf("goroutines outlive the engines and their sources: %w", err)
		}
		return nil
	})
}
