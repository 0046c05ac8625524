//go:build !js

package engine

import (
	"fmt"

	"github.com/hashicorp/go-hclog"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"

	"github.com/latticedb/lattice/internal/store"
	"github.com/latticedb/lattice/transports"
)

// What only a native build has: hosts the engine builds itself (package
// transports, over go-libp2p's default transports) and pebble on disk. A
// js/wasm build (host_js.go) runs on a host given with WithHost and in
// memory.

// netConfig holds the options of a host the engine builds.
type netConfig struct {
	libp2pOpts []libp2p.Option
	transports []transports.Transport
	nat        transports.NATConfig
	natSet     bool
}

// set tells whether any of them was given.
func (n *netConfig) set() bool { return n.libp2pOpts != nil || n.transports != nil || n.natSet }

// buildHost builds the engine's host from its network options with
// package transports.
func buildHost(cfg *config, key crypto.PrivKey, log hclog.Logger) (host.Host, error) {
	h, err := transports.New(transports.Config{
		Identity:    key,
		ListenAddrs: cfg.listen,
		Transports:  cfg.net.transports,
		NAT:         cfg.net.nat,
		Relays:      cfg.relays,
		Options:     cfg.net.libp2pOpts,
		Logger:      log,
	})
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	return h, nil
}

// PebbleOptions returns the pebble options the engine opens its store
// with, for embedders and benchmarks that open pebble themselves.
func PebbleOptions() *store.PebbleConfig { return store.PebbleOptions() }

// WithTransports sets the transports the host speaks (default:
// transports.Defaults(), TCP, QUIC and WebSocket). See package transports
// for the built-ins and for writing one's own.
func WithTransports(ts ...transports.Transport) Option {
	return func(c *config) error {
		if len(ts) == 0 {
			return fmt.Errorf("%w: WithTransports needs at least one transport", ErrBadOption)
		}
		c.net.transports = append(c.net.transports, ts...)
		return nil
	}
}

// WithNAT sets the host's NAT traversal: AutoNAT, hole punching, port
// mapping (default: the zero transports.NATConfig, which punches holes
// when the engine has relays).
func WithNAT(n transports.NATConfig) Option {
	return func(c *config) error { c.net.nat, c.net.natSet = n, true; return nil }
}

// WithLibp2pOptions appends options to the libp2p host constructor
// (transports, relays, NAT traversal).
func WithLibp2pOptions(opts ...libp2p.Option) Option {
	return func(c *config) error { c.net.libp2pOpts = append(c.net.libp2pOpts, opts...); return nil }
}
