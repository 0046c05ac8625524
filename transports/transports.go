package transports

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/latticedb/lattice/transports/relay"
)

// Errors of package transports.
var (
	// ErrBadConfig marks a Config that cannot build a host.
	ErrBadConfig = errors.New("transports: bad config")
	// ErrUnknownTransport marks a transport name no built-in has.
	ErrUnknownTransport = errors.New("transports: unknown transport")
)

// DefaultListenAddrs are the addresses a host listens on when Config names
// neither listen addresses nor transports: the default transports' (TCP,
// QUIC and WebSocket on every interface, on ports the system picks).
var DefaultListenAddrs = listenAddrs(Defaults())

// Config describes the libp2p host of one Lattice peer.
type Config struct {
	// Identity is the host's private key. Required: the peer ID, and so
	// every signature the peer makes, derives from it.
	Identity crypto.PrivKey
	// Transports are the wires the host speaks; nil means Defaults()
	// (TCP, QUIC, WebSocket). Each contributes its libp2p options.
	Transports []Transport
	// ListenAddrs are the multiaddrs to listen on; nil means the
	// transports' own (Transport.ListenAddrs), an empty non-nil slice
	// listens on nothing. An address no chosen transport speaks fails New.
	ListenAddrs []string
	// NAT chooses AutoNAT, hole punching and port mapping; the zero value
	// is the default (see NATConfig).
	NAT NATConfig
	// Relays are circuit relays (v2) to keep reservations on, for a peer
	// that others cannot dial directly. The host reserves with each
	// explicitly, renews the reservations, and advertises their circuit
	// addresses (<relay>/p2p/<relay ID>/p2p-circuit) with its own. The
	// relays must grant circuits without a per-circuit limit, as package
	// relay's service does. Relays set the host's libp2p.AddrsFactory, so
	// they cannot be combined with one passed in Options.
	Relays []peer.AddrInfo
	// Options are appended to the libp2p constructor's options, after the
	// ones Config implies (transports, gaters, NAT traversal).
	Options []libp2p.Option
	// Logger receives the host's own log lines (relay reservations); nil
	// is silent.
	Logger hclog.Logger
}

// Validate reports what makes c unusable, naming the field.
func (c Config) Validate() error {
	if c.Identity == nil {
		return fmt.Errorf("%w: no identity", ErrBadConfig)
	}
	for i, t := range c.Transports {
		if t == nil {
			return fmt.Errorf("%w: transport %d is nil", ErrBadConfig, i)
		}
	}
	if c.Transports != nil && len(c.Transports) == 0 {
		return fmt.Errorf("%w: an empty list of transports (nil means the defaults)", ErrBadConfig)
	}
	if err := c.NAT.validate(); err != nil {
		return err
	}
	for _, r := range c.Relays {
		if len(r.Addrs) == 0 {
			return fmt.Errorf("%w: relay %s has no address", ErrBadConfig, r.ID)
		}
	}
	return nil
}

// New builds and starts the libp2p host c describes. The caller owns it:
// closing the host also ends the relay reservations New started for it,
// and its Traversal (TraversalOf).
//
// A host built here (or anywhere else) is what an engine runs on: pass it
// with engine.WithHost, and the engine leaves closing it to the caller.
func New(c Config) (host.Host, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	ts := c.Transports
	if ts == nil {
		ts = Defaults()
	}
	listen := c.ListenAddrs
	if listen == nil {
		listen = listenAddrs(ts)
	}
	log := c.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	opts := []libp2p.Option{libp2p.Identity(c.Identity), libp2p.ListenAddrStrings(listen...)}
	if len(listen) == 0 {
		opts[1] = libp2p.NoListenAddrs // libp2p would otherwise pick its defaults
	}
	for _, t := range ts {
		opts = append(opts, t.Options()...)
	}
	tr := newTraversal(log.Named("nat"), c.NAT.relayCloseDelay())
	opts = append(opts, c.NAT.options(len(c.Relays) > 0, tr)...)
	var res *relay.Reservations
	if len(c.Relays) > 0 {
		res = relay.NewReservations(c.Relays, log.Named("relay"))
		opts = append(opts, libp2p.AddrsFactory(res.AddrsFactory))
	}
	opts = append(opts, slices.Clone(c.Options)...)
	h, err := libp2p.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("transports: libp2p host (transports %s): %w", names(ts), err)
	}
	if err := tr.start(h); err != nil {
		_ = h.Close()
		return nil, fmt.Errorf("transports: %w", err)
	}
	if res != nil {
		res.Start(h)
	}
	return &builtHost{Host: h, res: res, nat: tr}, nil
}

func names(ts []Transport) string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Name())
	}
	return strings.Join(out, ",")
}

// builtHost is a host New built: it owns its relay reservations and its
// Traversal, and Close ends them before it closes the host.
type builtHost struct {
	host.Host
	res  *relay.Reservations // nil without relays
	nat  *Traversal
	once sync.Once
}

// Traversal is the host's NAT traversal watcher.
func (h *builtHost) Traversal() *Traversal { return h.nat }

// Close ends the reservations and the Traversal, then closes the host.
func (h *builtHost) Close() error {
	h.once.Do(func() {
		if h.res != nil {
			h.res.Close()
		}
		h.nat.close()
	})
	return h.Host.Close()
}

var _ host.Host = (*builtHost)(nil)
