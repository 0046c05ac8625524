package node_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/node"
)

// get sends a GET with an optional Authorization header and returns the
// status and the JSON error code, if any.
func (tn *testNode) rawGet(t *testing.T, path, auth string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", tn.url+path, nil)
	require.NoError(t, err)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := tn.client.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, errCode(out)
}

// TestEventTicket: in token mode the event stream takes a short-lived,
// single-use ticket from an authenticated POST, never the token in its URL.
func TestEventTicket(t *testing.T) {
	a := startNode(t, func(c *node.Config) { c.Token = testToken })
	db := a.createDB("Tickets")
	events := "/v1/events?database=" + url.QueryEscape(db)

	status, code := a.rawGet(t, events+"&token="+testToken, "")
	require.Equal(t, 401, status, "the token in the query string is refused")
	require.Equal(t, "unauthorized", code)

	// No ticket without the token.
	req, _ := http.NewRequest("POST", a.url+"/v1/events/ticket", nil)
	res, err := a.client.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 401, res.StatusCode)

	out := a.ok(200, "POST", "/v1/events/ticket", nil)
	ticket := out["ticket"].(string)
	require.Len(t, ticket, 32)

	require.Equal(t, 401, first(a.rawGet(t, "/v1/id?ticket="+ticket, "")), "a ticket admits the event stream only")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sreq, _ := http.NewRequestWithContext(ctx, "GET", a.url+events+"&ticket="+ticket, nil)
	sres, err := a.client.Do(sreq)
	require.NoError(t, err)
	require.Equal(t, 200, sres.StatusCode)
	line, err := bufio.NewReader(sres.Body).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "retry: 1000\n", line)
	cancel()
	sres.Body.Close()

	status, _ = a.rawGet(t, events+"&ticket="+ticket, "")
	require.Equal(t, 401, status, "a ticket is single-use")
}

func first(a int, _ string) int { return a }

// TestNosniffAndJSONErrors: every response says nosniff, and every error,
// the cross-origin (CSRF) refusal included, has the API's JSON shape.
func TestNosniffAndJSONErrors(t *testing.T) {
	a := startNode(t)
	db := a.createDB("Sniff")
	for _, path := range []string{"/v1/id", "/v1/nothing", "/", "/app.js", "/metrics", "/v1/databases"} {
		res, err := a.client.Get(a.url + path)
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, "nosniff", res.Header.Get("X-Content-Type-Options"), path)
	}
	ch, stop := a.stream(t, db)
	require.Equal(t, "ready", next(t, ch, 5*time.Second).Type)
	stop()

	req, _ := http.NewRequest("POST", a.url+"/v1/databases", strings.NewReader(`{"name":"x"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	res, err := a.client.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, 403, res.StatusCode)
	require.Equal(t, "application/json", res.Header.Get("Content-Type"))
	require.Equal(t, "nosniff", res.Header.Get("X-Content-Type-Options"))
	var out map[string]any
	require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
	require.Equal(t, "forbidden", errCode(out))

	// The web app's missing files too.
	status, out := a.do("GET", "/no-such-file.js", nil)
	require.Equal(t, 404, status)
	require.Equal(t, "not_found", errCode(out))
}

// openStream opens an event stream from a given loopback source address
// and returns its status and error code; a 200 stream stays open until the
// test ends.
func openStream(t *testing.T, tn *testNode, db, from string, header ...string) (int, string) {
	t.Helper()
	tr := &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}).DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", tn.url+"/v1/events?database="+url.QueryEscape(db), nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := (&http.Client{Transport: tr}).Do(req)
	require.NoError(t, err)
	if res.StatusCode == 200 {
		t.Cleanup(func() { cancel(); res.Body.Close() })
		return 200, ""
	}
	defer cancel()
	defer res.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
	return res.StatusCode, errCode(out)
}

// TestStreamLimits: event streams are bounded per client (429) and
// overall (503), and the node's own app keeps a stream however many other
// programs hold (one of four is reserved for it).
func TestStreamLimits(t *testing.T) {
	a := startNode(t, func(c *node.Config) { c.MaxStreams, c.MaxStreamsPerClient = 4, 2 })
	db := a.createDB("Streams")
	require.Equal(t, 200, first(openStream(t, a, db, "127.0.0.1")))
	require.Equal(t, 200, first(openStream(t, a, db, "127.0.0.1")))
	status, code := openStream(t, a, db, "127.0.0.1")
	require.Equal(t, 429, status)
	require.Equal(t, "too_many_streams", code)
	require.Equal(t, 200, first(openStream(t, a, db, "127.0.0.2")), "another client still gets one")
	status, code = openStream(t, a, db, "127.0.0.3")
	require.Equal(t, 503, status)
	require.Equal(t, "too_many_streams", code)
	// The app on 127.0.0.1, whose other programs hold their limit, still
	// gets the reserved stream; then the node is full for it too.
	require.Equal(t, 200, first(openStream(t, a, db, "127.0.0.1", "Sec-Fetch-Site", "same-origin")))
	status, _ = openStream(t, a, db, "127.0.0.4", "Sec-Fetch-Site", "same-origin")
	require.Equal(t, 503, status)
}

// TestStreamsRefuseOtherSites: a page of another site (or another port of
// this host, same-site to a browser) cannot open an event stream, nor can
// a request with another Origin: they would hold slots and read changes.
func TestStreamsRefuseOtherSites(t *testing.T) {
	a := startNode(t)
	db := a.createDB("Sites")
	for _, h := range [][]string{
		{"Sec-Fetch-Site", "cross-site"},
		{"Sec-Fetch-Site", "same-site"},
		{"Origin", "http://evil.example"},
		{"Origin", "http://127.0.0.1:1"},
		{"Origin", "null"},
	} {
		status, code := openStream(t, a, db, "127.0.0.1", h...)
		require.Equal(t, 403, status, "%v", h)
		require.Equal(t, "forbidden", code, "%v", h)
	}
	u, err := url.Parse(a.url)
	require.NoError(t, err)
	require.Equal(t, 200, first(openStream(t, a, db, "127.0.0.1", "Origin", "http://"+u.Host, "Sec-Fetch-Site", "same-origin")))
	require.Equal(t, 200, first(openStream(t, a, db, "127.0.0.1", "Sec-Fetch-Site", "none")))

	// 16 foreign pages cannot take the app's slots: they are refused
	// before they count, and the app's stream opens.
	for i := 0; i < 16; i++ {
		status, _ := openStream(t, a, db, "127.0.0.1", "Sec-Fetch-Site", "cross-site")
		require.Equal(t, 403, status)
	}
	require.Equal(t, 200, first(openStream(t, a, db, "127.0.0.1", "Sec-Fetch-Site", "same-origin")))
}

// TestMaxDatabases: the node keeps at most MaxDatabases open; one more is
// a clear error, and those already open still work.
func TestMaxDatabases(t *testing.T) {
	a := startNode(t, func(c *node.Config) { c.MaxDatabases = 2 })
	one := a.createDB("One")
	a.createDB("Two")
	status, out := a.do("POST", "/v1/databases", map[string]any{"name": "Three"})
	require.Equal(t, 503, status, "%v", out)
	require.Equal(t, "too_many_databases", errCode(out))
	a.ok(200, "POST", "/v1/databases/open", map[string]any{"address": one})
	a.act("insertOne", one, map[string]any{"document": map[string]any{"x": 1}})
}

// TestMaxTimeMS: find-like actions take maxTimeMS, validated, applied as
// the request's deadline, and capped by the node's QueryTimeout.
func TestMaxTimeMS(t *testing.T) {
	a := startNode(t, func(c *node.Config) { c.QueryTimeout = 5 * time.Second })
	db := a.createDB("Slow")
	docs := make([]any, 3000)
	for i := range docs {
		docs[i] = map[string]any{"i": i, "s": strings.Repeat("x", 64)}
	}
	a.act("insertMany", db, map[string]any{"documents": docs})
	body := func(action string, extra map[string]any) map[string]any {
		b := map[string]any{"database": db, "collection": "todos"}
		if action == "distinct" {
			b["field"] = "i"
		}
		for k, v := range extra {
			b[k] = v
		}
		return b
	}
	for _, bad := range []any{-1, 0, 1.5, "10", 6000} {
		status, out := a.do("POST", "/v1/action/find", body("find", map[string]any{"maxTimeMS": bad}))
		require.Equal(t, 400, status, "maxTimeMS %v: %v", bad, out)
		require.Contains(t, out["error"].(map[string]any)["message"], "maxTimeMS")
	}
	status, out := a.do("POST", "/v1/action/insertOne", body("insertOne", map[string]any{"document": map[string]any{}, "maxTimeMS": 10}))
	require.Equal(t, 400, status, "maxTimeMS is for reads: %v", out)

	// A filter that takes far longer than 1 ms to decode and match: a
	// 20,000-value $in (decoded and hashed) and, since hashing made that
	// alone fast enough to finish within 1 ms on an idle machine, a regex
	// that every one of the 3,000 documents' 64 bytes must run through
	// without matching (tens of milliseconds).
	in := make([]int, 20000)
	for i := range in {
		in[i] = -i - 1
	}
	slow := map[string]any{"$or": []any{
		map[string]any{"i": map[string]any{"$in": in}},
		map[string]any{"s": map[string]any{"$regex": "(x|xx|y|z){1,30}q"}},
	}}
	for _, action := range []string{"find", "findOne", "countDocuments", "distinct"} {
		status, out := a.do("POST", "/v1/action/"+action, body(action, map[string]any{
			"filter": slow, "maxTimeMS": 1,
		}))
		require.Equal(t, 504, status, "%s: %v", action, out)
		require.Equal(t, "timeout", errCode(out))
		require.Contains(t, out["error"].(map[string]any)["message"], "maxTimeMS")
		a.act(action, db, map[string]any{"maxTimeMS": 5000, "field": "i"})
	}
}

// The server's default query time limit applies without maxTimeMS.
func TestQueryTimeoutDefault(t *testing.T) {
	a := startNode(t, func(c *node.Config) { c.QueryTimeout = time.Millisecond })
	db := a.createDB("Slow")
	docs := make([]any, 3000)
	for i := range docs {
		docs[i] = map[string]any{"i": i, "s": strings.Repeat("x", 64)}
	}
	a.act("insertMany", db, map[string]any{"documents": docs})
	in := make([]int, 20000)
	for i := range in {
		in[i] = -i - 1
	}
	// As in TestMaxTimeMS: far longer than 1 ms even on an idle machine.
	slow := map[string]any{"$or": []any{
		map[string]any{"i": map[string]any{"$in": in}},
		map[string]any{"s": map[string]any{"$regex": "(x|xx|y|z){1,30}q"}},
	}}
	status, out := a.do("POST", "/v1/action/find", map[string]any{"database": db, "collection": "todos", "filter": slow})
	require.Equal(t, 504, status, "%v", out)
	require.Equal(t, "timeout", errCode(out))
}

// rawConn dials the node and returns the connection and a reader on it.
func rawConn(t *testing.T, tn *testNode) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(tn.url, "http://"))
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

// closedWithin reads (and discards) until the server closes the
// connection, failing if that takes longer than d.
func closedWithin(t *testing.T, c net.Conn, rd *bufio.Reader, d time.Duration) {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(d)))
	_, err := io.Copy(io.Discard, rd)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the server still held the connection after %s", d)
	}
}

func shortTimeouts(c *node.Config) {
	c.ReadHeaderTimeout = 300 * time.Millisecond
	c.ReadTimeout = 500 * time.Millisecond
	c.WriteTimeout = 500 * time.Millisecond
	c.IdleTimeout = 300 * time.Millisecond
	c.QueryTimeout = 400 * time.Millisecond
	c.Heartbeat = 50 * time.Millisecond
}

// TestServerTimeouts: with short configured timeouts, real TCP clients
// that send headers slowly, a body at a trickle, or idle on a keep-alive
// connection are disconnected; event streams outlive the read and write
// timeouts.
func TestServerTimeouts(t *testing.T) {
	a := startNode(t, shortTimeouts)
	db := a.createDB("Timeouts")

	t.Run("slow headers", func(t *testing.T) {
		c, rd := rawConn(t, a)
		_, err := io.WriteString(c, "GET /v1/id HTTP/1.1\r\nHost: 127.0.0.1\r\n")
		require.NoError(t, err)
		closedWithin(t, c, rd, 3*time.Second)
	})
	t.Run("slow body", func(t *testing.T) {
		c, rd := rawConn(t, a)
		_, err := io.WriteString(c, "POST /v1/databases HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
		require.NoError(t, err)
		go func() { // one byte every 50 ms, until the server hangs up
			for i := 0; i < 100; i++ {
				if _, err := c.Write([]byte(" ")); err != nil {
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
		}()
		closedWithin(t, c, rd, 3*time.Second)
	})
	t.Run("idle keep-alive", func(t *testing.T) {
		c, rd := rawConn(t, a)
		_, err := io.WriteString(c, "GET /v1/id HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
		require.NoError(t, err)
		res, err := http.ReadResponse(rd, nil)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		require.Equal(t, 200, res.StatusCode)
		closedWithin(t, c, rd, 3*time.Second)
	})
	t.Run("stream outlives timeouts", func(t *testing.T) {
		ch, _ := a.stream(t, db)
		require.Equal(t, "ready", next(t, ch, 5*time.Second).Type)
		deadline := time.After(1500 * time.Millisecond) // three times Read- and WriteTimeout
		pings := 0
		for {
			select {
			case ev, ok := <-ch:
				require.True(t, ok, "the stream ended after %d pings", pings)
				if ev.Comment == "ping" {
					pings++
				}
				continue
			case <-deadline:
			}
			break
		}
		require.Greater(t, pings, 10)
	})
}

// TestUnauthenticatedConnectionClosed: in token mode, a client refused
// with 401 cannot keep its connection.
func TestUnauthenticatedConnectionClosed(t *testing.T) {
	a := startNode(t, func(c *node.Config) { c.Token = testToken })
	c, rd := rawConn(t, a)
	_, err := io.WriteString(c, "GET /v1/id HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	require.NoError(t, err)
	res, err := http.ReadResponse(rd, nil)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	require.Equal(t, 401, res.StatusCode)
	closedWithin(t, c, rd, time.Second)
}

// TestTimeoutsValidated: no timeout may be switched off.
func TestTimeoutsValidated(t *testing.T) {
	for _, mod := range []func(*node.Config){
		func(c *node.Config) { c.IdleTimeout = 0 },
		func(c *node.Config) { c.ReadTimeout = 0 },
		func(c *node.Config) { c.MaxStreams = 0 },
		func(c *node.Config) { c.MaxDatabases = 0 },
		func(c *node.Config) { c.QueryTimeout = c.WriteTimeout },
	} {
		cfg := node.DefaultConfig()
		mod(&cfg)
		require.ErrorIs(t, cfg.Validate(), node.ErrBadConfig)
	}
}
