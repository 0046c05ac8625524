package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/dialpolicy"
	"github.com/latticedb/lattice/node"
)

// localService is a TCP service on loopback that counts its connections:
// what an invite link must not reach.
func localService(t *testing.T) (port int, conns *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	conns = new(atomic.Int64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			c.Close()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port, conns
}

func strangerID(t *testing.T) peer.ID {
	k, _, err := crypto.GenerateEd25519Key(nil)
	require.NoError(t, err)
	id, err := peer.IDFromPrivateKey(k)
	require.NoError(t, err)
	return id
}

// TestJoinLinkCannotScanLoopback: a node on all interfaces (the default
// of lattice node) refuses to dial the loopback addresses of an invite
// link: the local service sees no connection, and the API client learns
// only that the inviter could not be reached, the same for an open port,
// a closed one and every transport.
func TestJoinLinkCannotScanLoopback(t *testing.T) {
	const listen = "/ip4/0.0.0.0/tcp/0"
	e, err := engine.New(context.Background(), engine.WithInMemory(), engine.WithListenAddrs(listen),
		node.DialPolicy(dialpolicy.Config{Listen: []ma.Multiaddr{ma.StringCast(listen)}}))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, e.Close()) })
	n, err := node.New(context.Background(), e, node.DefaultConfig())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, n.Close()) })

	open, conns := localService(t)
	closedLn, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := closedLn.Addr().(*net.TCPAddr).Port
	closedLn.Close()
	db := "/lattice/" + dagJSONCid(t, "manifest") + "/TodoList"
	id := strangerID(t)

	messages := map[string]bool{}
	for _, port := range []int{open, closed} {
		for _, addr := range []string{
			fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", port),
			fmt.Sprintf("/ip4/127.0.0.1/udp/%d/quic-v1", port),
			fmt.Sprintf("/ip4/127.0.0.1/tcp/%d/ws", port),
			fmt.Sprintf("/dns4/localhost/tcp/%d", port),
			fmt.Sprintf("/ip4/0.0.0.0/tcp/%d", port),
		} {
			link := "lattice://join?peer=" + id.String() + "&addr=" + addr + "&db=" + db
			status, out := postJSON(t, n, "/v1/join", map[string]any{"link": link})
			require.Equal(t, http.StatusBadGateway, status, "%s: %v", addr, out)
			require.Equal(t, "connect_failed", errCode(out))
			messages[out["error"].(map[string]any)["message"].(string)] = true
		}
	}
	require.Equal(t, map[string]bool{"could not reach the inviter": true}, messages, "one category, no details")
	require.Zero(t, conns.Load(), "the loopback service was reached")

	// POST /v1/connect follows the same policy.
	status, out := postJSON(t, n, "/v1/connect", map[string]any{"addr": fmt.Sprintf("/ip4/127.0.0.1/tcp/%d/p2p/%s", open, id)})
	require.Equal(t, http.StatusBadGateway, status, "%v", out)
	require.Equal(t, "could not reach the peer", out["error"].(map[string]any)["message"])
	require.Zero(t, conns.Load())
}

// TestJoinErrorsHideDetails: a node on loopback may dial loopback (that is
// how tests and single-machine demos reach each other), yet a failed dial
// still reports one category.
func TestJoinErrorsHideDetails(t *testing.T) {
	a := startNode(t, func(c *node.Config) { c.ConnectTimeout = 3 * time.Second })
	closedLn, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := closedLn.Addr().(*net.TCPAddr).Port
	closedLn.Close()
	link := fmt.Sprintf("lattice://join?peer=%s&addr=/ip4/127.0.0.1/tcp/%d&db=/lattice/%s/TodoList", strangerID(t), closed, dagJSONCid(t, "m"))
	status, out := a.do("POST", "/v1/join", map[string]any{"link": link})
	require.Equal(t, http.StatusBadGateway, status, "%v", out)
	require.Equal(t, "could not reach the inviter", out["error"].(map[string]any)["message"])
}

// TestInviteLinkBounds: links are bounded in length, in addresses and in
// the length of each address.
func TestInviteLinkBounds(t *testing.T) {
	id := strangerID(t).String()
	db := "&db=/lattice/" + dagJSONCid(t, "m") + "/TodoList"
	addrs := func(n int) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "&addr=/ip4/192.0.2.%d/tcp/4001", i+1)
		}
		return b.String()
	}
	_, err := node.ParseInvite("lattice://join?peer=" + id + addrs(node.MaxLinkAddrs) + db)
	require.NoError(t, err)
	_, err = node.ParseInvite("lattice://join?peer=" + id + addrs(node.MaxLinkAddrs+1) + db)
	require.ErrorIs(t, err, node.ErrBadLink)
	long := "&addr=/dns4/" + strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 63) + "/tcp/1"
	_, err = node.ParseInvite("lattice://join?peer=" + id + long + db)
	require.ErrorIs(t, err, node.ErrBadLink, "an address longer than dialpolicy.MaxAddrLen")
	_, err = node.ParseInvite("lattice://join?peer=" + id + addrs(1) + db + "&collection=" + strings.Repeat("x", node.MaxLinkLen))
	require.ErrorIs(t, err, node.ErrBadLink, "a link longer than MaxLinkLen")
	huge := "http://127.0.0.1:5080/#join=" + strings.Repeat("%41", 3<<20/3)
	_, err = node.ParseInvite(huge)
	require.ErrorIs(t, err, node.ErrBadLink, "a 3 MB link")

	a := startNode(t)
	status, out := a.do("POST", "/v1/join", map[string]any{"link": "lattice://join?peer=" + id + addrs(1000) + db})
	require.Equal(t, 400, status, "%v", out)
}

// postJSON serves one POST through n's handler, as a loopback client.
func postJSON(t *testing.T, n *node.Node, path string, body any) (int, map[string]any) {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	req := httptest.NewRequest("POST", "http://127.0.0.1:5080"+path, bytes.NewReader(b))
	req.RemoteAddr = "127.0.0.1:40000"
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	n.Handler().ServeHTTP(rec, req)
	var out map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out), rec.Body.String())
	return rec.Code, out
}
