package discovery

import (
	"context"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

// BootstrapInterval is how often a Bootstrap source reports its peers
// again, so that a peer that was down is dialled again once it is back.
const BootstrapInterval = time.Minute

// BootstrapSource reports a static list of peers at start and every
// BootstrapInterval. Make one with Bootstrap.
type BootstrapSource struct {
	peers []peer.AddrInfo
	life
}

var _ Source = (*BootstrapSource)(nil)

// Bootstrap returns a source of the given peers (for example the
// --bootstrap peers of a node, or the DHT's bootstrap peers).
func Bootstrap(peers ...peer.AddrInfo) *BootstrapSource {
	return &BootstrapSource{peers: append([]peer.AddrInfo(nil), peers...)}
}

// Start implements Source.
func (b *BootstrapSource) Start(h host.Host, found Found) error {
	if err := b.start(h); err != nil {
		return err
	}
	b.goroutine(func(ctx context.Context) {
		t := time.NewTicker(BootstrapInterval)
		defer t.Stop()
		for {
			for _, ai := range b.peers {
				found(ai)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
	return nil
}

// Close implements Source.
func (b *BootstrapSource) Close() error { b.close(); return nil }
