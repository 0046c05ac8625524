package discovery

import "io"

// MDNSService is the DNS-SD service name Lattice peers announce
// themselves under on the LAN by default, so that they find each other
// and not every libp2p program around.
const MDNSService = "_lattice._udp"

// MDNSSource finds peers on the local network by multicast DNS
// (go-libp2p's p2p/discovery/mdns), and announces this one. It needs an
// interface with multicast (Linux lo has none); a browser has none, and
// there Start fails. Make one with MDNS.
type MDNSSource struct {
	service string
	svc     io.Closer
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
