package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"rsc.io/qr"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/benchmarks"
	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/leaktest"
	"github.com/latticedb/lattice/internal/poll"
	"github.com/latticedb/lattice/node"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		// A real lattice process for the tests that kill one: the test
		// binary re-executed with the CLI's arguments (restart_test.go).
		os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	leaktest.VerifyTestMain(m)
}

// syncBuffer is a bytes.Buffer safe for a writer and a polling reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut syncBuffer
	code := run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestHelp(t *testing.T) {
	code, out, _ := runCLI(t, "--help")
	require.Equal(t, 0, code)
	for _, c := range []string{"node", "invite", "join", "compact", "demo", "relay", "sim", "bench"} {
		require.Contains(t, out, c)
	}
	flags := map[string][]string{
		"node": {"--data", "--api", "--listen", "--relay", "--bootstrap", "--api-token", "--sync-writes",
			"--allow-local-dials", "--http-read-header-timeout", "--http-read-timeout", "--http-write-timeout",
			"--http-idle-timeout", "--query-timeout", "--max-streams", "--max-streams-per-client", "--max-databases",
			"--mdns", "--dht", "--dht-mode", "--archive", "--auto-compact"},
		"invite":  {"--api", "--database"},
		"compact": {"--api", "--database"},
		"join":    {"--api", "LINK"},
		"demo":    {"--timeout"},
		"relay":   {"--data", "--listen", "--dht"},
		"sim":     {"--scenario", "--seed", "--peers", "--nat-share", "--latency", "--duration", "--out"},
		"bench":   {"--quick", "--out", "--run", "--benchtime", "--check", "--plots", "--big"},
	}
	for c, want := range flags {
		code, out, _ := runCLI(t, c, "--help")
		require.Equal(t, 0, code, c)
		require.Contains(t, out, "Examples:", c)
		for _, w := range want {
			require.Contains(t, out, w, c)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"frobnicate"},
		{"node", "--no-such-flag"},
		{"node", "extra-arg"},
		{"node", "--api", "0.0.0.0:0"}, // non-loopback without a token
		{"node", "--api", "nonsense"},
		{"node", "--api", "127.0.0.1:0", "--bootstrap", "/ip4/127.0.0.1/tcp/1"}, // no /p2p/
		{"node", "--api", "127.0.0.1:0", "--listen", "/bogus"},
		{"node", "--api", "127.0.0.1:0", "--http-idle-timeout", "0s"},     // nothing holds a connection forever
		{"node", "--api", "127.0.0.1:0", "--query-timeout", "10m"},        // longer than the write timeout
		{"node", "--api", "127.0.0.1:0", "--max-streams-per-client", "0"}, // a bound must bound
		{"node", "--api", "127.0.0.1:0", "--transport", "tcp,carrier-pigeon"},
		{"node", "--api", "127.0.0.1:0", "--holepunch", "sometimes"},
		{"relay", "--in-memory", "--transport", "udp"},
		{"relay", "--in-memory", "--allow", "not-a-peer-id"},
		{"relay", "--in-memory", "--circuit-data", "0"}, // an unlimited relay is an open proxy
		{"relay", "--in-memory", "--circuit-data", "5XB"},
		{"relay", "--in-memory", "--circuit-duration", "0s"},
		{"relay", "--in-memory", "--max-reservations-per-ip", "0"},
		{"node", "--api", "127.0.0.1:0", "--api-token", "0123456789abcdef", "--api-token-file", "/nonexistent"},
		{"join"},
		{"invite"},
		{"compact"},
		{"node", "--api", "127.0.0.1:0", "--auto-compact", "-1"},
		{"bench", "--run", "("},
		{"bench", "--run", "NoSuchScenario"},
		{"bench", "--big"},
	} {
		code, _, errOut := runCLI(t, args...)
		require.Equal(t, exitUsage, code, "%v: %s", args, errOut)
		require.Contains(t, errOut, "lattice:", args)
	}
}

// lattice sim runs a tiny scenario from a file, with flags over it, and
// writes its report: the fields of the CLI contract are there.
func TestSim(t *testing.T) {
	dir := t.TempDir()
	scen := filepath.Join(dir, "tiny.json")
	require.NoError(t, os.WriteFile(scen, []byte(`{"name": "tiny", "seed": 3, "peers": 6, "nat_share": 0.5,
		"relays": 1, "latency_min": "5ms", "latency_max": "10ms", "degree": 2,
		"duration": "2s", "writes": 10, "settle": "60s"}`), 0o644))
	out := filepath.Join(dir, "report")
	code, stdout, errOut := runCLI(t, "sim", "--scenario", scen, "--seed", "4", "--peers", "5", "--latency", "20ms", "--out", out, "--progress-every", "300ms")
	require.Equal(t, 0, code, "%s\n%s", stdout, errOut)
	require.Contains(t, stdout, "convergence ms")
	// Progress on stderr (not a terminal here: one line each time):
	// setup steps, then the schedule's status from its start to the end
	// of settling, the last with every write on every replica.
	require.Contains(t, errOut, "setting up: ")
	status := regexp.MustCompile(`(?m)^sim \S+/2s  writes acknowledged (\d+)/10  replicas converged (\d+)/5  peers up \d+/5$`).FindAllStringSubmatch(errOut, -1)
	require.GreaterOrEqual(t, len(status), 3, "progress lines: %s", errOut)
	last := status[len(status)-1]
	require.Equal(t, []string{"10", "5"}, last[1:], "the last progress line: %s", last[0])
	require.NotContains(t, errOut, "\r", "no terminal redraws in a log")
	b, err := os.ReadFile(filepath.Join(out, "report.json"))
	require.NoError(t, err)
	var rep map[string]any
	require.NoError(t, json.Unmarshal(b, &rep))
	for _, k := range []string{"seed", "peers", "writes", "converged", "convergence_ms", "bytes_per_write", "connections", "holepunch", "mode"} {
		require.Contains(t, rep, k)
	}
	require.Equal(t, 4.0, rep["seed"])
	require.Equal(t, 5.0, rep["peers"])
	require.Equal(t, true, rep["converged"])
	require.Equal(t, "real", rep["mode"])
	for _, k := range []string{"p50", "p90", "p99", "max"} {
		require.Contains(t, rep["convergence_ms"], k)
	}
	for _, f := range []string{"report.html", "convergence.svg", "connections.svg"} {
		require.FileExists(t, filepath.Join(out, f))
	}
	code, _, errOut = runCLI(t, "sim", "--scenario", filepath.Join(dir, "missing.json"))
	require.Equal(t, exitUsage, code, errOut)
	code, _, errOut = runCLI(t, "sim", "--nat-share", "2")
	require.Equal(t, exitUsage, code, errOut)
}

// lattice bench runs a real scenario and writes its report; JSON here so
// the test can read the numbers back.
func TestBench(t *testing.T) {
	out := filepath.Join(t.TempDir(), "bench.json")
	code, stdout, errOut := runCLI(t, "bench", "--quick", "--run", "^FindByID$", "--benchtime", "50ms", "--out", out)
	require.Equal(t, 0, code, "%s\n%s", stdout, errOut)
	require.Regexp(t, `(?m)^FindByID\s+\d+\.\d+ queries/s\s+goal 100000: (met|MISSED)$`, stdout)
	require.Contains(t, stdout, "report: "+out)
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	var rep benchmarks.Report
	require.NoError(t, json.Unmarshal(b, &rep))
	require.Len(t, rep.Results, 1)
	require.Equal(t, "FindByID", rep.Results[0].Name)
	require.Positive(t, rep.Results[0].Value)
}

// Without --out, lattice bench prints a table of its results and writes
// no file, in the current directory or anywhere else.
func TestBenchPrintsByDefault(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	code, stdout, errOut := runCLI(t, "bench", "--quick", "--run", "^FindByID$", "--benchtime", "50ms")
	require.Equal(t, 0, code, "%s\n%s", stdout, errOut)
	require.Regexp(t, `(?m)^scenario\s+result\s+goal\s*$`, stdout)
	require.Regexp(t, `(?m)^FindByID\s+\d+\.\d+ queries/s\s+>= 100000: (met|MISSED)\s*$`, stdout)
	require.NotContains(t, stdout, "<!--", "no Markdown markers on a terminal")
	require.NotContains(t, stdout, "report: ")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries, "lattice bench wrote a file without --out")
}

// With --check a missed goal is an error: a goal no machine meets (a
// FindByID run of 1 ms cannot reach 10^15 queries/s) makes it exit 1,
// naming the goal; without --check the same run exits 0.
func TestBenchCheck(t *testing.T) {
	rep := benchmarks.Report{Results: []benchmarks.Result{{Name: "X", Metric: "ops/s", Value: 1, Goal: 2, Met: new(bool)}}}
	require.Equal(t, []string{"X: 1 ops/s against a goal of 2"}, rep.Missed())
	code, stdout, errOut := runCLI(t, "bench", "--quick", "--run", "^FindByID$", "--benchtime", "50ms", "--check")
	if strings.Contains(stdout, "goal 100000: MISSED") {
		require.Equal(t, 1, code, "%s\n%s", stdout, errOut)
		require.Contains(t, errOut, "goal(s) missed: FindByID")
	} else {
		require.Equal(t, 0, code, "%s\n%s", stdout, errOut)
	}
}

func TestDemo(t *testing.T) {
	code, out, errOut := runCLI(t, "demo")
	require.Equal(t, 0, code, "%s\n%s", out, errOut)
	require.Contains(t, out, "B received A1")
	require.Contains(t, out, "Converged after")
	require.Contains(t, out, "[x] A1")
}

func TestTerminalQR(t *testing.T) {
	const text = "lattice://join?peer=12D3KooWGRUVh5ZQ8s5ZArrH4ydW2xVV1dGNF6TUSqQdvD2SxLGT&addr=/ip4/192.0.2.1/tcp/4001"
	s, err := terminalQR(text, false)
	require.NoError(t, err)
	code, err := qr.Encode(text, qr.L)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	size := code.Size + 4
	require.Len(t, lines, (size+1)/2)
	// Every cell matches the two modules it draws (light = block).
	for row, line := range lines {
		cells := []rune(line)
		require.Len(t, cells, size)
		for x, c := range cells {
			light := func(y int) bool { return !code.Black(x-2, y-2) }
			want := map[[2]bool]rune{{true, true}: '█', {true, false}: '▀', {false, true}: '▄', {false, false}: ' '}[[2]bool{light(2 * row), light(2*row + 1)}]
			require.Equal(t, string(want), string(c), "row %d col %d", row, x)
		}
	}
	inv, err := terminalQR(text, true)
	require.NoError(t, err)
	require.NotEqual(t, s, inv)
}

// startTestNode serves a node on loopback for the CLI to talk to.
func startTestNode(t *testing.T, token string) (*engine.Engine, string) {
	t.Helper()
	e, err := engine.New(context.Background(), engine.WithDataDir(t.TempDir()), engine.WithListenAddrs("/ip4/127.0.0.1/tcp/0"))
	require.NoError(t, err)
	cfg := node.DefaultConfig()
	cfg.Token = token
	n, err := node.New(context.Background(), e, cfg)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- n.Serve(ln) }()
	t.Cleanup(func() {
		require.NoError(t, n.Close())
		require.NoError(t, <-done)
		require.NoError(t, e.Close())
	})
	return e, "http://" + ln.Addr().String()
}

// lattice compact compacts a database of a running node and prints its
// history before and after; an error of the node is the command's.
func TestCompactCommand(t *testing.T) {
	const token = "a-token-long-enough-for-the-node"
	a, api := startTestNode(t, token)
	db, err := a.Create(context.Background(), "Compacted")
	require.NoError(t, err)
	c := db.Collection("c")
	for i := 0; i < 10; i++ {
		_, err := c.InsertOne(context.Background(), engine.M{"_id": fmt.Sprint(i)})
		require.NoError(t, err)
		if i%2 == 0 {
			_, err = c.DeleteOne(context.Background(), engine.M{"_id": fmt.Sprint(i)})
			require.NoError(t, err)
		}
	}
	code, out, errOut := runCLI(t, "compact", "--api", api, "--api-token", token, "--database", db.Address())
	require.Equal(t, 0, code, errOut)
	require.Regexp(t, `^before: 15 blocks, \d+ bytes\nafter:  10 blocks, \d+ bytes\n$`, out)
	code, _, errOut = runCLI(t, "compact", "--api", api, "--database", db.Address())
	require.NotEqual(t, 0, code, "no token")
	require.Contains(t, errOut, "lattice:")
}

func TestInviteAndJoin(t *testing.T) {
	const token = "a-token-long-enough-for-the-node"
	a, apiA := startTestNode(t, token)
	b, apiB := startTestNode(t, "")
	db, err := a.Create(context.Background(), "TodoList", engine.WithAccess(accesscontrol.Open()))
	require.NoError(t, err)

	code, _, errOut := runCLI(t, "invite", "--api", apiA, "--database", db.Address())
	require.Equal(t, exitFailure, code, "no token: the node refuses")
	require.Contains(t, errOut, "unauthorized")

	code, out, errOut := runCLI(t, "invite", "--api", apiA, "--api-token", token, "--database", db.Address())
	require.Equal(t, 0, code, errOut)
	link := strings.SplitN(out, "\n", 2)[0]
	require.True(t, strings.HasPrefix(link, "lattice://join?peer="+a.ID().String()), link)
	require.Contains(t, out, "█", "a QR code follows the link")
	require.Contains(t, out, "QR code as PNG: "+apiA+"/v1/invites/qr?link=")

	// For a phone: the http form of the link, and its QR code.
	code, out, errOut = runCLI(t, "invite", "--api", apiA, "--api-token", token, "--database", db.Address(), "--web", "http://192.168.1.20:5080")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "\nweb: http://192.168.1.20:5080/#join=lattice%3A%2F%2Fjoin%3Fpeer%3D"+a.ID().String())
	require.Contains(t, out, "&web=http%3A%2F%2F192.168.1.20%3A5080\n")
	code, _, _ = runCLI(t, "invite", "--api", apiA, "--api-token", token, "--database", db.Address(), "--web", "ftp://x")
	require.Equal(t, exitUsage, code)

	// A history of single writes, which the joiner catches up on.
	for i := 0; i < 200; i++ {
		_, err := db.Collection("todos").InsertOne(context.Background(), engine.M{"n": i})
		require.NoError(t, err)
	}
	code, out, errOut = runCLI(t, "join", "--api", apiB, link)
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "joined: "+db.Address()+"\n", out, "stdout is the contract's one line")
	require.Contains(t, errOut, "caught up: 200 documents", "the join follows the history arriving")
	infos, err := b.Databases(context.Background())
	require.NoError(t, err)
	require.Len(t, infos, 1)
	require.True(t, infos[0].Open)

	code, _, errOut = runCLI(t, "join", "--api", apiB, "lattice://join?peer=nope")
	require.Equal(t, exitUsage, code, errOut)

	// Nothing listens on port 1 (tcpmux, unused here); a port closed after
	// use could be taken again by a test binary running in parallel.
	code, _, _ = runCLI(t, "join", "--api", "http://127.0.0.1:1", link)
	require.Equal(t, exitUnreachable, code)
}

func TestNodeCommand(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"node", "--data", dir, "--api", "127.0.0.1:0", "--listen", "/ip4/127.0.0.1/tcp/0", "--log-level", "off"}, &out, &errOut)
	}()

	apiLine := regexp.MustCompile(`(?m)^api: (http://\S+)$`)
	api := waitLine(t, &out, done, apiLine)
	require.Regexp(t, `(?m)^peer: 12D3KooW\S+$`, out.String())
	require.Regexp(t, `(?m)^listen: /ip4/127\.0\.0\.1/tcp/\d+/p2p/12D3KooW\S+$`, out.String())
	require.Contains(t, out.String(), "app: "+api+"/\n")

	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	res, err := client.Get(api + "/v1/id")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 200, res.StatusCode)

	cancel() // as SIGINT would
	select {
	case code := <-done:
		require.Equal(t, 0, code, errOut.String())
	case <-time.After(20 * time.Second):
		t.Fatal("node did not stop")
	}
	require.Contains(t, errOut.String(), "stopped.")
}

// startCLI runs a long-running command in-process until the test ends (as
// SIGINT would end it) and returns its output buffers and exit code.
func startCLI(t *testing.T, args ...string) (out, errOut *syncBuffer, done <-chan int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, errOut = &syncBuffer{}, &syncBuffer{}
	ch := make(chan int, 1)
	go func() { ch <- run(ctx, args, out, errOut) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-ch:
		case <-time.After(20 * time.Second):
			t.Errorf("%v did not stop", args)
		}
	})
	return out, errOut, ch
}

// waitLine waits for a line of out matching re and returns its first group.
func waitLine(t *testing.T, out *syncBuffer, done <-chan int, re *regexp.Regexp) string {
	t.Helper()
	var found string
	poll.Eventually(t, 30*time.Second, func() error {
		select {
		case code := <-done:
			t.Fatalf("exited with %d: %s", code, out.String())
		default:
		}
		m := re.FindStringSubmatch(out.String())
		if m == nil {
			return fmt.Errorf("no line %s in: %s", re, out.String())
		}
		found = m[1]
		return nil
	})
	return found
}

// lattice relay prints its addresses in the contract's form, and a node
// started with --relay on one of them advertises a circuit address through
// it in /v1/id (and so in its share links).
func TestRelayCommand(t *testing.T) {
	relayOut, _, relayDone := startCLI(t, "relay", "--data", t.TempDir(), "--listen", "/ip4/127.0.0.1/tcp/0")
	relayAddr := waitLine(t, relayOut, relayDone, regexp.MustCompile(`(?m)^relay: (/ip4/127\.0\.0\.1/tcp/\d+/p2p/12D3KooW\S+)$`))

	nodeOut, _, nodeDone := startCLI(t, "node", "--in-memory", "--api", "127.0.0.1:0", "--listen", "/ip4/127.0.0.1/tcp/0", "--relay", relayAddr, "--log-level", "off")
	api := waitLine(t, nodeOut, nodeDone, regexp.MustCompile(`(?m)^api: (http://\S+)$`))

	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	poll.Eventually(t, 30*time.Second, func() error {
		res, err := client.Get(api + "/v1/id")
		require.NoError(t, err)
		var id struct {
			PeerID string   `json:"peerId"`
			Addrs  []string `json:"addrs"`
		}
		require.NoError(t, json.NewDecoder(res.Body).Decode(&id))
		res.Body.Close()
		circuit := relayAddr + "/p2p-circuit/p2p/" + id.PeerID
		if !slices.Contains(id.Addrs, circuit) {
			return fmt.Errorf("no circuit address %s in %v", circuit, id.Addrs)
		}
		return nil
	})

	code, _, errOut := runCLI(t, "relay", "--listen", "not-a-multiaddr")
	require.Equal(t, exitUsage, code, errOut)
}

// Two nodes on one data directory: the second says who holds it, in words
// a user can act on, instead of pebble's "resource temporarily
// unavailable"; the lock goes with the first node, so a node started after
// it stops gets the directory.
func TestDataDirInUse(t *testing.T) {
	dir := t.TempDir()
	args := []string{"node", "--data", dir, "--api", "127.0.0.1:0", "--listen", "/ip4/127.0.0.1/tcp/0", "--log-level", "off"}
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, &out, &errOut) }()
	stopped := false
	t.Cleanup(func() { // before t.TempDir's removal, even on failure
		cancel()
		if !stopped {
			<-done
		}
	})
	waitLine(t, &out, done, regexp.MustCompile(`(?m)^api: (http://\S+)$`))

	code, _, secondErr := runCLI(t, args...)
	require.Equal(t, exitFailure, code, secondErr)
	require.Contains(t, secondErr, fmt.Sprintf("data directory %s is in use by another lattice process (pid %d)", dir, os.Getpid()))
	require.NotContains(t, secondErr, "resource temporarily unavailable")

	cancel()
	select {
	case code := <-done:
		stopped = true
		require.Equal(t, 0, code, errOut.String())
	case <-time.After(20 * time.Second):
		t.Fatal("node did not stop")
	}
	third, _, thirdDone := startCLI(t, args...)
	waitLine(t, third, thirdDone, regexp.MustCompile(`(?m)^api: (http://\S+)$`))
}

// A relay on an address another relay holds fails at start and says why,
// rather than sharing the port (libp2p's TCP transport binds with
// SO_REUSEPORT) or starting on the addresses that did work.
func TestRelayPortInUse(t *testing.T) {
	out, _, done := startCLI(t, "relay", "--in-memory", "--listen", "/ip4/127.0.0.1/tcp/0")
	addr := waitLine(t, out, done, regexp.MustCompile(`(?m)^relay: (/ip4/127\.0\.0\.1/tcp/\d+)/p2p/`))
	port := strings.TrimPrefix(addr, "/ip4/127.0.0.1/tcp/")

	for _, listen := range [][]string{
		{"--listen", addr},
		{"--listen", addr, "--listen", "/ip4/127.0.0.1/udp/" + port + "/quic-v1"},
	} {
		code, stdout, errOut := runCLI(t, append([]string{"relay", "--in-memory"}, listen...)...)
		require.Equal(t, exitFailure, code, "%v: %s%s", listen, stdout, errOut)
		require.Contains(t, errOut, addr, listen)
		require.Contains(t, errOut, "address already in use", listen)
		require.NotContains(t, stdout, "relay: ", listen)
	}
}

// lattice node --peer-listen serves the browser peer's page, and only it,
// on a listener of its own, printed as peer-listen: ...; it needs
// --peer-assets.
func TestNodePeerListen(t *testing.T) {
	assets := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(assets, "lattice.wasm"), []byte("\x00asm"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(assets, "wasm_exec.js"), []byte("// glue"), 0o644))
	out, errOut, done := startCLI(t, "node", "--in-memory", "--api", "127.0.0.1:0", "--listen", "/ip4/127.0.0.1/tcp/0", "--log-level", "off",
		"--peer-assets", assets, "--peer-listen", "127.0.0.1:0")
	page := waitLine(t, out, done, regexp.MustCompile(`(?m)^peer-listen: (http://\S+/peer/)$`))
	require.NotContains(t, errOut.String(), "rror")
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	base := strings.TrimSuffix(page, "/peer/")
	for path, want := range map[string]int{"/peer/": 200, "/peer/lattice.wasm": 200, "/v1/id": 404, "/": 404} {
		res, err := client.Get(base + path)
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, want, res.StatusCode, path)
	}

	code, _, errText := runCLI(t, "node", "--in-memory", "--peer-listen", "127.0.0.1:0")
	require.Equal(t, 2, code)
	require.Contains(t, errText, "--peer-listen needs --peer-assets")
}
