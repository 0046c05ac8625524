//go:build !js

package browser_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/wasmtest"
	"github.com/latticedb/lattice/transports"
	"github.com/latticedb/lattice/transports/transportstest"
)

// A page joining a list of LATTICE_BENCH_JOIN single-write deltas (the
// issue asks for 10,000 within 10 s): the Go node writes them one
// InsertOne at a time, so each is a delta, the page's engine, on IndexedDB, joins over
// WebSocket, and the page reports how long until it holds them all. A
// measurement, not run by default:
//
//	LATTICE_BENCH_JOIN=10000 go test -run TestJoinInChromium -v ./transports/browser/
func TestJoinInChromium(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("LATTICE_BENCH_JOIN"))
	if n <= 0 {
		t.Skip("LATTICE_BENCH_JOIN=N measures a page joining N deltas")
	}
	wasmtest.Chromium(t)
	bin := wasmtest.Build(t, ".")
	h := transportstest.NewHost(t, transports.WebSocket())
	ctx := t.Context()
	e, err := engine.New(ctx, engine.WithInMemory(), engine.WithHost(h), engine.WithReconnect(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	db, err := e.Create(ctx, "join", engine.WithAccess(accesscontrol.Open()))
	if err != nil {
		t.Fatal(err)
	}
	c := db.Collection("c")
	start := time.Now()
	for i := 0; i < n; i++ { // one after the other: each InsertOne is a delta of its own
		if _, err := c.InsertOne(ctx, engine.M{"_id": fmt.Sprintf("d%06d", i), "title": fmt.Sprintf("to-do %d", i), "isDone": i%3 == 0}); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("the node wrote %d documents in %s", n, time.Since(start).Round(time.Millisecond))
	var addr string
	for _, a := range h.Addrs() {
		if strings.HasSuffix(a.String(), "/ws") {
			addr = a.String() + "/p2p/" + h.ID().String()
		}
	}
	wasmtest.Run(t, bin, wasmtest.Options{
		Args:    []string{"-test.run=^TestJoin$"},
		Env:     map[string]string{"LATTICE_TEST_PEER": addr, "LATTICE_TEST_DB": db.Address(), "LATTICE_BENCH_JOIN": strconv.Itoa(n), "LATTICE_BENCH_JOIN_STORE": os.Getenv("LATTICE_BENCH_JOIN_STORE")},
		Timeout: 20 * time.Minute,
		Profile: os.Getenv("LATTICE_WASM_PROFILE") != "",
	})
}
