package sim

import (
	"fmt"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/holepunch"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"

	"github.com/latticedb/lattice/transports"
	"github.com/latticedb/lattice/transports/relay"
)

// HostConfig is what a simulated peer's host needs besides its node.
type HostConfig struct {
	Identity crypto.PrivKey
	// Relays are the relays a peer behind a NAT reserves on (as lattice
	// node --relay does); public peers ignore them.
	Relays []peer.AddrInfo
	// HolePunch receives DCUtR's events; nil means none.
	HolePunch holepunch.EventTracer
	// Options are extra libp2p options.
	Options []libp2p.Option
}

// NewHost builds a Lattice peer's host on the node, the way
// transports.New builds a real one, with QUIC on the simulated network as
// its only transport, hole punching on, and its reachability forced to
// what the node's NAT makes it (AutoNAT needs a crowd of peers to decide).
// Hand it to engine.WithHost; the caller closes it after the engine.
func (nd *Node) NewHost(cfg HostConfig) (host.Host, error) {
	// go-libp2p's x/simlibp2p turns identify's address discovery off
	// because it stalled synctest there; here it runs under synctest
	// (TestNATPairTable), and hole punching needs it: it is how a peer
	// behind a NAT learns the address the relay sees.
	var opts []libp2p.Option
	var hp []holepunch.Option
	if cfg.HolePunch != nil {
		hp = append(hp, holepunch.WithTracer(cfg.HolePunch))
	}
	opts = append(opts, libp2p.EnableHolePunching(hp...))
	relays := cfg.Relays
	if nd.NAT == Public {
		relays = nil
		opts = append(opts, libp2p.ForceReachabilityPublic())
	} else {
		opts = append(opts, libp2p.ForceReachabilityPrivate())
	}
	opts = append(opts, cfg.Options...)
	h, err := transports.New(transports.Config{
		Identity:   cfg.Identity,
		Transports: []transports.Transport{nd.Transport()},
		Relays:     relays,
		// Hole punching is set up above, with the simulator's tracer;
		// reachability is forced from the NAT type, so AutoNAT is off.
		NAT:     transports.NATConfig{HolePunching: transports.Off, DisableAutoNAT: true},
		Options: opts,
	})
	if err != nil {
		return nil, fmt.Errorf("sim: node %d host: %w", nd.Index, err)
	}
	return h, nil
}

// Transport is the node's simulated network as a transports.Transport:
// QUIC over the node's NAT gateway, listening on its one address.
func (nd *Node) Transport() transports.Transport { return simTransport{nd} }

type simTransport struct{ nd *Node }

func (t simTransport) Name() string { return "sim-quic" }
func (t simTransport) Options() []libp2p.Option {
	return []libp2p.Option{libp2p.Transport(quic.NewTransport), t.nd.QUICOption()}
}
func (t simTransport) ListenAddrs() []string { return []string{t.nd.ListenMultiaddr()} }

// NewRelay starts a circuit relay (package transports/relay, as lattice
// relay runs it) on a public node.
func (nd *Node) NewRelay() (*relay.Service, error) {
	if nd.NAT != Public {
		return nil, fmt.Errorf("%w: a relay must be public, node %d is behind a %s NAT", ErrBadScenario, nd.Index, nd.NAT)
	}
	s, err := relay.Start(relay.Config{
		Listen:     []string{nd.ListenMultiaddr()},
		Transports: nd.Transport().Options(),
		// Unlimited rates: a scenario's peers behind one NAT share its
		// address, and the simulator measures the network, not a
		// deployment's abuse limits.
		Rates: &relay.Rates{},
	})
	if err != nil {
		return nil, fmt.Errorf("sim: node %d relay: %w", nd.Index, err)
	}
	return s, nil
}
