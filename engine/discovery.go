package engine

import (
	"fmt"

	"github.com/latticedb/lattice/discovery"
)

// Discovery (WithDiscovery): the engine runs the sources it is given in a
// discovery.Manager on its host, which dials the peers they find within
// discovery.Limits; each database it opens joins its rendezvous namespace
// (discovery.Namespace of its address) on the sources that find peers per
// namespace, and leaves it when it closes. A peer found this way that
// opens the same database is recorded in that database's address book by
// the broadcaster, like any peer that joins, so WithReconnect redials it
// later.

// WithDiscovery adds discovery sources (see package discovery): bootstrap
// lists, mDNS, a DHT, invite peers, or one of the caller's own. The engine
// starts them on its host once it is up and closes them on Close; a source
// serves one engine.
func WithDiscovery(sources ...discovery.Source) Option {
	return func(c *config) error {
		for i, s := range sources {
			if s == nil {
				return fmt.Errorf("%w: discovery source %d is nil", ErrBadOption, i)
			}
		}
		c.discovery = append(c.discovery, sources...)
		return nil
	}
}

// WithDiscoveryLimits sets the bounds on dialling discovered peers
// (default discovery.DefaultLimits()).
func WithDiscoveryLimits(l discovery.Limits) Option {
	return func(c *config) error { c.discoveryLimits = l; return nil }
}

// DiscoveryStats reports what discovery found and dialled; zero without
// WithDiscovery.
func (e *Engine) DiscoveryStats() discovery.Stats {
	if e.disc == nil {
		return discovery.Stats{}
	}
	return e.disc.Stats()
}

// startDiscovery starts the sources of WithDiscovery on the host.
func (e *Engine) startDiscovery() error {
	if len(e.cfg.discovery) == 0 {
		return nil
	}
	m, err := discovery.NewManager(e.host, e.cfg.discovery, e.cfg.discoveryLimits, e.log.Named("discovery"))
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	e.disc = m
	return nil
}

// joinRendezvous joins the database's rendezvous namespace; the returned
// func leaves it.
func (e *Engine) joinRendezvous(address string) (leave func()) {
	if e.disc == nil {
		return func() {}
	}
	return e.disc.Join(discovery.Namespace(address))
}
