package discovery_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/discovery"
	"github.com/latticedb/lattice/discovery/discoverytest"
	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/poll"
)

// mDNS needs an interface with multicast, which Linux lo is not: this test
// builds two network namespaces joined by a veth pair (every name starts
// with ltd-, and all of it is torn down when the test ends, failed or
// not), runs this test binary again inside each (TestMDNSChild), and checks
// that the two engines find each other by mDNS alone and sync a document
// both ways. It needs root and ip(8): it skips without them, except under
// CI=true, where it fails.

const (
	childEnv   = "LATTICE_MDNS_CHILD" // "a" (creates the database) or "b" (opens it)
	addressEnv = "LATTICE_MDNS_ADDRESS"
	listenEnv  = "LATTICE_MDNS_LISTEN"
)

func TestMDNSFindsPeersOnALAN(t *testing.T) {
	needNetns(t)
	suffix := fmt.Sprint(os.Getpid() % 100000)
	nsA, nsB := "ltd-a-"+suffix, "ltd-b-"+suffix
	vethA, vethB := "ltd-va"+suffix, "ltd-vb"+suffix // at most 15 bytes
	ipCmd := func(args ...string) {
		t.Helper()
		out, err := exec.Command("ip", args...).CombinedOutput()
		require.NoError(t, err, "ip %s: %s", strings.Join(args, " "), out)
	}
	teardown := func() {
		for _, ns := range []string{nsA, nsB} {
			_ = exec.Command("ip", "netns", "del", ns).Run()
		}
		_ = exec.Command("ip", "link", "del", vethA).Run()
	}
	teardown() // what a killed run with this pid left
	t.Cleanup(func() {
		// Deleting a namespace deletes the veth end inside it, and so the
		// pair; whatever step failed, nothing is left behind.
		teardown()
	})
	ipCmd("netns", "add", nsA)
	ipCmd("netns", "add", nsB)
	ipCmd("link", "add", vethA, "type", "veth", "peer", "name", vethB)
	for _, s := range []struct{ ns, dev, ip string }{{nsA, vethA, "10.77.0.1"}, {nsB, vethB, "10.77.0.2"}} {
		ipCmd("link", "set", s.dev, "netns", s.ns)
		ipCmd("-n", s.ns, "addr", "add", s.ip+"/24", "dev", s.dev)
		ipCmd("-n", s.ns, "link", "set", s.dev, "up")
		ipCmd("-n", s.ns, "link", "set", "lo", "up")
		ipCmd("-n", s.ns, "route", "add", "224.0.0.0/4", "dev", s.dev)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	a := startChild(ctx, t, nsA, "a", "/ip4/10.77.0.1/tcp/0", "")
	address := a.waitLine(t, "address: ")
	start := time.Now()
	b := startChild(ctx, t, nsB, "b", "/ip4/10.77.0.2/tcp/0", address)
	b.waitLine(t, "synced")
	a.waitLine(t, "synced")
	t.Logf("mdns: both documents on both peers %s after the second process started", time.Since(start).Round(time.Millisecond))
	a.finish(t)
	b.finish(t)
}

// child is this test binary running TestMDNSChild in a namespace.
type child struct {
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
	mu    sync.Mutex
	out   strings.Builder // everything it printed, for failures
	done  chan error
}

func startChild(ctx context.Context, t *testing.T, ns, role, listen, address string) *child {
	t.Helper()
	return startChildTest(ctx, t, ns, "TestMDNSChild", role, listen, address)
}

// startChildTest runs test (a child test of this file) in namespace ns.
func startChildTest(ctx context.Context, t *testing.T, ns, test, role, listen, address string) *child {
	t.Helper()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, os.Args[0], "-test.run=^"+test+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+role, listenEnv+"="+listen, addressEnv+"="+address)
	c := &child{name: role, cmd: cmd, lines: make(chan string, 64), done: make(chan error, 1)}
	var err error
	c.stdin, err = cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = cmd.Stdout
	require.NoError(t, cmd.Start())
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.mu.Lock()
			c.out.WriteString(sc.Text() + "\n")
			c.mu.Unlock()
			select {
			case c.lines <- sc.Text():
			default:
			}
		}
		close(c.lines)
		c.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = c.stdin.Close()
		_ = cmd.Process.Kill()
		<-c.done
		c.done <- nil
		if t.Failed() {
			c.mu.Lock()
			t.Logf("child %s printed:\n%s", c.name, c.out.String())
			c.mu.Unlock()
		}
	})
	return c
}

// waitLine returns the rest of the first line the child prints that
// starts with prefix.
func (c *child) waitLine(t *testing.T, prefix string) string {
	t.Helper()
	timeout := time.After(2 * time.Minute)
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				t.Fatalf("child %s ended before printing %q", c.name, prefix)
			}
			if rest, ok := strings.CutPrefix(l, prefix); ok {
				return rest
			}
		case <-timeout:
			t.Fatalf("child %s did not print %q in time", c.name, prefix)
		}
	}
}

// finish closes the child's stdin, which makes it close its engine and
// exit, and checks that its test passed.
func (c *child) finish(t *testing.T) {
	t.Helper()
	require.NoError(t, c.stdin.Close())
	for range c.lines {
	}
	err := <-c.done
	c.done <- err
	require.NoError(t, err, "child %s", c.name)
}

// TestMDNSChild is one side of TestMDNSFindsPeersOnALAN, run in its
// namespace; it does nothing when run otherwise.
func TestMDNSChild(t *testing.T) {
	role := os.Getenv(childEnv)
	if role == "" {
		t.Skip("runs only inside TestMDNSFindsPeersOnALAN's namespaces")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	e, err := engine.New(ctx, engine.WithInMemory(), engine.WithListenAddrs(os.Getenv(listenEnv)),
		engine.WithDiscovery(discovery.MDNS("")), engine.WithRebroadcastInterval(2*time.Second))
	require.NoError(t, err)
	defer func() { require.NoError(t, e.Close()) }()
	defer func() { // before Close: a failure explains itself
		if t.Failed() {
			fmt.Print(diagnose(e))
		}
	}()
	var db *engine.Database
	mine, theirs := "from-"+role, "from-a"
	if role == "a" {
		theirs = "from-b"
		db, err = e.Create(ctx, "lan", engine.WithAccess(accesscontrol.Open()))
		require.NoError(t, err)
		fmt.Printf("address: %s\n", db.Address())
	} else {
		// Only mDNS can lead this engine to the one holding the manifest.
		poll.Eventually(t, time.Minute, func() error {
			octx, ocancel := context.WithTimeout(ctx, 10*time.Second)
			defer ocancel()
			db, err = e.Open(octx, os.Getenv(addressEnv))
			if err != nil {
				fmt.Printf("open failed: %v (discovery %+v)\n", err, e.DiscoveryStats())
			}
			return err
		})
	}
	docs := db.Collection("docs")
	_, err = docs.InsertOne(ctx, engine.M{"_id": mine})
	require.NoError(t, err)
	poll.Eventually(t, time.Minute, func() error {
		var doc engine.M
		return docs.FindOne(ctx, engine.M{"_id": theirs}).Decode(&doc)
	})
	require.Positive(t, e.DiscoveryStats().Found, "peer found without mDNS")
	fmt.Println("synced")
	_, _ = io.Copy(io.Discard, os.Stdin) // until the parent is done with both
}

// diagnose describes what the engine's discovery found and dialled and
// which peers it is connected to, for a failure to explain itself (a
// Failed dial with Connected 0 is the simultaneous open Limits.Yield
// prevents; Found 0 is mDNS not hearing the other side).
func diagnose(e *engine.Engine) string {
	var b strings.Builder
	fmt.Fprintf(&b, "diagnosis: peer %s, addrs %v\n", e.ID(), e.Addrs())
	fmt.Fprintf(&b, "diagnosis: discovery stats %+v\n", e.DiscoveryStats())
	for _, p := range e.Host().Network().Peers() {
		fmt.Fprintf(&b, "diagnosis: peer %s %s, conns %v\n", p, e.Host().Network().Connectedness(p), e.Host().Network().ConnsToPeer(p))
	}
	return b.String()
}

// needNetns skips a test that builds network namespaces without root and
// ip(8), except under CI=true, where it fails.
func needNetns(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil || os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the mDNS test needs root and ip(8) (uid %d, ip: %v); CI must provide both", os.Geteuid(), err)
		}
		t.Skip("needs root and ip(8) to build network namespaces")
	}
}

// TestMDNSConformance runs the discovery conformance suite
// (discoverytest.Run) on the mDNS source. The suite runs two engines in
// one process, and mDNS needs an interface with multicast: the test builds
// one network namespace holding both ends of a veth pair (an interface with
// multicast; the kernel loops multicast back to the sockets of the same
// host), and runs this test binary again inside it
// (TestMDNSConformanceChild), where both engines listen on one end's
// address and can meet by mDNS alone.
func TestMDNSConformance(t *testing.T) {
	needNetns(t)
	suffix := fmt.Sprint(os.Getpid() % 100000)
	ns, dev, peerDev := "ltd-c-"+suffix, "ltd-vc"+suffix, "ltd-vd"+suffix
	ipCmd := func(args ...string) {
		t.Helper()
		out, err := exec.Command("ip", args...).CombinedOutput()
		require.NoError(t, err, "ip %s: %s", strings.Join(args, " "), out)
	}
	teardown := func() { _ = exec.Command("ip", "netns", "del", ns).Run() } // and the veth pair inside it
	teardown()
	t.Cleanup(teardown)
	ipCmd("netns", "add", ns)
	ipCmd("-n", ns, "link", "add", dev, "type", "veth", "peer", "name", peerDev)
	ipCmd("-n", ns, "addr", "add", "10.78.0.1/24", "dev", dev)
	ipCmd("-n", ns, "link", "set", peerDev, "up")
	ipCmd("-n", ns, "link", "set", dev, "up")
	ipCmd("-n", ns, "link", "set", "lo", "up")
	ipCmd("-n", ns, "route", "add", "224.0.0.0/4", "dev", dev)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := startChildTest(ctx, t, ns, "TestMDNSConformanceChild", "conformance", "/ip4/10.78.0.1/tcp/0", "")
	c.waitLine(t, "conformance passed")
	c.finish(t)
}

// TestMDNSConformanceChild is TestMDNSConformance's suite, run in its
// namespace; it does nothing when run otherwise.
func TestMDNSConformanceChild(t *testing.T) {
	if os.Getenv(childEnv) != "conformance" {
		t.Skip("runs only inside TestMDNSConformance's namespace")
	}
	discoverytest.Run(t, discoverytest.Config{
		NewSource: func(testing.TB, []peer.AddrInfo) discovery.Source { return discovery.MDNS("") },
		// Both engines on the veth, where mDNS can reach.
		EngineOptions: []engine.Option{engine.WithListenAddrs(os.Getenv(listenEnv))},
	})
	if !t.Failed() {
		fmt.Println("conformance passed")
	}
	_, _ = io.Copy(io.Discard, os.Stdin) // until the parent is done
}
