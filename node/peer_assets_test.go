package node_test

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/node"
)

// /peer/ serves the embedded page and, from Config.PeerAssets, lattice.wasm
// (gzipped to browsers that take gzip, when a .gz copy is there) and
// wasm_exec.js, with a policy that lets the page run WebAssembly and dial
// WebSocket peers; without assets the wasm is a 404 that says how to get
// it.
func TestPeerPageAssets(t *testing.T) {
	assets := fstest.MapFS{
		"lattice.wasm":    {Data: []byte("\x00asm raw")},
		"lattice.wasm.gz": {Data: []byte("gzipped bytes")},
		"wasm_exec.js":    {Data: []byte("// glue")},
	}
	tn := startNode(t, func(c *node.Config) { c.PeerAssets = assets })
	get := func(tn *testNode, path, enc string) (*http.Response, string) {
		req, err := http.NewRequest("GET", tn.url+path, nil)
		require.NoError(t, err)
		if enc != "" {
			req.Header.Set("Accept-Encoding", enc)
		}
		res, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
		require.NoError(t, err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res, string(b)
	}
	res, body := get(tn, "/peer/", "")
	require.Equal(t, 200, res.StatusCode)
	require.Contains(t, body, "lattice.js")
	require.Contains(t, res.Header.Get("Content-Security-Policy"), "'wasm-unsafe-eval'")
	require.Contains(t, res.Header.Get("Content-Security-Policy"), "connect-src 'self' ws: wss:")
	res, _ = get(tn, "/", "")
	require.NotContains(t, res.Header.Get("Content-Security-Policy"), "wasm-unsafe-eval", "only the peer's page runs WebAssembly")

	res, body = get(tn, "/peer/lattice.wasm", "gzip, deflate")
	require.Equal(t, 200, res.StatusCode)
	require.Equal(t, "gzip", res.Header.Get("Content-Encoding"))
	require.Equal(t, "application/wasm", res.Header.Get("Content-Type"))
	require.Equal(t, "gzipped bytes", body)
	res, body = get(tn, "/peer/lattice.wasm", "br;q=1, gzip;q=0")
	require.Empty(t, res.Header.Get("Content-Encoding"))
	require.Equal(t, "\x00asm raw", body)
	res, body = get(tn, "/peer/wasm_exec.js", "")
	require.Equal(t, 200, res.StatusCode)
	require.Equal(t, "// glue", body)
	for _, f := range []string{"/peer/lattice.js", "/peer/lattice-worker.js", "/peer/peer-app.js", "/peer/sw.js"} {
		res, _ = get(tn, f, "")
		require.Equal(t, 200, res.StatusCode, f)
	}

	bare := startNode(t)
	res, body = get(bare, "/peer/lattice.wasm", "")
	require.Equal(t, 404, res.StatusCode)
	require.True(t, strings.Contains(body, "--peer-assets"), body)
}

// ServePeerApp (lattice node --peer-listen) serves the browser peer's page
// and the two files it shares with the app to anyone, whatever the Host
// (a phone on the LAN, with the node's API on loopback and no token), and
// nothing else: no API, no metrics, not the app.
func TestServePeerApp(t *testing.T) {
	assets := fstest.MapFS{"lattice.wasm": {Data: []byte("\x00asm")}, "wasm_exec.js": {Data: []byte("// glue")}}
	tn := startNode(t, func(c *node.Config) { c.PeerAssets = assets })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- tn.n.ServePeerApp(ln) }()
	get := func(method, path string) (int, string) {
		req, err := http.NewRequest(method, "http://"+ln.Addr().String()+path, nil)
		require.NoError(t, err)
		req.Host = "192.168.1.20:5081" // the LAN name a phone uses
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res.StatusCode, string(b)
	}
	for _, p := range []string{"/peer/", "/peer/lattice.js", "/peer/lattice-worker.js", "/peer/peer-app.js", "/peer/sw.js", "/peer/lattice.wasm", "/peer/wasm_exec.js", "/app.css", "/favicon.svg"} {
		code, _ := get(http.MethodGet, p)
		require.Equal(t, http.StatusOK, code, p)
	}
	for _, p := range []string{"/", "/app.js", "/v1/id", "/v1/databases", "/metrics"} {
		code, body := get(http.MethodGet, p)
		require.Equal(t, http.StatusNotFound, code, p)
		require.Contains(t, body, "browser peer's page only", p)
	}
	code, _ := get(http.MethodPost, "/peer/")
	require.Equal(t, http.StatusMethodNotAllowed, code)
	// The API listener still refuses that Host without a token.
	req, err := http.NewRequest(http.MethodGet, tn.url+"/v1/id", nil)
	require.NoError(t, err)
	req.Host = "192.168.1.20:5080"
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusForbidden, res.StatusCode)

	require.NoError(t, tn.n.Close())
	require.NoError(t, <-served)

	bare := startNode(t)
	require.ErrorIs(t, bare.n.ServePeerApp(ln), node.ErrNoPeerAssets)
}
