package transports_test

import (
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
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
