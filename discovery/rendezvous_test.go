package discovery_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	coredisc "github.com/libp2p/go-libp2p/core/discovery"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/discovery"
	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/poll"
)

// endless is a core/discovery.Discovery whose FindPeers never stops
// sending, whatever the limit asked: a hostile or broken backend.
type endless struct {
	mu         sync.Mutex
	advertised []string
	t          *testing.T
}

func (e *endless) Advertise(_ context.Context, ns string, _ ...coredisc.Option) (time.Duration, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.advertised = append(e.advertised, ns)
	return time.Hour, nil
}

func (e *endless) FindPeers(ctx context.Context, _ string, _ ...coredisc.Option) (<-chan peer.AddrInfo, error) {
	ch := make(chan peer.AddrInfo)
	id := randomID(e.t)
	go func() {
		defer close(ch)
		for {
			select {
			case <-ctx.Done():
				return
			case ch <- peer.AddrInfo{ID: id}:
			}
		}
	}()
	return ch, nil
}

func TestRendezvousTakesAtMostLimitPerLook(t *testing.T) {
	h, err := libp2p.New(libp2p.NoListenAddrs)
	require.NoError(t, err)
	defer h.Close()
	backend := &endless{t: t}
	src := discovery.FromDiscovery(backend, discovery.RendezvousConfig{MinInterval: time.Hour, Limit: 5})
	require.NoError(t, src.Start(h, nil))
	var n atomic.Int64
	leave := src.Join("/ns", func(peer.AddrInfo) { n.Add(1) })
	poll.Eventually(t, 30*time.Second, func() error {
		if n.Load() < 5 {
			return context.DeadlineExceeded
		}
		return nil
	})
	leave()
	leave() // idempotent
	require.EqualValues(t, 5, n.Load(), "one look took more than Limit peers")
	backend.mu.Lock()
	require.Equal(t, []string{"/ns"}, backend.advertised)
	backend.mu.Unlock()

	require.NoError(t, src.Close())
	require.NoError(t, src.Close())
	src.Join("/late", func(peer.AddrInfo) { t.Error("a closed source reported a peer") })()
	require.ErrorIs(t, src.Start(h, nil), discovery.ErrClosed)
}

func TestManagerJoinsAndLeavesNamespaces(t *testing.T) {
	h, err := libp2p.New(libp2p.NoListenAddrs)
	require.NoError(t, err)
	defer h.Close()
	_, err = discovery.NewManager(nil, nil, discovery.Limits{}, nil)
	require.ErrorIs(t, err, discovery.ErrBadConfig)
	_, err = discovery.NewManager(h, []discovery.Source{nil}, discovery.Limits{}, nil)
	require.ErrorIs(t, err, discovery.ErrBadConfig)

	backend := &endless{t: t}
	rv := discovery.FromDiscovery(backend, discovery.RendezvousConfig{MinInterval: time.Hour, Limit: 3})
	m, err := discovery.NewManager(h, []discovery.Source{discovery.Bootstrap(), rv}, discovery.Limits{}, nil)
	require.NoError(t, err)
	leave := m.Join(discovery.Namespace("/lattice/x/db"))
	poll.Eventually(t, 30*time.Second, func() error {
		if m.Stats().Found < 3 {
			return context.DeadlineExceeded
		}
		return nil
	})
	leave()
	require.NoError(t, m.Close())
	require.NoError(t, m.Close())
	m.Join("/after-close")() // a no-op
	backend.mu.Lock()
	require.Equal(t, []string{discovery.Namespace("/lattice/x/db")}, backend.advertised)
	backend.mu.Unlock()
	// The backend's peers have no address: dropped, never dialled.
	st := m.Stats()
	require.Zero(t, st.Dialed)
	require.EqualValues(t, st.Found, st.Dropped)
}

func TestEngineRefusesANilSource(t *testing.T) {
	_, err := engine.New(context.Background(), engine.WithInMemory(), engine.WithDiscovery(nil))
	require.ErrorIs(t, err, engine.ErrBadOption)
}
