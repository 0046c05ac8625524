package transports

import (
	"errors"
	"fmt"
	"slices"

	"github.com/hashicorp/go-hclog"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/latticedb/lattice/transports/relay"
)

// ErrBadConfig marks a Config that cannot build a host.
var ErrBadConfig = errors.New("transports: bad config")

// DefaultListenAddrs are the addresses a host listens on when Config names
// none: TCP and QUIC on every interface, on ports the system picks.
var DefaultListenAddrs = []string{"/ip4/0.0.0.0/tcp/0", "/ip4/0.0.0.0/udp/0/quic-v1"}

// Config describes the libp2p host of one Lattice peer.
type Config struct {
	// Identity is the host's private key. Required: the peer ID, and so
	// every signature the peer makes, derives from it.
	Identity crypto.PrivKey
	// ListenAddrs are the multiaddrs to listen on; nil means
	// DefaultListenAddrs, an empty non-nil slice listens on nothing.
	ListenAddrs []string
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
	for _, r := range c.Relays {
		if len(r.Addrs) == 0 {
			return fmt.Errorf("%w: relay %s has no address", ErrBadConfig, r.ID)
		}
	}
	return nil
}

// New builds and starts the libp2p host c describes. The caller owns it:
// closing the host also ends the relay reservations New started for it.
//
// A host built here (or anywhere else) is what an engine runs on: pass it
// with engine.WithHost, and the engine leaves closing it to the caller.
func New(c Config) (host.Host, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	listen := c.ListenAddrs
	if listen == nil {
		listen = DefaultListenAddrs
	}
	log := c.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	opts := []libp2p.Option{libp2p.Identity(c.Identity), libp2p.ListenAddrStrings(listen...)}
	if len(listen) == 0 {
		opts[1] = libp2p.NoListenAddrs // libp2p would otherwise pick its defaults
	}
	var res *relay.Reservations
	if len(c.Relays) > 0 {
		res = relay.NewReservations(c.Relays, log.Named("relay"))
		opts = append(opts, libp2p.AddrsFactory(res.AddrsFactory))
	}
	opts = append(opts, slices.Clone(c.Options)...)
	h, err := libp2p.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("transports: libp2p host: %w", err)
	}
	if res == nil {
		return h, nil
	}
	res.Start(h)
	return &reservingHost{Host: h, res: res}, nil
}

// reservingHost is a host that owns relay reservations: Close ends them
// before it closes the host.
type reservingHost struct {
	host.Host
	res *relay.Reservations
}

// Close ends the reservations, then closes the host.
func (h *reservingHost) Close() error {
	h.res.Close()
	return h.Host.Close()
}

var _ host.Host = (*reservingHost)(nil)
