package transports

import (
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/p2p/protocol/holepunch"
)

// Switch is a feature that is on, off, or decided by the rest of the
// Config (Auto, the zero value).
type Switch int

const (
	// Auto lets the Config decide: see the field's doc.
	Auto Switch = iota
	// On turns the feature on.
	On
	// Off turns the feature off.
	Off
)

// String is "auto", "on" or "off".
func (s Switch) String() string {
	switch s {
	case Auto:
		return "auto"
	case On:
		return "on"
	case Off:
		return "off"
	}
	return fmt.Sprintf("Switch(%d)", int(s))
}

// NATConfig chooses the NAT traversal a host does. The zero value is the
// default: AutoNAT v2 on, hole punching on when the host has relays, no
// port mapping.
type NATConfig struct {
	// HolePunching upgrades relayed connections to direct ones with DCUtR
	// (libp2p.EnableHolePunching). Auto means on when Config.Relays is
	// not empty: without a relay there is no relayed connection to
	// upgrade. Hole punching works through NATs that map
	// endpoint-independently (Linux MASQUERADE, most home routers); with a
	// symmetric (endpoint-dependent) NAT on either side it fails and the
	// connection stays relayed.
	HolePunching Switch
	// DirectDialTimeout bounds each direct dial and punch attempt; zero
	// means libp2p's (5 s). Tests on loopback shorten it.
	DirectDialTimeout time.Duration
	// PortMap asks the gateway for a port mapping with UPnP IGD or NAT-PMP
	// (libp2p.NATPortMap), so that peers can dial the host directly.
	PortMap bool
	// RelayCloseDelay is how long after a direct connection to a peer
	// appears (a hole punch, or any direct dial) the relay circuits to
	// that peer are closed, so that every stream, gossipsub's included,
	// moves to the direct connection and the relay carries only the
	// setup. Only the side with the lower peer ID closes them, so the
	// peers do not both tear down the circuit at once. Zero means
	// DefaultRelayCloseDelay; negative keeps the circuits open.
	RelayCloseDelay time.Duration
	// DisableAutoNAT turns AutoNAT v2 off: the host then does not learn
	// which of its addresses are reachable. AutoNAT v1, which sets the
	// host's overall reachability (event.EvtLocalReachabilityChanged), is
	// libp2p's and always on.
	DisableAutoNAT bool
}

// DefaultRelayCloseDelay is NATConfig.RelayCloseDelay's default: long
// enough for streams opened while the direct connection was being made
// to settle on it, short next to the seconds a punch takes.
const DefaultRelayCloseDelay = time.Second

// relayCloseDelay is RelayCloseDelay with the default applied; negative
// means never.
func (c NATConfig) relayCloseDelay() time.Duration {
	if c.RelayCloseDelay == 0 {
		return DefaultRelayCloseDelay
	}
	return c.RelayCloseDelay
}

// holePunching reports whether c (with relays or not) punches holes.
func (c NATConfig) holePunching(relays bool) bool {
	switch c.HolePunching {
	case On:
		return true
	case Off:
		return false
	}
	return relays
}

func (c NATConfig) validate() error {
	if c.HolePunching < Auto || c.HolePunching > Off {
		return fmt.Errorf("%w: NAT.HolePunching %s", ErrBadConfig, c.HolePunching)
	}
	if c.DirectDialTimeout < 0 {
		return fmt.Errorf("%w: NAT.DirectDialTimeout is negative", ErrBadConfig)
	}
	return nil
}

// options are the libp2p options c implies, reporting hole punch events
// to tr.
func (c NATConfig) options(relays bool, tr holepunch.EventTracer) []libp2p.Option {
	var opts []libp2p.Option
	if !c.DisableAutoNAT {
		opts = append(opts, libp2p.EnableAutoNATv2())
	}
	if c.PortMap {
		opts = append(opts, libp2p.NATPortMap())
	}
	if c.holePunching(relays) {
		hp := []holepunch.Option{holepunch.WithTracer(tr)}
		if c.DirectDialTimeout > 0 {
			hp = append(hp, holepunch.DirectDialTimeout(c.DirectDialTimeout))
		}
		opts = append(opts, libp2p.EnableHolePunching(hp...))
	}
	return opts
}
