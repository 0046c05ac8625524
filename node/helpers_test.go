package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/connmgr"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/dialpolicy"
	"github.com/latticedb/lattice/internal/leaktest"
	"github.com/latticedb/lattice/node"
)

// TestMain fails the package if any goroutine outlives the tests: nodes,
// engines and event streams must release what they started on Close.
func TestMain(m *testing.M) {
	leaktest.VerifyTestMain(m)
}

// testNode is a real engine (pebble in a temp dir, loopback TCP) served by a
// node on a real loopback listener.
type testNode struct {
	t      testing.TB
	e      *engine.Engine
	n      *node.Node
	url    string
	token  string
	client *http.Client // own transport, so its connections close with the node
	stop   func()       // closes the node and its engine (once; also at the test's end)
}

// startNode starts a node; mod may adjust its configuration.
func startNode(t testing.TB, mod ...func(*node.Config)) *testNode {
	t.Helper()
	return startNodeWith(t, nil, mod...)
}

// startNodeWith starts a node whose engine gets extra options.
func startNodeWith(t testing.TB, eopts []engine.Option, mod ...func(*node.Config)) *testNode {
	t.Helper()
	return startNodeGated(t, nil, eopts, mod...)
}

// testListen is where test engines listen: loopback, which is also why the
// dial policy lets them dial each other on loopback.
const testListen = "/ip4/127.0.0.1/tcp/0"

// startNodeGated starts a node whose engine has the node's dial policy
// (as lattice node's has) composed with the given gaters, and extra
// options.
func startNodeGated(t testing.TB, gaters []connmgr.ConnectionGater, eopts []engine.Option, mod ...func(*node.Config)) *testNode {
	t.Helper()
	return startNodeIn(t, t.TempDir(), "127.0.0.1:0", gaters, eopts, mod...)
}

// startNodeIn starts a node on data directory dir with its API on addr
// (host:port): started again on the same two, after Close, it is the same
// node to a client.
func startNodeIn(t testing.TB, dir, addr string, gaters []connmgr.ConnectionGater, eopts []engine.Option, mod ...func(*node.Config)) *testNode {
	t.Helper()
	e, err := engine.New(context.Background(), append([]engine.Option{
		engine.WithDataDir(dir),
		engine.WithListenAddrs(testListen),
		engine.WithRebroadcastInterval(2 * time.Second),
		node.DialPolicy(dialpolicy.Config{Listen: []ma.Multiaddr{ma.StringCast(testListen)}}, gaters...),
	}, eopts...)...)
	require.NoError(t, err)
	cfg := node.DefaultConfig()
	for _, m := range mod {
		m(&cfg)
	}
	n, err := node.New(context.Background(), e, cfg)
	if err != nil {
		_ = e.Close()
		require.NoError(t, err)
	}
	client := &http.Client{Transport: &http.Transport{}, Timeout: 60 * time.Second}
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		// A test that never talks to this node can end before this
		// goroutine runs: Serve after Close is ErrClosed, as documented.
		if err := n.Serve(ln); err != nil && !errors.Is(err, node.ErrClosed) {
			t.Errorf("serve: %v", err)
		}
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			require.NoError(t, n.Close())
			wg.Wait()
			_ = ln.Close() // Serve closes it, unless it never ran
			client.CloseIdleConnections()
			require.NoError(t, e.Close())
		})
	}
	t.Cleanup(stop)
	return &testNode{t: t, e: e, n: n, url: "http://" + ln.Addr().String(), token: cfg.Token, client: client, stop: stop}
}

// do sends a request with a JSON body (a string is sent verbatim) and
// decodes the JSON answer (numbers as json.Number).
func (tn *testNode) do(method, path string, body any) (int, map[string]any) {
	tn.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(tn.t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, tn.url+path, rd)
	require.NoError(tn.t, err)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tn.token != "" {
		req.Header.Set("Authorization", "Bearer "+tn.token)
	}
	res, err := tn.client.Do(req)
	require.NoError(tn.t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(tn.t, err)
	var out map[string]any
	if len(raw) > 0 && strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		require.NoError(tn.t, dec.Decode(&out), "body: %s", raw)
	}
	return res.StatusCode, out
}

// ok sends a request and requires the given status.
func (tn *testNode) ok(status int, method, path string, body any) map[string]any {
	tn.t.Helper()
	got, out := tn.do(method, path, body)
	require.Equal(tn.t, status, got, "%s %s: %v", method, path, out)
	return out
}

// act runs an action on collection "todos" of database db and requires 200
// or 201.
func (tn *testNode) act(name, db string, body map[string]any) map[string]any {
	tn.t.Helper()
	b := map[string]any{"database": db, "collection": "todos"}
	for k, v := range body {
		b[k] = v
	}
	status, out := tn.do(http.MethodPost, "/v1/action/"+name, b)
	require.Contains(tn.t, []int{200, 201}, status, "%s: %v", name, out)
	return out
}

// createDB creates a database with open access and returns its address.
func (tn *testNode) createDB(name string) string {
	tn.t.Helper()
	out := tn.ok(http.StatusCreated, http.MethodPost, "/v1/databases",
		map[string]any{"name": name, "access": map[string]any{"type": "open"}, "meta": map[string]string{"test": tn.t.Name()}})
	return out["address"].(string)
}

// errCode returns the error code of an error response.
func errCode(out map[string]any) string {
	e, _ := out["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

var errNotYet = errors.New("not yet")
