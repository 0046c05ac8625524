package node_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/node"
)

const testToken = "correct-horse-battery-staple"

func TestTokenRequired(t *testing.T) {
	a := startNode(t, func(c *node.Config) { c.Token = testToken })

	get := func(path string, header string) int {
		req, err := http.NewRequest("GET", a.url+path, nil)
		require.NoError(t, err)
		if header != "" {
			req.Header.Set("Authorization", header)
		}
		res, err := a.client.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		return res.StatusCode
	}
	require.Equal(t, 401, get("/v1/id", ""))
	require.Equal(t, 401, get("/v1/id", "Bearer wrong-token-of-some-length"))
	require.Equal(t, 401, get("/v1/id", "Basic "+testToken))
	require.Equal(t, 401, get("/metrics", ""))
	require.Equal(t, 401, get("/v1/nothing", ""), "unknown routes do not tell what exists")
	require.Equal(t, 200, get("/v1/id", "Bearer "+testToken))
	require.Equal(t, 401, get("/v1/id?token="+testToken, ""), "the token is never taken from a URL")
	require.Equal(t, 200, get("/metrics", "Bearer "+testToken))
	require.Equal(t, 200, get("/", ""), "the web app's files are public")
	require.Equal(t, 200, get("/app.js", ""))

	status, out := a.do("GET", "/v1/id", nil) // do sends the token
	require.Equal(t, 200, status, "%v", out)
}

func TestTokenTooShort(t *testing.T) {
	cfg := node.DefaultConfig()
	cfg.Token = "short"
	require.ErrorIs(t, cfg.Validate(), node.ErrBadConfig)
}

func TestLoopbackOnlyWithoutToken(t *testing.T) {
	e, err := engine.New(context.Background(), engine.WithInMemory(), engine.WithListenAddrs("/ip4/127.0.0.1/tcp/0"))
	require.NoError(t, err)
	defer func() { require.NoError(t, e.Close()) }()
	n, err := node.New(context.Background(), e, node.DefaultConfig())
	require.NoError(t, err)
	defer func() { require.NoError(t, n.Close()) }()

	// A non-loopback client is refused, even on a loopback listener (a
	// port forward, a proxy).
	req := httptest.NewRequest("GET", "http://127.0.0.1:5080/v1/id", nil)
	req.RemoteAddr = "192.0.2.7:40000"
	rec := httptest.NewRecorder()
	n.Handler().ServeHTTP(rec, req)
	require.Equal(t, 403, rec.Code)

	// A Host header that is not loopback is refused: DNS rebinding.
	req = httptest.NewRequest("GET", "http://attacker.example:5080/v1/id", nil)
	req.RemoteAddr = "127.0.0.1:40000"
	rec = httptest.NewRecorder()
	n.Handler().ServeHTTP(rec, req)
	require.Equal(t, 403, rec.Code)
	require.Contains(t, rec.Body.String(), `"forbidden"`)

	// A cross-origin browser write is refused (CSRF).
	req = httptest.NewRequest("POST", "http://127.0.0.1:5080/v1/databases", strings.NewReader(`{"name":"x"}`))
	req.RemoteAddr = "127.0.0.1:40000"
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	rec = httptest.NewRecorder()
	n.Handler().ServeHTTP(rec, req)
	require.Equal(t, 403, rec.Code)

	req = httptest.NewRequest("GET", "http://localhost:5080/v1/id", nil)
	req.RemoteAddr = "[::1]:40000"
	rec = httptest.NewRecorder()
	n.Handler().ServeHTTP(rec, req)
	require.Equal(t, 200, rec.Code, rec.Body.String())

	// Serve refuses a non-loopback listener without a token.
	ip := nonLoopbackIP()
	if ip == nil {
		t.Log("no non-loopback interface: Serve's refusal checked through the handler only")
		return
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(ip.String(), "0"))
	require.NoError(t, err)
	defer ln.Close()
	done := make(chan error, 1)
	go func() { done <- n.Serve(ln) }()
	select {
	case err := <-done:
		require.ErrorIs(t, err, node.ErrTokenRequired)
	case <-time.After(10 * time.Second):
		t.Fatal("Serve accepted a non-loopback listener without a token")
	}
}

// TestNonLoopbackWithToken binds a non-loopback address, when the machine
// has one, and checks that a request without the token gets 401.
func TestNonLoopbackWithToken(t *testing.T) {
	ip := nonLoopbackIP()
	if ip == nil {
		t.Skip("no non-loopback interface on this machine")
	}
	e, err := engine.New(context.Background(), engine.WithInMemory(), engine.WithListenAddrs("/ip4/127.0.0.1/tcp/0"))
	require.NoError(t, err)
	defer func() { require.NoError(t, e.Close()) }()
	cfg := node.DefaultConfig()
	cfg.Token = testToken
	n, err := node.New(context.Background(), e, cfg)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", net.JoinHostPort(ip.String(), "0"))
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- n.Serve(ln) }()
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()

	res, err := client.Get("http://" + ln.Addr().String() + "/v1/id")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 401, res.StatusCode)

	req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/v1/id", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	res, err = client.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 200, res.StatusCode)

	require.NoError(t, n.Close())
	require.NoError(t, <-done)
	require.ErrorIs(t, n.Serve(ln), node.ErrClosed)
}

// nonLoopbackIP returns an IPv4 address of a local interface that is not
// loopback, or nil.
func nonLoopbackIP() net.IP {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil && !ipn.IP.IsLinkLocalUnicast() {
			if ln, err := net.Listen("tcp", net.JoinHostPort(ipn.IP.String(), "0")); err == nil {
				ln.Close()
				return ipn.IP
			}
		}
	}
	return nil
}
