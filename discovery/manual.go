package discovery

import (
	"sync"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

// ManualSource reports the peers the application hands it with Add: the
// inviter named by an invite link, a peer scanned from a QR code, one
// typed in by a user. They are dialled within the Manager's bounds, like
// any discovered peer. Make one with Manual.
type ManualSource struct {
	fmu   sync.Mutex
	found Found
	life
}

var _ Source = (*ManualSource)(nil)

// Manual returns a source of the peers given to its Add.
func Manual() *ManualSource { return &ManualSource{} }

// Add reports ai, if the source runs; it returns at once. It reports
// whether the source took the peer (false before Start and after Close).
func (s *ManualSource) Add(ai peer.AddrInfo) bool {
	s.fmu.Lock()
	f := s.found
	s.fmu.Unlock()
	if f == nil {
		return false
	}
	f(ai)
	return true
}

// Start implements Source.
func (s *ManualSource) Start(h host.Host, found Found) error {
	if err := s.start(h); err != nil {
		return err
	}
	s.fmu.Lock()
	s.found = found
	s.fmu.Unlock()
	return nil
}

// Close implements Source.
func (s *ManualSource) Close() error {
	s.fmu.Lock()
	s.found = nil
	s.fmu.Unlock()
	s.close()
	return nil
}
