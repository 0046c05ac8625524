//go:build js

package browser_test

// These tests run inside Chromium (see browser_test.go, which starts the Go
// node they dial and passes its addresses in the environment). They are the
// transportstest checks turned around for a peer that can only dial: the
// node listens, the page dials.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"go.uber.org/goleak"

	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/leaktest"
	"github.com/latticedb/lattice/internal/poll"
	"github.com/latticedb/lattice/transports/browser"
)

const (
	timeout      = 60 * time.Second
	echoProtocol = "/lattice/transportstest/echo/1.0.0" // transportstest's
)

// node is the Go node of the environment: its /ws address and database.
func node(t *testing.T) (peer.AddrInfo, string) {
	t.Helper()
	addr, db := os.Getenv("LATTICE_TEST_PEER"), os.Getenv("LATTICE_TEST_DB")
	if addr == "" || db == "" {
		t.Skip("no Go node given (LATTICE_TEST_PEER, LATTICE_TEST_DB): run through browser_test.go")
	}
	info, err := peer.AddrInfoFromString(addr)
	if err != nil {
		t.Fatal(err)
	}
	return *info, db
}

func newHost(t *testing.T) host.Host {
	t.Helper()
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := browser.NewHost(browser.HostConfig{Identity: key})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestWebSocketToGoNode(t *testing.T) {
	t.Run("Replicates", testReplicates)
	t.Run("ManyStreams", testManyStreams)
	t.Run("DialFailure", testDialFailure)
	t.Run("CloseLeavesNoGoroutine", testCloseLeavesNothing)
}

// The page's engine and the node's replicate both ways over the browser's
// WebSocket, documents near the size limit included: the node wrote 20
// small and 4 large documents before the page came; the page writes 20
// small and one large; the node acknowledges with a document "ack" once it
// holds all of the page's.
func testReplicates(t *testing.T) {
	info, addr := node(t)
	h := newHost(t)
	defer h.Close()
	ctx := t.Context()
	e, err := engine.New(ctx, engine.WithInMemory(), engine.WithHost(h), engine.WithReconnect(false), engine.WithRebroadcastInterval(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := e.Connect(cctx, info); err != nil {
		t.Fatalf("connect to the Go node: %v", err)
	}
	db, err := e.Open(cctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	c := db.Collection("c")
	for i := 0; i < 20; i++ {
		if _, err := c.InsertOne(ctx, engine.M{"_id": fmt.Sprintf("page%d", i), "from": "page"}); err != nil {
			t.Fatal(err)
		}
	}
	body, sum := largeBody()
	if _, err := c.InsertOne(ctx, engine.M{"_id": "pagebig", "from": "page", "body": body, "sha256": sum}); err != nil {
		t.Fatal(err)
	}
	poll.Eventually(t, timeout, func() error {
		n, err := c.CountDocuments(ctx, engine.M{"from": "node"})
		if err != nil {
			return err
		}
		if n != 24 {
			return fmt.Errorf("the page holds %d of the node's 24 documents", n)
		}
		if _, err := c.FindByID(ctx, "ack").Raw(); err != nil {
			return fmt.Errorf("no acknowledgement from the node yet: %w", err)
		}
		return nil
	})
	for i := 0; i < 4; i++ {
		var got struct{ Body, Sha256 string }
		if err := c.FindByID(ctx, fmt.Sprintf("nodebig%d", i)).Decode(&got); err != nil {
			t.Fatal(err)
		}
		if s := sha256.Sum256([]byte(got.Body)); hex.EncodeToString(s[:]) != got.Sha256 {
			t.Fatalf("large document %d arrived with %d bytes of body that do not hash as sent", i, len(got.Body))
		}
	}
}

// largeBody is a random body close to the 512 KiB document limit, and its
// hash.
func largeBody() (string, string) {
	raw := make([]byte, 240<<10)
	_, _ = rand.Read(raw)
	body := hex.EncodeToString(raw)
	s := sha256.Sum256([]byte(body))
	return body, hex.EncodeToString(s[:])
}

// 48 concurrent streams over one WebSocket each carry their bytes intact.
func testManyStreams(t *testing.T) {
	info, _ := node(t)
	h := newHost(t)
	defer h.Close()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	if err := h.Connect(ctx, info); err != nil {
		t.Fatal(err)
	}
	const streams, size = 48, 16 << 10
	errs := make(chan error, streams)
	var wg sync.WaitGroup
	for i := 0; i < streams; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- echo(ctx, h, info.ID, size)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("%d concurrent streams: %v", streams, err)
		}
	}
	// And one stream far larger than a WebSocket message.
	if err := echo(ctx, h, info.ID, 4<<20); err != nil {
		t.Fatalf("a 4 MiB stream: %v", err)
	}
}

// echo sends size random bytes on a new stream and checks they come back.
func echo(ctx context.Context, h host.Host, to peer.ID, size int) error {
	s, err := h.NewStream(ctx, to, echoProtocol)
	if err != nil {
		return err
	}
	defer s.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(dl)
	}
	out := make([]byte, size)
	_, _ = rand.Read(out)
	werr := make(chan error, 1)
	go func() {
		_, err := s.Write(out)
		if err == nil {
			err = s.CloseWrite()
		}
		werr <- err
	}()
	in, err := io.ReadAll(s)
	if err != nil {
		return err
	}
	if err := <-werr; err != nil {
		return err
	}
	if !bytes.Equal(in, out) {
		return fmt.Errorf("stream echoed %d bytes, not the %d sent", len(in), len(out))
	}
	return nil
}

// A dial to a port nothing listens on fails promptly with an error, and a
// non-WebSocket address is not the transport's.
func testDialFailure(t *testing.T) {
	info, _ := node(t)
	h := newHost(t)
	defer h.Close()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	start := time.Now()
	err := h.Connect(ctx, peer.AddrInfo{ID: info.ID, Addrs: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/1/ws")}})
	if err == nil {
		t.Fatal("a dial to a closed port succeeded")
	}
	if time.Since(start) > 30*time.Second {
		t.Fatalf("a dial to a closed port took %s to fail", time.Since(start))
	}
	err = h.Connect(ctx, peer.AddrInfo{ID: info.ID, Addrs: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/4001")}})
	if err == nil {
		t.Fatal("dialled a plain TCP address from a page")
	}
}

// Closing the engine and the host ends every goroutine they started.
func testCloseLeavesNothing(t *testing.T) {
	info, addr := node(t)
	before := goleak.IgnoreCurrent()
	func() {
		h := newHost(t)
		defer h.Close()
		ctx := t.Context()
		e, err := engine.New(ctx, engine.WithInMemory(), engine.WithHost(h), engine.WithReconnect(false))
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		cctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		if err := e.Connect(cctx, info); err != nil {
			t.Fatal(err)
		}
		db, err := e.Open(cctx, addr)
		if err != nil {
			t.Fatal(err)
		}
		poll.Eventually(t, timeout, func() error {
			n, err := db.Collection("c").CountDocuments(ctx, engine.M{"from": "node"})
			if err == nil && n < 24 {
				err = fmt.Errorf("%d of 24 documents", n)
			}
			return err
		})
	}()
	var err error
	deadline := time.Now().Add(15 * time.Second)
	for {
		if err = goleak.Find(append(leaktest.Options(), before)...); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond) // polling goleak, which has no wait of its own
	}
	if err != nil {
		t.Fatalf("goroutines outlived the engine and host: %v", err)
	}
}
