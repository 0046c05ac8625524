package transports

import (
	"fmt"
	"slices"
	"strings"

	"github.com/libp2p/go-libp2p"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	libp2pwebrtc "github.com/libp2p/go-libp2p/p2p/transport/webrtc"
	ws "github.com/libp2p/go-libp2p/p2p/transport/websocket"
	webtransport "github.com/libp2p/go-libp2p/p2p/transport/webtransport"
)

// Transport is a wire a host can speak, as a plugin: the libp2p options
// that install it and the addresses a host listens on with it when its
// Config names none. A transport of one's own (a simulated network, a
// tunnel) is one value implementing these three methods; prove it with
// transportstest.Run.
//
// Implementations must be safe to use from several goroutines and to
// install on many hosts: Options returns fresh options on every call.
type Transport interface {
	// Name is the transport's short name, as `--transport` takes it:
	// lower case, no spaces or commas.
	Name() string
	// Options returns the libp2p options that install the transport on a
	// host: typically one libp2p.Transport(constructor, ...).
	Options() []libp2p.Option
	// ListenAddrs are the multiaddrs a host listens on with this
	// transport by default: every interface, ports the system picks.
	ListenAddrs() []string
}

// builtin is a Transport made of fixed parts.
type builtin struct {
	name   string
	opts   func() []libp2p.Option
	listen []string
}

func (b builtin) Name() string             { return b.name }
func (b builtin) Options() []libp2p.Option { return b.opts() }
func (b builtin) ListenAddrs() []string    { return slices.Clone(b.listen) }

var _ Transport = builtin{}

// TCP is libp2p's TCP transport (Noise or TLS, yamux), with SO_REUSEPORT
// so outgoing connections leave from the listen port: what TCP hole
// punching needs.
//
// opts tune it: tcp.DisableReuseport() for a server that never dials out
// (lattice relay), so that two processes cannot share one listen port.
func TCP(opts ...tcp.Option) Transport {
	return builtin{name: "tcp", listen: []string{"/ip4/0.0.0.0/tcp/0"},
		opts: func() []libp2p.Option {
			args := make([]any, len(opts))
			for i, o := range opts {
				args[i] = o
			}
			return []libp2p.Option{libp2p.Transport(tcp.NewTCPTransport, args...)}
		}}
}

// QUIC is libp2p's QUIC (v1) transport over UDP; outgoing connections share
// the listen socket, so it hole-punches.
func QUIC() Transport {
	return builtin{name: "quic", listen: []string{"/ip4/0.0.0.0/udp/0/quic-v1"},
		opts: func() []libp2p.Option { return []libp2p.Option{libp2p.Transport(quic.NewTransport)} }}
}

// WebSocket is libp2p's WebSocket transport (plain /ws; /wss needs a TLS
// config passed through Config.Options): the transport every runtime,
// browsers included, can speak.
func WebSocket() Transport {
	return builtin{name: "ws", listen: []string{"/ip4/0.0.0.0/tcp/0/ws"},
		opts: func() []libp2p.Option { return []libp2p.Option{libp2p.Transport(ws.New)} }}
}

// WebTransport is libp2p's WebTransport transport (HTTP/3 over QUIC, with
// self-signed certificates browsers accept by hash). Opt in.
func WebTransport() Transport {
	return builtin{name: "webtransport", listen: []string{"/ip4/0.0.0.0/udp/0/quic-v1/webtransport"},
		opts: func() []libp2p.Option { return []libp2p.Option{libp2p.Transport(webtransport.New)} }}
}

// WebRTCDirect is libp2p's WebRTC-direct transport (a browser dials a
// server without signalling). Opt in.
func WebRTCDirect() Transport {
	return builtin{name: "webrtc-direct", listen: []string{"/ip4/0.0.0.0/udp/0/webrtc-direct"},
		opts: func() []libp2p.Option { return []libp2p.Option{libp2p.Transport(libp2pwebrtc.New)} }}
}

// Defaults are the transports a host speaks when Config names none: TCP,
// QUIC and WebSocket.
func Defaults() []Transport { return []Transport{TCP(), QUIC(), WebSocket()} }

// Builtins are every transport this package provides, defaults first.
func Builtins() []Transport { return append(Defaults(), WebTransport(), WebRTCDirect()) }

// aliases are the other names ByName accepts.
var aliases = map[string]string{"websocket": "ws", "webrtc": "webrtc-direct"}

// ByName returns the built-in transport called name (case-insensitive;
// "websocket" and "webrtc" are accepted for "ws" and "webrtc-direct").
func ByName(name string) (Transport, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	if a, ok := aliases[n]; ok {
		n = a
	}
	for _, t := range Builtins() {
		if t.Name() == n {
			return t, nil
		}
	}
	return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknownTransport, name, strings.Join(Names(), ", "))
}

// Names are the names of the built-in transports.
func Names() []string {
	var out []string
	for _, t := range Builtins() {
		out = append(out, t.Name())
	}
	return out
}

// Parse turns names, each one name or a comma-separated list ("tcp,quic"),
// into transports, in order and without duplicates. No names is nil: the
// defaults.
func Parse(names ...string) ([]Transport, error) {
	var out []Transport
	seen := map[string]bool{}
	for _, list := range names {
		for _, n := range strings.Split(list, ",") {
			if strings.TrimSpace(n) == "" {
				continue
			}
			t, err := ByName(n)
			if err != nil {
				return nil, err
			}
			if !seen[t.Name()] {
				seen[t.Name()] = true
				out = append(out, t)
			}
		}
	}
	return out, nil
}

// listenAddrs are the default listen addresses of ts, in order.
func listenAddrs(ts []Transport) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.ListenAddrs()...)
	}
	return out
}
