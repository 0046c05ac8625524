//go:build js

package discovery

import (
	"errors"

	"github.com/libp2p/go-libp2p/core/host"
)

// Start implements Source: a page cannot send multicast, so it fails
// (and the browser build leaves go-libp2p's mDNS and its DNS library out).
func (m *MDNSSource) Start(host.Host, Found) error {
	return errors.New("discovery: mdns: not available in a browser (no multicast)")
}
