package discovery

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/discovery"
	"github.com/libp2p/go-libp2p/core/host"
)

// RendezvousConfig tunes a rendezvous loop (FromDiscovery, DHT): after a
// join it advertises and looks for peers at once, then again after
// MinInterval, doubling up to MaxInterval; each look takes at most Limit
// peers.
type RendezvousConfig struct {
	MinInterval time.Duration
	MaxInterval time.Duration
	Limit       int
	// TTL is the advertisement's requested lifetime (0: the backend's).
	TTL time.Duration
}

// DefaultRendezvousConfig: every 1 s at first, backing off to every
// minute, 32 peers per look.
func DefaultRendezvousConfig() RendezvousConfig {
	return RendezvousConfig{MinInterval: time.Second, MaxInterval: time.Minute, Limit: 32}
}

func (c RendezvousConfig) withDefaults() RendezvousConfig {
	d := DefaultRendezvousConfig()
	if c.MinInterval <= 0 {
		c.MinInterval = d.MinInterval
	}
	if c.MaxInterval < c.MinInterval {
		c.MaxInterval = max(d.MaxInterval, c.MinInterval)
	}
	if c.Limit <= 0 {
		c.Limit = d.Limit
	}
	return c
}

// RendezvousSource makes any go-libp2p core/discovery.Discovery (a DHT's
// routing discovery, a rendezvous-server client, a test double) a
// Namespaced source. Make one with FromDiscovery.
type RendezvousSource struct {
	d   discovery.Discovery
	cfg RendezvousConfig
	life
}

var _ Namespaced = (*RendezvousSource)(nil)

// FromDiscovery returns a Namespaced source that advertises and finds
// peers through d at each joined namespace. It reports nothing to Start's
// found.
func FromDiscovery(d discovery.Discovery, cfg RendezvousConfig) *RendezvousSource {
	return &RendezvousSource{d: d, cfg: cfg.withDefaults()}
}

// Start implements Source.
func (r *RendezvousSource) Start(h host.Host, _ Found) error {
	if r.d == nil {
		return fmt.Errorf("%w: nil discovery", ErrBadConfig)
	}
	return r.start(h)
}

// Close implements Source; it ends every join.
func (r *RendezvousSource) Close() error { r.close(); return nil }

// Join implements Namespaced.
func (r *RendezvousSource) Join(ns string, found Found) (leave func()) {
	done := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	ok := r.goroutine(func(life context.Context) {
		defer close(done)
		stop := context.AfterFunc(life, cancel)
		defer stop()
		r.loop(ctx, ns, found)
	})
	if !ok {
		cancel()
		return func() {}
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
}

// loop advertises and looks at ns until ctx ends.
func (r *RendezvousSource) loop(ctx context.Context, ns string, found Found) {
	delay := r.cfg.MinInterval
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var opts []discovery.Option
		if r.cfg.TTL > 0 {
			opts = append(opts, discovery.TTL(r.cfg.TTL))
		}
		_, _ = r.d.Advertise(ctx, ns, opts...) // fails while the DHT has no peer: tried again
		r.look(ctx, ns, found)
		t.Reset(delay)
		delay = min(2*delay, r.cfg.MaxInterval)
	}
}

// look takes at most Limit peers from one FindPeers, whatever the
// backend sends.
func (r *RendezvousSource) look(ctx context.Context, ns string, found Found) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.MaxInterval)
	defer cancel()
	ch, err := r.d.FindPeers(ctx, ns, discovery.Limit(r.cfg.Limit))
	if err != nil {
		return
	}
	for n := 0; n < r.cfg.Limit; n++ {
		select {
		case <-ctx.Done():
			return
		case ai, ok := <-ch:
			if !ok {
				return
			}
			found(ai)
		}
	}
}
