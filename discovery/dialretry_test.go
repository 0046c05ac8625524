package discovery_test

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/discovery"
	"github.com/latticedb/lattice/internal/poll"
)

// tcpHost is a libp2p host listening on TCP at addr, closed when the test
// ends.
func tcpHost(t *testing.T, addr string, opts ...libp2p.Option) host.Host {
	t.Helper()
	h, err := libp2p.New(append(opts, libp2p.ListenAddrStrings(addr))...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.Close() })
	return h
}

// manualManager runs a Manager with one Manual source on h, closed when
// the test ends.
func manualManager(t *testing.T, h host.Host, lim discovery.Limits) (*discovery.Manager, *discovery.ManualSource) {
	t.Helper()
	src := discovery.Manual()
	m, err := discovery.NewManager(h, []discovery.Source{src}, lim, nil)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, m.Close()) })
	return m, src
}

// dialled says whether m's dial from a to b has connected (the host
// reports the connection a moment before the dial returns).
func dialled(m *discovery.Manager, a, b host.Host) error {
	if a.Network().Connectedness(b.ID()) != network.Connected {
		return fmt.Errorf("%s not connected to %s", a.ID(), b.ID())
	}
	if s := m.Stats(); s.Connected != 1 {
		return fmt.Errorf("the manager has not counted its dial: %+v", s)
	}
	return nil
}

// Two peers that find each other at once (as mDNS makes them) must not
// dial each other at once: over TCP with port reuse the two dials can meet
// as one TCP simultaneous open, on which both ends run the security
// handshake as client and both fail. Only the lower ID dials; the higher
// one yields, and has nothing left to dial.
func TestOnlyTheLowerIDDialsWhenBothFindEachOther(t *testing.T) {
	lo, hi := tcpHost(t, "/ip4/127.0.0.1/tcp/0"), tcpHost(t, "/ip4/127.0.0.1/tcp/0")
	if lo.ID() > hi.ID() {
		lo, hi = hi, lo
	}
	lim := discovery.Limits{Yield: time.Minute} // longer than the test: the higher ID never dials
	mlo, slo := manualManager(t, lo, lim)
	mhi, shi := manualManager(t, hi, lim)
	go slo.Add(peer.AddrInfo{ID: hi.ID(), Addrs: hi.Addrs()})
	go shi.Add(peer.AddrInfo{ID: lo.ID(), Addrs: lo.Addrs()})
	poll.Eventually(t, 30*time.Second, func() error {
		if err := dialled(mlo, lo, hi); err != nil {
			return err
		}
		if s := mhi.Stats(); s.Queued != 1 {
			return fmt.Errorf("the higher ID has not queued the lower yet: %+v", s)
		}
		return nil
	})
	require.Zero(t, mhi.Stats().Dialed, "the higher ID yielded")
}

// The higher ID still dials a peer that does not dial it, once its yield
// is over.
func TestTheHigherIDDialsAfterItsYield(t *testing.T) {
	a, b := tcpHost(t, "/ip4/127.0.0.1/tcp/0"), tcpHost(t, "/ip4/127.0.0.1/tcp/0")
	if a.ID() < b.ID() {
		a, b = b, a
	}
	m, src := manualManager(t, a, discovery.Limits{Yield: 100 * time.Millisecond})
	require.True(t, src.Add(peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}))
	poll.Eventually(t, 30*time.Second, func() error { return dialled(m, a, b) })
}

// A source may report a peer once (mDNS does): a dial that fails is tried
// again, so a peer that was not listening yet is reached once it is.
func TestAFailedDialIsRetried(t *testing.T) {
	a := tcpHost(t, "/ip4/127.0.0.1/tcp/0")
	key, _, err := crypto.GenerateEd25519Key(nil)
	require.NoError(t, err)
	id, err := peer.IDFromPrivateKey(key)
	require.NoError(t, err)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close()) // nothing listens there now
	addr := fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", port)

	// Just past libp2p's 5 s dial backoff, so the retry is not refused.
	m, src := manualManager(t, a, discovery.Limits{RetryDelay: 5500 * time.Millisecond, Yield: time.Millisecond})
	require.True(t, src.Add(peer.AddrInfo{ID: id, Addrs: []ma.Multiaddr{ma.StringCast(addr)}}))
	poll.Eventually(t, 30*time.Second, func() error {
		if s := m.Stats(); s.Failed != 1 || s.Retried != 1 {
			return fmt.Errorf("the first dial has not failed and been queued again: %+v", s)
		}
		return nil
	})
	b := tcpHost(t, addr, libp2p.Identity(key))
	poll.Eventually(t, 60*time.Second, func() error { return dialled(m, a, b) })
}
