//go:build !js

package browser_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/wasmtest"
	"github.com/latticedb/lattice/transports"
	"github.com/latticedb/lattice/transports/transportstest"
)

// The transport's tests run in Chromium (browser_js_test.go) against a Go
// node started here, listening on WebSocket as lattice node does: the node
// holds a database with 20 small and 4 large documents, answers the echo
// protocol, and acknowledges the page's writes with a document "ack" once
// it holds them all. After the page's tests pass, the node must hold the
// page's documents intact.
func TestWebSocketInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	wasmtest.Chromium(t)
	bin := wasmtest.Build(t, ".")

	h := transportstest.NewHost(t, transports.WebSocket())
	h.SetStreamHandler("/lattice/transportstest/echo/1.0.0", func(s network.Stream) {
		defer s.Close()
		_, _ = io.Copy(s, s)
	})
	ctx := t.Context()
	e, err := engine.New(ctx, engine.WithInMemory(), engine.WithHost(h), engine.WithReconnect(false), engine.WithRebroadcastInterval(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	db, err := e.Create(ctx, "browser-ws", engine.WithAccess(accesscontrol.Open()))
	if err != nil {
		t.Fatal(err)
	}
	c := db.Collection("c")
	for i := 0; i < 20; i++ {
		if _, err := c.InsertOne(ctx, engine.M{"_id": fmt.Sprintf("node%d", i), "from": "node"}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 4; i++ {
		raw := make([]byte, 240<<10)
		_, _ = rand.Read(raw)
		body := hex.EncodeToString(raw)
		s := sha256.Sum256([]byte(body))
		if _, err := c.InsertOne(ctx, engine.M{"_id": fmt.Sprintf("nodebig%d", i), "from": "node", "body": body, "sha256": hex.EncodeToString(s[:])}); err != nil {
			t.Fatal(err)
		}
	}
	acked := make(chan struct{})
	go acknowledge(ctx, c, acked)

	var addr string
	for _, a := range h.Addrs() {
		if strings.HasSuffix(a.String(), "/ws") {
			addr = a.String() + "/p2p/" + h.ID().String()
		}
	}
	if addr == "" {
		t.Fatalf("the node has no WebSocket address among %v", h.Addrs())
	}
	wasmtest.Run(t, bin, wasmtest.Options{
		Args: []string{"-test.run=^TestWebSocketToGoNode$"},
		Env:  map[string]string{"LATTICE_TEST_PEER": addr, "LATTICE_TEST_DB": db.Address()},
	})
	select {
	case <-acked:
	default:
		t.Fatal("the page finished before the node held its documents")
	}
	var got struct{ Body, Sha256 string }
	if err := c.FindByID(ctx, "pagebig").Decode(&got); err != nil {
		t.Fatal(err)
	}
	if s := sha256.Sum256([]byte(got.Body)); hex.EncodeToString(s[:]) != got.Sha256 || len(got.Body) != 480<<10 {
		t.Fatalf("the page's large document arrived with %d bytes of body that do not hash as sent", len(got.Body))
	}
}

// acknowledge inserts "ack" once c holds the page's 21 documents.
func acknowledge(ctx context.Context, c *engine.Collection, done chan<- struct{}) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := c.CountDocuments(ctx, engine.M{"from": "page"})
		if err != nil || n < 21 {
			continue
		}
		if _, err := c.InsertOne(ctx, engine.M{"_id": "ack"}); err == nil {
			close(done)
		}
		return
	}
}
