package browser

import (
	"errors"
	"fmt"
	"net"
	"strconv"

	ma "github.com/multiformats/go-multiaddr"
)

// ErrNotWebSocket marks a multiaddr the transport cannot dial: not
// host/tcp/port followed by ws, wss or tls/ws.
var ErrNotWebSocket = errors.New("browser: not a WebSocket multiaddr")

// URL returns the ws:// or wss:// URL of a WebSocket multiaddr, such as
// /ip4/127.0.0.1/tcp/4003/ws or /dns4/relay.example/tcp/443/wss. A
// trailing /p2p/<peer ID> is allowed and ignored; anything else (another
// transport, a relay circuit) is ErrNotWebSocket.
func URL(a ma.Multiaddr) (string, error) {
	if len(a) > 0 && a[len(a)-1].Code() == ma.P_P2P {
		a = a[:len(a)-1]
	}
	if len(a) < 3 {
		return "", fmt.Errorf("%w: %s", ErrNotWebSocket, a)
	}
	var host string
	switch c := a[0]; c.Code() {
	case ma.P_IP4, ma.P_IP6:
		host = c.Value()
	case ma.P_DNS, ma.P_DNS4, ma.P_DNS6:
		host = c.Value()
		if !hostname(host) {
			return "", fmt.Errorf("%w: %s: bad host name", ErrNotWebSocket, a)
		}
	default:
		return "", fmt.Errorf("%w: %s", ErrNotWebSocket, a)
	}
	if a[1].Code() != ma.P_TCP {
		return "", fmt.Errorf("%w: %s", ErrNotWebSocket, a)
	}
	port, err := strconv.ParseUint(a[1].Value(), 10, 16)
	if err != nil {
		return "", fmt.Errorf("%w: %s: port: %v", ErrNotWebSocket, a, err)
	}
	scheme := ""
	switch rest := a[2:]; {
	case len(rest) == 1 && rest[0].Code() == ma.P_WS:
		scheme = "ws"
	case len(rest) == 1 && rest[0].Code() == ma.P_WSS:
		scheme = "wss"
	case len(rest) == 2 && rest[0].Code() == ma.P_TLS && rest[1].Code() == ma.P_WS:
		scheme = "wss"
	default:
		return "", fmt.Errorf("%w: %s", ErrNotWebSocket, a)
	}
	if host == "" {
		return "", fmt.Errorf("%w: %s: no host", ErrNotWebSocket, a)
	}
	return scheme + "://" + net.JoinHostPort(host, strconv.FormatUint(port, 10)) + "/", nil
}

// hostname tells whether h is made of the characters a DNS name has, so
// that it cannot change the meaning of the URL around it.
func hostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, r := range h {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
		default:
			return false
		}
	}
	return true
}
