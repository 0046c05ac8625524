package node_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/dialpolicy"
	"github.com/latticedb/lattice/node"
)

// FuzzParseInvite: invite links come from strangers (pasted, scanned).
// Whatever parses is within the bounds, and formats back to a link that
// parses to the same peer.
func FuzzParseInvite(f *testing.F) {
	f.Add("lattice://join?peer=12D3KooWJ1v6W2hhhD7C5CF2a4hz5Rt3kzqLn5B7fj6W6xBAtTDM&addr=/ip4/127.0.0.1/tcp/4001&db=/lattice/bafy/x")
	f.Add("lattice://join?peer=12D3KooWJ1v6W2hhhD7C5CF2a4hz5Rt3kzqLn5B7fj6W6xBAtTDM&addr=/ip4/127.0.0.1/tcp/4001&addr=/ip4/127.0.0.1/tcp/4002&addr=/ip4/127.0.0.1/tcp/4003&addr=/ip4/127.0.0.1/tcp/4004&addr=/ip4/127.0.0.1/tcp/4005&addr=/ip4/127.0.0.1/tcp/4006&addr=/ip4/127.0.0.1/tcp/4007&addr=/ip4/127.0.0.1/tcp/4008&addr=/ip4/127.0.0.1/tcp/4009")
	f.Add("http://127.0.0.1:5080/#join=lattice%3A%2F%2Fjoin%3Fpeer%3Dx")
	f.Add("lattice://join?")
	f.Add("lattice://join?peer=12D3KooWJ1v6W2hhhD7C5CF2a4hz5Rt3kzqLn5B7fj6W6xBAtTDM&addr=/ip4/127.0.0.1/tcp/4001&db=/lattice/bafy/x&key=abcdefghijklmnopqrstuvwxyz")
	f.Fuzz(func(t *testing.T, link string) {
		inv, err := node.ParseInvite(link)
		if err != nil {
			return
		}
		if len(inv.Addrs) > node.MaxLinkAddrs || len(inv.Addrs) == 0 {
			t.Fatalf("%d addresses parsed, the bounds are 1..%d", len(inv.Addrs), node.MaxLinkAddrs)
		}
		for _, a := range inv.Addrs {
			if len(a.Bytes()) > dialpolicy.MaxAddrLen {
				t.Fatalf("a %d-byte address parsed", len(a.Bytes()))
			}
		}
		// What parses formats back to a link that parses to the same peer.
		again, err := node.ParseInvite(inv.String())
		if err != nil {
			t.Fatalf("formatted invite %q does not parse: %v", inv.String(), err)
		}
		if again.Peer != inv.Peer {
			t.Fatalf("peer changed on round trip")
		}
	})
}

// FuzzActionBody: HTTP API bodies are untrusted input. Whatever the body,
// the API answers with a client error or success, never a panic or a 5xx.
func FuzzActionBody(f *testing.F) {
	f.Add("insertOne", []byte(`{"collection":"c","document":{"a":1}}`))
	f.Add("find", []byte(`{"collection":"c","filter":{"a":{"$gt":0}},"sort":{"a":-1},"limit":2}`))
	f.Add("updateMany", []byte(`{"collection":"c","filter":{},"update":{"$inc":{"a":1}},"upsert":true}`))
	f.Add("distinct", []byte(`{"collection":"c","field":"a"}`))
	f.Add("deleteMany", []byte(`{"collection":"c","filter":{"a":{"$bad":1}}}`))
	// One node shared by every input: an in-memory engine with one open
	// database, served without a listener; closed when the target ends.
	var fuzzNode struct {
		once sync.Once
		e    *engine.Engine
		n    *node.Node
		addr string
		err  error
	}
	f.Cleanup(func() {
		if fuzzNode.n != nil {
			_ = fuzzNode.n.Close()
		}
		if fuzzNode.e != nil {
			_ = fuzzNode.e.Close()
		}
	})
	f.Fuzz(func(t *testing.T, action string, body []byte) {
		fuzzNode.once.Do(func() {
			ctx := context.Background()
			fuzzNode.e, fuzzNode.err = engine.New(ctx, engine.WithInMemory(), engine.WithListenAddrs("/ip4/127.0.0.1/tcp/0"))
			if fuzzNode.err != nil {
				return
			}
			db, err := fuzzNode.e.Create(ctx, "fuzz", engine.WithAccess(accesscontrol.Open()))
			if err != nil {
				fuzzNode.err = err
				return
			}
			fuzzNode.addr = db.Address()
			fuzzNode.n, fuzzNode.err = node.New(ctx, fuzzNode.e, node.DefaultConfig())
		})
		if fuzzNode.err != nil {
			t.Fatal(fuzzNode.err)
		}
		// Point most inputs at the real database so they reach the engine.
		if bytes.HasPrefix(body, []byte(`{"collection"`)) {
			body = append([]byte(`{"database":"`+fuzzNode.addr+`",`), body[1:]...)
		}
		req := httptest.NewRequest(http.MethodPost, "/v1/action/"+url.PathEscape(action), bytes.NewReader(body))
		req.Host = "127.0.0.1:5080"
		req.RemoteAddr = "127.0.0.1:40000"
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		fuzzNode.n.Handler().ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for action %q body %q: %s", rec.Code, action, body, rec.Body.String())
		}
	})
}
