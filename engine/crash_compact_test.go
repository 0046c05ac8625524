package engine_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/engine"
)

// Crash safety of compaction. TestCompactCrash runs a child process (this
// test binary, re-executed into TestCompactCrashChild) that writes to a
// pebble store while it compacts the open database again and again, and
// SIGKILLs it at a random moment after a compaction started, again and
// again on the same directory; then it opens the store itself and checks
// every acknowledged write, and that the database still compacts.
//
// The child prints, one per line: "ins <id> <n>", "upd <id> <n>", "del
// <id>" before each write, "ack" once it returned, "compact" when a
// compaction starts and "compacted" when it ended (compactions start
// after 100 writes of each run). Replay a run with LATTICE_SEED=<seed it logged>.
const compactCrashEnv = "LATTICE_COMPACT_CRASH_DIR"

// compactCrashKills is how many times TestCompactCrash kills the child.
const compactCrashKills = 8

func TestCompactCrashChild(t *testing.T) {
	dir := os.Getenv(compactCrashEnv)
	if dir == "" {
		t.Skip("child process of TestCompactCrash")
	}
	_, c := crashOpen(t, dir)
	db := c.Database()
	ctx := context.Background()
	out := bufio.NewWriter(os.Stdout)
	say := func(f string, a ...any) {
		fmt.Fprintf(out, f+"\n", a...)
		out.Flush()
	}
	// Compactions run beside the writes, on their own goroutine; the
	// writer prints their lines (one goroutine writes stdout).
	events := make(chan string, 1)
	start := make(chan struct{})
	go func() {
		<-start // some history first
		for {
			events <- "compact"
			if _, err := db.Compact(ctx); err != nil {
				return
			}
			events <- "compacted"
		}
	}()
	prefix := strconv.FormatInt(time.Now().UnixNano(), 36)
	var live []string
	for i := 0; ; i++ {
		if i == 100 {
			close(start)
		}
		select {
		case ev := <-events:
			say("%s", ev)
		default:
		}
		var err error
		switch {
		case len(live) > 20 && i%5 == 0:
			id := live[0]
			live = live[1:]
			say("del %s", id)
			_, err = c.DeleteOne(ctx, engine.M{"_id": id})
		case len(live) > 0 && i%3 == 0:
			id := live[i%len(live)]
			say("upd %s %d", id, i)
			_, err = c.UpdateOne(ctx, engine.M{"_id": id}, engine.M{"$set": engine.M{"n": i}})
		default:
			id := fmt.Sprintf("%s-%d", prefix, i)
			say("ins %s %d", id, i)
			_, err = c.InsertOne(ctx, engine.M{"_id": id, "n": i, "pad": strings.Repeat("x", i%100)})
			live = append(live, id)
		}
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		say("ack")
	}
}

// compactCrashModel is what the parent knows of the child's writes: the
// acknowledged state of each id, and the one write in flight when it died.
type compactCrashModel struct {
	n        map[string]int   // acknowledged: id -> n; -1: deleted
	inflight []string         // the last announced write, not acknowledged
	maybe    map[string][]int // writes in flight when a child died: id -> n or -1
}

func TestCompactCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes; skipped in -short")
	}
	seed := uint64(time.Now().UnixNano())
	if s, err := strconv.ParseUint(os.Getenv("LATTICE_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Logf("seed %d (replay with LATTICE_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	dir := t.TempDir()
	m := &compactCrashModel{n: map[string]int{}, maybe: map[string][]int{}}
	compactions, during := 0, 0
	for k := 0; k < compactCrashKills; k++ {
		// Kill after the child saw 1 to 3 compactions start, 0 to 30 ms
		// into the last: history grows across runs, so later kills land
		// deeper in a compaction.
		after := rng.IntN(3) + 1
		delay := time.Duration(rng.IntN(30)) * time.Millisecond
		ch := startChild(t, "TestCompactCrashChild", compactCrashEnv+"="+dir)
		sc := bufio.NewScanner(ch.stdout)
		seen, compacting := 0, false
		apply := func(line string) {
			f := strings.Fields(line)
			switch {
			case len(f) == 0:
			case f[0] == "ack" && m.inflight != nil:
				w := m.inflight
				m.inflight = nil
				switch w[0] {
				case "ins", "upd":
					n, _ := strconv.Atoi(w[2])
					m.n[w[1]] = n
				case "del":
					m.n[w[1]] = -1
				}
			case f[0] == "ins" || f[0] == "upd" || f[0] == "del":
				m.inflight = f
			case f[0] == "compacted":
				compacting = false
			case f[0] == "compact":
				compacting = true
				seen++
				compactions++
				if seen == after {
					time.AfterFunc(delay, ch.kill)
				}
			}
		}
		for sc.Scan() {
			apply(sc.Text())
		}
		ch.requireKilled()
		ch.stop()
		if compacting {
			during++ // killed after a compaction started and before it said it ended
		}
		if w := m.inflight; w != nil {
			n := -1
			if w[0] != "del" {
				n, _ = strconv.Atoi(w[2])
			}
			m.maybe[w[1]] = append(m.maybe[w[1]], n)
			m.inflight = nil
		}
	}

	e, c := crashOpen(t, dir)
	defer func() { require.NoError(t, e.Close()) }()
	ctx := context.Background()
	lost := 0
	for id, n := range m.n {
		var doc struct {
			N int `json:"n"`
		}
		got := -1
		if err := c.FindByID(ctx, id).Decode(&doc); err == nil {
			got = doc.N
		}
		if got != n && !slices.Contains(m.maybe[id], got) {
			t.Errorf("%s: n = %d (-1: absent), acknowledged %d, in flight at a kill %v", id, got, n, m.maybe[id])
			lost++
		}
	}
	require.Zero(t, lost, "acknowledged writes lost (seed %d)", seed)
	res, err := c.Database().Compact(ctx)
	require.NoError(t, err)
	_, err = c.InsertOne(ctx, engine.M{"_id": "after-recovery"})
	require.NoError(t, err)
	t.Logf("%d kills (%d during a compaction), %d compactions started, %d ids written; last compaction %+v", compactCrashKills, during, compactions, len(m.n), res)
}
