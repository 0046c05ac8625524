package engine_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/engine"
)

// Crash safety. TestCrashRecovery runs a writer in a child process (this
// test binary, re-executed into TestCrashChild) on a pebble store, SIGKILLs
// it at a random point while it writes, again and again on the same
// directory, then opens the store itself and checks that every write the
// child acknowledged is there.
//
// CI: crashCIKills kills. Long: LATTICE_LONG=1 (crashLongKills), or
// LATTICE_CRASH_KILLS=N. Replay a run with LATTICE_SEED=<seed it logged>.
const (
	crashCIKills   = 20
	crashLongKills = 200
	crashChildEnv  = "LATTICE_CRASH_CHILD_DIR"
	crashDBName    = "crash"
	crashCounterID = "counter"
)

// crashOpen opens the crash database with the engine's default options:
// what they promise (an acknowledged write survives a crash) is under test.
func crashOpen(t testing.TB, dir string) (*engine.Engine, *engine.Collection) {
	e, err := engine.New(context.Background(),
		engine.WithDataDir(dir),
		engine.WithListenAddrs("/ip4/127.0.0.1/tcp/0"),
	)
	require.NoError(t, err)
	db, err := e.Create(context.Background(), crashDBName, engine.WithAccess(accesscontrol.Open()), engine.WithDeterministicAddress())
	require.NoError(t, err)
	return e, db.Collection("c")
}

// TestCrashChild is the writer; it only runs when re-executed by
// TestCrashRecovery. It prints "ack insert <id>" once InsertOne returned and
// "ack inc" once an $inc of the counter document returned, and writes until
// killed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashChildEnv)
	if dir == "" {
		t.Skip("child process of TestCrashRecovery")
	}
	_, c := crashOpen(t, dir)
	ctx := context.Background()
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(out, "ready")
	out.Flush()
	if _, err := c.InsertOne(ctx, engine.M{"_id": crashCounterID, "n": 0}); err == nil {
		fmt.Fprintln(out, "ack insert "+crashCounterID)
		out.Flush()
	}
	prefix := strconv.FormatInt(time.Now().UnixNano(), 36)
	for i := 0; ; i++ {
		if i%4 == 3 {
			_, err := c.UpdateOne(ctx, engine.M{"_id": crashCounterID}, engine.M{"$inc": engine.M{"n": 1}})
			if err != nil {
				t.Fatalf("inc: %v", err)
			}
			fmt.Fprintln(out, "ack inc")
		} else {
			id := fmt.Sprintf("%s-%d", prefix, i)
			if _, err := c.InsertOne(ctx, engine.M{"_id": id, "i": i, "pad": strings.Repeat("x", i%200)}); err != nil {
				t.Fatalf("insert: %v", err)
			}
			fmt.Fprintln(out, "ack insert "+id)
		}
		out.Flush()
	}
}

// TestCrashRecovery kills writers running with the default options.
// Before the engine synced its write-ahead log once per commit group, this
// lost acknowledged writes (122 of 311 in one run): pebble buffers unsynced
// log records in user space.
func TestCrashRecovery(t *testing.T) { testCrashRecovery(t) }

func testCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes; skipped in -short")
	}
	kills := crashCIKills
	if os.Getenv("LATTICE_LONG") != "" {
		kills = crashLongKills
	}
	if n, err := strconv.Atoi(os.Getenv("LATTICE_CRASH_KILLS")); err == nil {
		kills = n
	}
	seed := uint64(time.Now().UnixNano())
	if s, err := strconv.ParseUint(os.Getenv("LATTICE_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Logf("seed %d (replay with LATTICE_SEED=%d), %d kills", seed, seed, kills)
	rng := rand.New(rand.NewPCG(seed, 0))
	dir := t.TempDir()

	acked := map[string]bool{}
	incs := 0     // acknowledged increments
	attempts := 0 // increments possibly applied (acknowledged or in flight)
	start := time.Now()
	for k := 0; k < kills; k++ {
		// Kill after a random number of acknowledgements, or, one time in
		// eight, at a random moment of start-up before any.
		killAfter := rng.IntN(40) + 1
		if rng.IntN(8) == 0 {
			killAfter = 0
		}
		killDelay := time.Duration(rng.IntN(200)) * time.Millisecond
		n, i := runCrashChild(t, dir, killAfter, killDelay, acked)
		incs += i
		attempts += i + 1
		_ = n
	}
	elapsed := time.Since(start)

	// The store opens cleanly and holds every acknowledged write.
	e, c := crashOpen(t, dir)
	defer func() { require.NoError(t, e.Close()) }()
	ctx := context.Background()
	var missing []string
	for id := range acked {
		if err := c.FindByID(ctx, id).Err(); err != nil {
			missing = append(missing, id)
		}
	}
	t.Logf("%d of %d acknowledged inserts missing", len(missing), len(acked))
	require.Empty(t, missing, "acknowledged inserts lost after SIGKILL (seed %d)", seed)
	n, err := c.CountDocuments(ctx, nil)
	require.NoError(t, err)
	require.GreaterOrEqual(t, int(n), len(acked))
	if acked[crashCounterID] {
		var doc engine.M
		require.NoError(t, c.FindByID(ctx, crashCounterID).Decode(&doc))
		got, _ := doc["n"].(int64)
		require.GreaterOrEqual(t, int(got), incs, "acknowledged increments lost (seed %d)", seed)
		require.LessOrEqual(t, int(got), attempts)
	}
	// Writes still work after recovery.
	_, err = c.InsertOne(ctx, engine.M{"_id": "after-recovery"})
	require.NoError(t, err)
	t.Logf("%d kills in %s: %d acknowledged inserts, %d acknowledged increments, %d documents, all present",
		kills, elapsed.Round(time.Millisecond), len(acked), incs, n)
}

// runCrashChild starts the writer on dir, records its acknowledged ids in
// acked, and SIGKILLs it after killAfter acknowledgements (or killDelay
// after start when killAfter is 0). It returns the acknowledged inserts
// and increments of this run.
func runCrashChild(t *testing.T, dir string, killAfter int, killDelay time.Duration, acked map[string]bool) (int, int) {
	t.Helper()
	ch := startChild(t, "TestCrashChild", crashChildEnv+"="+dir)
	defer ch.stop()
	stdout, kill := ch.stdout, ch.kill
	if killAfter == 0 {
		timer := time.AfterFunc(killDelay, kill)
		defer timer.Stop()
	}
	inserts, incs := 0, 0
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "ack insert "):
			acked[strings.TrimPrefix(line, "ack insert ")] = true
			inserts++
		case line == "ack inc":
			incs++
		default:
			continue
		}
		if killAfter > 0 && inserts+incs >= killAfter {
			kill()
			break
		}
	}
	// Drain what the child wrote before it died: those writes were
	// acknowledged too.
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "ack insert ") {
			acked[strings.TrimPrefix(line, "ack insert ")] = true
			inserts++
		} else if line == "ack inc" {
			incs++
		}
	}
	ch.requireKilled()
	return inserts, incs
}

// child is this test binary re-executed into one test, as a process a
// test kills.
type child struct {
	t        *testing.T
	cmd      *exec.Cmd
	stdout   io.Reader
	watchdog *time.Timer
}

// startChild runs the test named test in a child process with env added;
// a child still alive after a minute is killed (and requireKilled then
// fails the test unless that was the kill it expected).
func startChild(t *testing.T, test string, env ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.v=false")
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	c := &child{t: t, cmd: cmd, stdout: stdout}
	c.watchdog = time.AfterFunc(60*time.Second, c.kill)
	return c
}

// kill SIGKILLs the child.
func (c *child) kill() { _ = c.cmd.Process.Signal(syscall.SIGKILL) }

// stop ends the watchdog.
func (c *child) stop() { c.watchdog.Stop() }

// requireKilled waits for the child (its output read to the end) and fails
// the test unless it died by SIGKILL.
func (c *child) requireKilled() {
	c.t.Helper()
	err := c.cmd.Wait()
	ws, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		c.t.Fatalf("child did not die by SIGKILL: %v (%s)", err, c.cmd.ProcessState)
	}
}
