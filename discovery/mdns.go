package discovery

import (
	"fmt"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/discovery/mdns"
)

// MDNSService is the DNS-SD service name Lattice peers announce
// themselves under on the LAN by default, so that they find each other
// and not every libp2p program around.
const MDNSService = "_lattice._udp"

// MDNSSource finds peers on the local network by multicast DNS
// (go-libp2p's p2p/discovery/mdns), and announces this one. It needs an
// interface with multicast (Linux lo has none). Make one with MDNS.
type MDNSSource struct {
	service string
	svc     mdns.Service
	life
}

var _ Source = (*MDNSSource)(nil)

// MDNS returns an mDNS source for service ("" means MDNSService).
func MDNS(service string) *MDNSSource {
	if service == "" {
		service = MDNSService
	}
	return &MDNSSource{service: service}
}

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

// Close implements Source; it waits for the mDNS responder and resolver.
func (m *MDNSSource) Close() error {
	m.mu.Lock()
	svc := m.svc
	m.svc = nil
	m.mu.Unlock()
	m.close()
	if svc != nil {
		return svc.Close()
	}
	return nil
}
