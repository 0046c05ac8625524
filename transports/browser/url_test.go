package browser_test

import (
	"errors"
	"testing"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/latticedb/lattice/transports/browser"
)

func TestURL(t *testing.T) {
	for in, want := range map[string]string{
		"/ip4/127.0.0.1/tcp/4003/ws": "ws://127.0.0.1:4003/",
		"/ip4/127.0.0.1/tcp/4003/ws/p2p/12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf": "ws://127.0.0.1:4003/",
		"/ip6/::1/tcp/80/ws":                    "ws://[::1]:80/",
		"/dns4/relay.example.org/tcp/443/wss":   "wss://relay.example.org:443/",
		"/dns/relay.example.org/tcp/443/tls/ws": "wss://relay.example.org:443/",
	} {
		got, err := browser.URL(ma.StringCast(in))
		if err != nil || got != want {
			t.Errorf("URL(%s) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{
		"/ip4/127.0.0.1/tcp/4001",
		"/ip4/127.0.0.1/udp/4001/quic-v1",
		"/ip4/127.0.0.1/tcp/4003/ws/p2p-circuit",
		"/ip4/127.0.0.1/tcp/4003/tls/ws/ws",
		"/p2p/12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf",
	} {
		if got, err := browser.URL(ma.StringCast(bad)); !errors.Is(err, browser.ErrNotWebSocket) {
			t.Errorf("URL(%s) = %q, %v; want ErrNotWebSocket", bad, got, err)
		}
	}
}

// URL never panics and gives either an error or a ws/wss URL.
func FuzzURL(f *testing.F) {
	for _, s := range []string{"/ip4/127.0.0.1/tcp/4003/ws", "/dns4/a.b/tcp/443/wss", "/ip6/::1/tcp/1/tls/ws"} {
		f.Add(ma.StringCast(s).Bytes())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ma.NewMultiaddrBytes(b)
		if err != nil {
			return
		}
		u, err := browser.URL(a)
		if err != nil {
			return
		}
		if len(u) < 6 || (u[:5] != "ws://" && u[:6] != "wss://") {
			t.Fatalf("URL(%s) = %q", a, u)
		}
	})
}
