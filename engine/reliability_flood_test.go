package engine_test

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"
	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/enginetest"
	"github.com/latticedb/lattice/internal/poll"
	"github.com/latticedb/lattice/internal/replication"
)

// Resource bounds under a flood of junk broadcasts.
const (
	floodSmall     = 3000 // random-byte messages
	floodOversized = 24   // messages of floodBigSize bytes
	floodBigSize   = 1<<20 - 8<<10
	floodFramed    = 1500     // well-framed messages per engine/message.go that fail validation
	floodHeapBound = 96 << 20 // heap growth allowed over the pre-flood baseline (both replicas in-process)
)

// flooder is a raw libp2p host on 127.0.0.1 with its own gossipsub
// (StrictSign, like engines) joined to a database's topic.
type flooder struct {
	h        host.Host
	topic    *pubsub.Topic
	cancel   context.CancelFunc
	manifest cid.Cid // the flooder holds the address
}

func newFlooder(t *testing.T, dbAddr string, target *engine.Engine) *flooder {
	t.Helper()
	addr, err := engine.ParseAddress(dbAddr)
	require.NoError(t, err)
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	ps, err := pubsub.NewGossipSub(ctx, h,
		pubsub.WithMessageSignaturePolicy(pubsub.StrictSign),
		pubsub.WithMaxMessageSize(2<<20),
		pubsub.WithFloodPublish(true),
		pubsub.WithPeerOutboundQueueSize(4096),
	)
	require.NoError(t, err)
	topic, err := ps.Join(replication.TopicName(addr.Manifest))
	require.NoError(t, err)
	f := &flooder{h: h, topic: topic, cancel: cancel, manifest: addr.Manifest}
	t.Cleanup(f.close)
	cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer ccancel()
	require.NoError(t, h.Connect(cctx, peer.AddrInfo{ID: target.ID(), Addrs: target.Host().Addrs()}))
	// Wait until the target is a topic peer, so publishes reach it.
	poll.Eventually(t, 10*time.Second, func() error {
		for _, p := range topic.ListPeers() {
			if p == target.ID() {
				return nil
			}
		}
		return fmt.Errorf("target not in topic yet")
	})
	return f
}

func (f *flooder) close() {
	_ = f.topic.Close()
	f.cancel()
	_ = f.h.Close()
}

// publish seals data to the database's address, as a member would, and
// publishes it.
func (f *flooder) publish(t *testing.T, data []byte) {
	t.Helper()
	require.NoError(t, f.topic.Publish(context.Background(), replication.SealBroadcast(f.manifest, data)))
}

// framed builds a message in the engine's wire format (magic, version,
// heads, blocks) that decodes structurally but must be refused: a block
// whose data does not hash to its CID, a zero head count, trailing bytes,
// or counts and lengths beyond the limits.
func framed(rng *mrand.Rand) []byte {
	c := randomCID()
	cb := c.Bytes()
	b := []byte{'L', 1}
	switch rng.IntN(5) {
	case 0: // one head, one block that does not match its CID
		b = binary.AppendUvarint(b, 1)
		b = binary.AppendUvarint(b, uint64(len(cb)))
		b = append(b, cb...)
		b = binary.AppendUvarint(b, 1)
		b = binary.AppendUvarint(b, uint64(len(cb)))
		b = append(b, cb...)
		data := make([]byte, 1+rng.IntN(4096))
		_, _ = rand.Read(data)
		b = binary.AppendUvarint(b, uint64(len(data)))
		b = append(b, data...)
	case 1: // no heads
		b = binary.AppendUvarint(b, 0)
		b = binary.AppendUvarint(b, 0)
	case 2: // trailing garbage
		b = binary.AppendUvarint(b, 1)
		b = binary.AppendUvarint(b, uint64(len(cb)))
		b = append(b, cb...)
		b = binary.AppendUvarint(b, 0)
		b = append(b, 0xff, 0xfe)
	case 3: // head count over the limit
		b = binary.AppendUvarint(b, 1<<20)
	default: // length running past the end
		b = binary.AppendUvarint(b, 1)
		b = binary.AppendUvarint(b, 1<<30)
	}
	return b
}

func randomCID() cid.Cid {
	buf := make([]byte, 32)
	_, _ = rand.Read(buf)
	sum, _ := mh.Sum(buf, mh.SHA2_256, -1)
	return cid.NewCidV1(cid.DagProtobuf, sum)
}

func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestFloodJunkBroadcasts floods one replica's database topic with junk
// from a raw libp2p host while two honest replicas keep writing: every
// honest write converges, the junk is rejected and counted, and the heap
// stays within floodHeapBound of its baseline.
func TestFloodJunkBroadcasts(t *testing.T) {
	if testing.Short() {
		t.Skip("floods loopback; skipped in -short")
	}
	seed := uint64(time.Now().UnixNano())
	if s, err := strconv.ParseUint(os.Getenv("LATTICE_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Logf("seed %d", seed)
	rng := mrand.New(mrand.NewPCG(seed, 1))
	ctx := context.Background()
	a, b := enginetest.NewEngine(t), enginetest.NewEngine(t)
	enginetest.ConnectAll(t, a, b)
	dbA, err := a.Create(ctx, "flood", engine.WithAccess(accesscontrol.Open()))
	require.NoError(t, err)
	dbB := enginetest.Open(t, b, dbA.Address())
	ca, cb := dbA.Collection("c"), dbB.Collection("c")
	base := heapAfterGC()

	f := newFlooder(t, dbA.Address(), a)
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				if ms.HeapAlloc > peak.Load() {
					peak.Store(ms.HeapAlloc)
				}
			}
		}
	}()

	// Honest writers run while the flood is on.
	honest := make(chan error, 1)
	const honestDocs = 60
	go func() {
		for i := 0; i < honestDocs; i++ {
			c := ca
			if i%2 == 1 {
				c = cb
			}
			if _, err := c.InsertOne(ctx, engine.M{"i": i}); err != nil {
				honest <- err
				return
			}
		}
		honest <- nil
	}()
	start := time.Now()
	sent := 0
	for i := 0; i < floodSmall+floodOversized+floodFramed; i++ {
		var msg []byte
		switch k := rng.IntN(floodSmall + floodOversized + floodFramed); {
		case k < floodOversized:
			// A fresh buffer each time: pubsub keeps the published slice.
			big := make([]byte, floodBigSize)
			_, _ = rand.Read(big)
			big[0] = 'L' // looks like ours, fails later
			msg = big
		case k < floodOversized+floodFramed:
			msg = framed(rng)
		default:
			msg = make([]byte, 1+rng.IntN(2048))
			_, _ = rand.Read(msg)
		}
		f.publish(t, msg)
		sent++
	}
	floodTime := time.Since(start)
	require.NoError(t, <-honest)
	enginetest.Converged(t, 60*time.Second, honestDocs, ca, cb)
	honestTime := time.Since(start)

	// The junk that reached A's validator was rejected, and gossipsub's
	// score for the flooder fell below the graylist threshold: from then on
	// its traffic is dropped unread. The honest peer's score is untouched.
	// A loaded machine validates fewer of the messages (pubsub drops what
	// its validation queue cannot take, unscored), so the flooder keeps
	// sending junk until its score crosses the threshold.
	poll.Eventually(t, 120*time.Second, func() error {
		score, _ := a.PeerScore(f.h.ID())
		if score > -80 {
			for i := 0; i < 10; i++ {
				f.publish(t, framed(rng))
				sent++
			}
			return fmt.Errorf("flooder's score at A is %.1f, not yet graylisted; %d rejected", score, dbA.Stats().Rejected)
		}
		return nil
	})
	require.GreaterOrEqual(t, dbA.Stats().Rejected, uint64(29), "graylisting took 29 rejected messages")
	honestScore, _ := a.PeerScore(b.ID())
	require.GreaterOrEqual(t, honestScore, 0.0, "A penalised the honest peer")
	close(stop)
	<-sampled
	after := heapAfterGC()
	stA, stB := dbA.Stats(), dbB.Stats()
	t.Logf("flood: %d junk messages in %s; honest: %d docs converged %s after the flood started",
		sent, floodTime.Round(time.Millisecond), honestDocs, honestTime.Round(time.Millisecond))
	t.Logf("rejected: A %d, B %d; heap: baseline %d MiB, peak %d MiB, after %d MiB (bound +%d MiB)",
		stA.Rejected, stB.Rejected, base>>20, peak.Load()>>20, after>>20, floodHeapBound>>20)
	require.LessOrEqual(t, stA.Rejected, uint64(sent))
	require.Less(t, after, base+floodHeapBound, "heap after the flood")
	require.Less(t, peak.Load(), base+2*floodHeapBound, "heap during the flood")
}

// TestFloodPhantomHeads announces heads that exist nowhere, in well-formed
// messages an open database accepts, and measures how long an honest write
// then takes to reach the flooded replica. Each phantom head costs a
// bitswap fetch until WithFetchTimeout, and at most maxConcurrentFetches
// (8) run at once.
func TestFloodPhantomHeads(t *testing.T) {
	if testing.Short() {
		t.Skip("floods loopback; skipped in -short")
	}
	ctx := context.Background()
	a := enginetest.NewEngine(t, engine.WithFetchTimeout(2*time.Second))
	b := enginetest.NewEngine(t, engine.WithFetchTimeout(2*time.Second))
	enginetest.ConnectAll(t, a, b)
	dbA, err := a.Create(ctx, "phantom", engine.WithAccess(accesscontrol.Open()))
	require.NoError(t, err)
	dbB := enginetest.Open(t, b, dbA.Address())
	ca, cb := dbA.Collection("c"), dbB.Collection("c")
	f := newFlooder(t, dbA.Address(), a)

	const phantoms = 32
	for i := 0; i < phantoms; i++ {
		c := randomCID().Bytes()
		msg := []byte{'L', 1}
		msg = binary.AppendUvarint(msg, 1)
		msg = binary.AppendUvarint(msg, uint64(len(c)))
		msg = append(msg, c...)
		msg = binary.AppendUvarint(msg, 0)
		f.publish(t, msg)
	}
	poll.Eventually(t, 10*time.Second, func() error {
		if st := dbA.Stats(); st.HeadsReceived+st.Rejected < phantoms/2 {
			return fmt.Errorf("%d of %d phantom heads received", st.HeadsReceived+st.Rejected, phantoms)
		}
		return nil
	})
	start := time.Now()
	_, err = cb.InsertOne(ctx, engine.M{"_id": "honest"})
	require.NoError(t, err)
	// Wait for the document itself: the queues only empty once the phantom
	// fetches time out.
	poll.Eventually(t, 120*time.Second, func() error {
		if !has(ca, "honest") {
			return fmt.Errorf("the honest write has not reached the flooded replica")
		}
		return nil
	})
	lag := time.Since(start)
	st := dbA.Stats()
	t.Logf("%d phantom heads (fetch timeout 2 s): honest write reached the flooded replica after %s; received %d, rejected %d, fetch failures %d",
		phantoms, lag.Round(time.Millisecond), st.HeadsReceived, st.Rejected, st.FetchFailures)
}
