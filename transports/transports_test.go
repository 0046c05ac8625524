package transports_test

import (
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/holepunch"
	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/internal/leaktest"
	"github.com/latticedb/lattice/internal/natgate"
	"github.com/latticedb/lattice/internal/poll"
	"github.com/latticedb/lattice/transports"
	"github.com/latticedb/lattice/transports/relay"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

func newKey(t *testing.T) crypto.PrivKey {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(nil)
	require.NoError(t, err)
	return k
}

func TestConfigValidate(t *testing.T) {
	_, err := transports.New(transports.Config{})
	require.ErrorIs(t, err, transports.ErrBadConfig)
	require.ErrorContains(t, err, "identity")

	_, err = transports.New(transports.Config{Identity: newKey(t), Relays: []peer.AddrInfo{{ID: "x"}}})
	require.ErrorIs(t, err, transports.ErrBadConfig)
	require.ErrorContains(t, err, "no address")
}

func TestNewListensAndDials(t *testing.T) {
	key := newKey(t)
	a, err := transports.New(transports.Config{Identity: key, ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}})
	require.NoError(t, err)
	defer a.Close()
	id, err := peer.IDFromPrivateKey(key)
	require.NoError(t, err)
	require.Equal(t, id, a.ID(), "the host is the identity's peer")
	require.NotEmpty(t, a.Addrs())

	b, err := transports.New(transports.Config{Identity: newKey(t), ListenAddrs: []string{}})
	require.NoError(t, err)
	defer b.Close()
	require.Empty(t, b.Network().ListenAddresses(), "an empty list listens on nothing")
	require.NoError(t, b.Connect(t.Context(), peer.AddrInfo{ID: a.ID(), Addrs: a.Addrs()}))
}

// TestNewKeepsRelayReservations: a host built with relays advertises a
// circuit address through each, and its Close ends the reservations (the
// leak check fails the package otherwise).
func TestNewKeepsRelayReservations(t *testing.T) {
	r, err := relay.Start(relay.Config{Listen: []string{"/ip4/127.0.0.1/tcp/0"}})
	require.NoError(t, err)
	defer r.Close()

	h, err := transports.New(transports.Config{
		Identity:    newKey(t),
		ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"},
		Relays:      []peer.AddrInfo{r.AddrInfo()},
	})
	require.NoError(t, err)
	poll.Eventually(t, 30*time.Second, func() error {
		for _, a := range h.Addrs() {
			if natgate.Relayed(a) {
				return nil
			}
		}
		return errNoCircuit
	})
	require.NoError(t, h.Close())
}

var errNoCircuit = errorString("no circuit address yet")

type errorString string

func (e errorString) Error() string { return string(e) }

func TestByNameAndParse(t *testing.T) {
	for _, n := range []string{"tcp", "QUIC", "ws", "websocket", "webtransport", "webrtc-direct", "webrtc"} {
		tr, err := transports.ByName(n)
		require.NoError(t, err, n)
		require.NotEmpty(t, tr.Options(), n)
		require.NotEmpty(t, tr.ListenAddrs(), n)
	}
	_, err := transports.ByName("carrier-pigeon")
	require.ErrorIs(t, err, transports.ErrUnknownTransport)
	require.ErrorContains(t, err, `"carrier-pigeon"`)
	require.ErrorContains(t, err, "tcp, quic, ws", "the error lists the known names")

	ts, err := transports.Parse("tcp,quic", "ws", "tcp", "")
	require.NoError(t, err)
	require.Equal(t, []string{"tcp", "quic", "ws"}, namesOf(ts), "in order, without duplicates")
	ts, err = transports.Parse()
	require.NoError(t, err)
	require.Nil(t, ts, "no names means the defaults")
	_, err = transports.Parse("tcp,udp")
	require.ErrorIs(t, err, transports.ErrUnknownTransport)

	require.Equal(t, []string{"tcp", "quic", "ws"}, namesOf(transports.Defaults()))
	require.Len(t, transports.DefaultListenAddrs, 3)
}

func namesOf(ts []transports.Transport) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Name())
	}
	return out
}

func TestConfigRejectsBadTransportsAndNAT(t *testing.T) {
	_, err := transports.New(transports.Config{Identity: newKey(t), Transports: []transports.Transport{}})
	require.ErrorIs(t, err, transports.ErrBadConfig)
	require.ErrorContains(t, err, "empty list of transports")
	_, err = transports.New(transports.Config{Identity: newKey(t), Transports: []transports.Transport{nil}})
	require.ErrorContains(t, err, "nil")
	_, err = transports.New(transports.Config{Identity: newKey(t), NAT: transports.NATConfig{HolePunching: 7}})
	require.ErrorContains(t, err, "HolePunching")
}

// TestOnlyChosenTransports: a host given one transport listens and dials
// with that one only.
func TestOnlyChosenTransports(t *testing.T) {
	a, err := transports.New(transports.Config{Identity: newKey(t), Transports: []transports.Transport{transports.QUIC()},
		ListenAddrs: []string{"/ip4/127.0.0.1/udp/0/quic-v1"}})
	require.NoError(t, err)
	defer a.Close()
	b, err := transports.New(transports.Config{Identity: newKey(t), Transports: []transports.Transport{transports.TCP()},
		ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}})
	require.NoError(t, err)
	defer b.Close()
	err = b.Connect(t.Context(), peer.AddrInfo{ID: a.ID(), Addrs: a.Addrs()})
	require.Error(t, err, "a TCP-only host cannot dial a QUIC-only one")
}

func TestTraversalCountsHolePunches(t *testing.T) {
	h, err := transports.New(transports.Config{Identity: newKey(t), ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"},
		NAT: transports.NATConfig{HolePunching: transports.On}})
	require.NoError(t, err)
	defer h.Close()
	tr := transports.TraversalOf(h)
	require.NotNil(t, tr)
	require.Equal(t, network.ReachabilityUnknown, tr.Reachability())
	tr.Trace(&holepunch.Event{Type: holepunch.StartHolePunchEvtT, Evt: &holepunch.StartHolePunchEvt{}})
	tr.Trace(&holepunch.Event{Type: holepunch.EndHolePunchEvtT, Evt: &holepunch.EndHolePunchEvt{Success: false, Error: "timeout"}})
	tr.Trace(&holepunch.Event{Type: holepunch.StartHolePunchEvtT, Evt: &holepunch.StartHolePunchEvt{}})
	tr.Trace(&holepunch.Event{Type: holepunch.EndHolePunchEvtT, Remote: "x", Evt: &holepunch.EndHolePunchEvt{Success: true}})
	require.Equal(t, transports.HolePunchStats{Attempts: 2, Successes: 1}, tr.HolePunches())
	require.Nil(t, transports.TraversalOf(relayHostless{}), "a host New did not build has none")
}

// relayHostless is a host.Host that is not one of New's.
type relayHostless struct{ host.Host }
