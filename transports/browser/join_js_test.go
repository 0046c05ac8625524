//go:build js

package browser_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/poll"
	"github.com/latticedb/lattice/internal/store/indexeddb"
)

// TestJoin is the page's side of TestJoinInChromium: an engine on
// IndexedDB joins the node's database and reports when it holds all of it.
func TestJoin(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("LATTICE_BENCH_JOIN"))
	if n <= 0 {
		t.Skip("run through TestJoinInChromium")
	}
	info, addr := node(t)
	ctx := t.Context()
	storeOpt := engine.WithInMemory()
	if os.Getenv("LATTICE_BENCH_JOIN_STORE") != "memory" {
		idb, err := indexeddb.Open(ctx, fmt.Sprintf("join-%d", time.Now().UnixNano()), indexeddb.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer idb.Close()
		storeOpt = engine.WithDatastore(idb)
	}
	h := newHost(t)
	defer h.Close()
	e, err := engine.New(ctx, storeOpt, engine.WithHost(h), engine.WithReconnect(false))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	start := time.Now()
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := e.Connect(cctx, info); err != nil {
		t.Fatal(err)
	}
	db, err := e.Open(cctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	c := db.Collection("c")
	var last int64
	poll.Eventually(t, 15*time.Minute, func() error {
		got, err := c.CountDocuments(ctx, engine.M{})
		if err != nil {
			return err
		}
		if got/1000 != last/1000 {
			t.Logf("%s: %d documents", time.Since(start).Round(time.Millisecond), got)
		}
		last = got
		if got < int64(n) {
			return fmt.Errorf("%d of %d", got, n)
		}
		return nil
	})
	st := db.Stats()
	t.Logf("catch-up: %+v; blocks fetched by bitswap %d", st.Catchup, st.BlocksFetched)
	t.Logf("JOIN: the page holds all %d documents %s after dialling", n, time.Since(start).Round(time.Millisecond))
}
