package benchmarks

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/engine"
)

// DocMemoryConfig sizes a DocMemory run.
type DocMemoryConfig struct {
	Docs    int // documents the writer inserts (the scale scenario's shape)
	Writers int // concurrent InsertOne callers on the writer (1: one delta per document, as in the scale scenario)
	// Timeout bounds the wait for the replica to hold every document.
	Timeout time.Duration
	// Settle, when positive, is waited after the writer is closed and
	// before the replica is measured: gossipsub's seen-message ids expire
	// meanwhile.
	Settle time.Duration
	// Options are given to both engines after WithInMemory, loopback TCP
	// and no reconnect.
	Options []engine.Option
	// Measured, when set, is called with the replica still open, after
	// its measurement: a heap profile taken there holds only the replica
	// (the writer is closed).
	Measured func(DocMemoryResult) error
}

// DocMemoryResult is what DocMemory measured: live heap bytes (HeapAlloc
// after two collections) at each step.
type DocMemoryResult struct {
	Docs    int
	Elapsed time.Duration // from the first write until the replica held all
	// Base is the process before any engine; Writer with the writer
	// engine and its database; Rest with both, the database open on the
	// replica; Full with the replica holding every document and the
	// writer closed; Both with both engines holding every document.
	Base, Writer, Rest, Both, Full uint64
}

// ReplicaRest is the replica's own heap at rest: Rest less Writer.
func (r DocMemoryResult) ReplicaRest() int64 { return int64(r.Rest) - int64(r.Writer) }

// PerDoc is the replica's live heap per document it received: what it
// holds with every document, less what it held at rest, over Docs.
func (r DocMemoryResult) PerDoc() float64 {
	return float64(int64(r.Full)-int64(r.Base)-r.ReplicaRest()) / float64(r.Docs)
}

// String is the result as one line.
func (r DocMemoryResult) String() string {
	return fmt.Sprintf("%d documents replicated in %.1fs; replica live heap at rest %.2f MiB, with the documents %.2f MiB: %.0f bytes per document (both engines holding them: %.2f MiB)",
		r.Docs, r.Elapsed.Seconds(), float64(r.ReplicaRest())/(1<<20), float64(int64(r.Full)-int64(r.Base))/(1<<20), r.PerDoc(), float64(int64(r.Both)-int64(r.Base))/(1<<20))
}

// liveHeap is HeapAlloc after two collections (the second frees what the
// first's finalizers released).
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// DocMemory measures what one replica holds per document: a writer engine
// inserts cfg.Docs documents of the scale scenario's shape, a second
// in-memory engine replicates them over loopback TCP, and once it holds
// them all (nothing queued or pending) the writer is closed and the
// replica's live heap is compared with its heap at rest. The replica is
// closed before DocMemory returns.
func DocMemory(ctx context.Context, cfg DocMemoryConfig) (res DocMemoryResult, err error) {
	if cfg.Docs < 1 {
		return res, fmt.Errorf("benchmarks: docmem: need at least 1 document, got %d", cfg.Docs)
	}
	cfg.Writers = max(cfg.Writers, 1)
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Minute
	}
	res.Docs = cfg.Docs
	newEng := func() (*engine.Engine, error) {
		return engine.New(ctx, append([]engine.Option{
			engine.WithInMemory(),
			engine.WithListenAddrs("/ip4/127.0.0.1/tcp/0"),
			engine.WithReconnect(false),
		}, cfg.Options...)...)
	}
	res.Base = liveHeap()
	ea, err := newEng()
	if err != nil {
		return res, err
	}
	aOpen := true
	defer func() {
		if aOpen {
			_ = ea.Close()
		}
	}()
	dbA, err := ea.Create(ctx, "docmem", engine.WithAccess(accesscontrol.Open()))
	if err != nil {
		return res, err
	}
	res.Writer = liveHeap()
	eb, err := newEng()
	if err != nil {
		return res, err
	}
	defer func() {
		if cerr := eb.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("benchmarks: docmem: close: %w", cerr)
		}
	}()
	if err := eb.Connect(ctx, peer.AddrInfo{ID: ea.ID(), Addrs: ea.Host().Addrs()}); err != nil {
		return res, err
	}
	octx, cancel := context.WithTimeout(ctx, time.Minute)
	dbB, err := eb.Open(octx, dbA.Address())
	cancel()
	if err != nil {
		return res, err
	}
	res.Rest = liveHeap()

	start := time.Now()
	ca := dbA.Collection("docs")
	var next atomic.Int64
	var wg sync.WaitGroup
	werr := make(chan error, cfg.Writers)
	for w := 0; w < cfg.Writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= cfg.Docs {
					return
				}
				if _, err := ca.InsertOne(ctx, todo(i)); err != nil {
					werr <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(werr)
	if err := <-werr; err != nil {
		return res, fmt.Errorf("benchmarks: docmem: write: %w", err)
	}
	deadline := start.Add(cfg.Timeout)
	for {
		st := dbB.Stats()
		if st.Documents == cfg.Docs && st.QueuedHeads == 0 && st.PendingChanges == 0 {
			break
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("benchmarks: docmem: the replica holds %d of %d documents after %v", st.Documents, cfg.Docs, cfg.Timeout)
		}
		time.Sleep(20 * time.Millisecond) // a poll interval, not a wait for a condition
	}
	res.Elapsed = time.Since(start)
	res.Both = liveHeap()
	aOpen = false
	if err := ea.Close(); err != nil {
		return res, fmt.Errorf("benchmarks: docmem: close the writer: %w", err)
	}
	// The deferred close holds ea: drop the writer, or its memory is
	// measured as the replica's.
	ea, dbA, ca = nil, nil, nil
	if cfg.Settle > 0 {
		time.Sleep(cfg.Settle) // a measurement delay: caches expire meanwhile
	}
	res.Full = liveHeap()
	if cfg.Measured != nil {
		if err := cfg.Measured(res); err != nil {
			return res, err
		}
	}
	return res, nil
}
