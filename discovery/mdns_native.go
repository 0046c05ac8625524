//go:build !js

package discovery

import (
	"fmt"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/discovery/mdns"
)

// notifee passes mDNS finds on.
type notifee Found

func (n notifee) HandlePeerFound(ai peer.AddrInfo) { n(ai) }

// Start implements Source.
func (m *MDNSSource) Start(h host.Host, found Found) error {
	if err := m.start(h); err != nil {
		return err
	}
	svc := mdns.NewMdnsService(h, m.service, notifee(found))
	if err := svc.Start(); err != nil {
		_ = svc.Close()
		return fmt.Errorf("discovery: mdns: %w", err)
	}
	m.mu.Lock()
	m.svc = svc
	m.mu.Unlock()
	return nil
}
