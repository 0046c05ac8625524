package relay_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/natgate"
	"github.com/latticedb/lattice/internal/poll"
	"github.com/latticedb/lattice/transports/relay"
)

func newKey(t *testing.T) (crypto.PrivKey, peer.ID) {
	k, _, err := crypto.GenerateEd25519Key(nil)
	require.NoError(t, err)
	id, err := peer.IDFromPrivateKey(k)
	require.NoError(t, err)
	return k, id
}

// Two peers that cannot reach each other directly replicate a database
// through a relay: the laptop-and-phone demo. The laptop keeps a
// reservation on the relay and advertises its circuit address; the phone
// dials that address and opens the database; writes flow both ways, and
// every connection between the two goes through the relay.
func TestReplicationThroughRelay(t *testing.T) {
	ctx := context.Background()
	r, err := relay.Start(relay.Config{DataDir: t.TempDir(), Listen: []string{"/ip4/127.0.0.1/tcp/0"}})
	require.NoError(t, err)
	defer r.Close()

	laptopKey, laptopID := newKey(t)
	phoneKey, phoneID := newKey(t)
	newPeer := func(key crypto.PrivKey, other peer.ID, opts ...engine.Option) *engine.Engine {
		e, err := engine.New(ctx, append([]engine.Option{
			engine.WithInMemory(),
			engine.WithIdentity(key),
			engine.WithListenAddrs("/ip4/127.0.0.1/tcp/0"),
			engine.WithRebroadcastInterval(time.Second),
			engine.WithLibp2pOptions(libp2p.ConnectionGater(natgate.BlockDirect(other))),
		}, opts...)...)
		require.NoError(t, err)
		t.Cleanup(func() { _ = e.Close() })
		return e
	}
	laptop := newPeer(laptopKey, phoneID, engine.WithRelays(r.AddrInfo()))
	phone := newPeer(phoneKey, laptopID)

	// The laptop advertises a circuit address once its reservation holds.
	var circuit ma.Multiaddr
	poll.Eventually(t, 30*time.Second, func() error {
		for _, a := range laptop.Addrs() {
			if natgate.Relayed(a) {
				circuit = a
				return nil
			}
		}
		return fmt.Errorf("no circuit address among %v", laptop.Addrs())
	})
	require.Contains(t, circuit.String(), r.ID().String())

	// A direct dial is refused (the NAT); the circuit address works.
	ai, err := peer.AddrInfoFromP2pAddr(circuit)
	require.NoError(t, err)
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var direct []ma.Multiaddr
	for _, a := range laptop.Host().Addrs() {
		if !natgate.Relayed(a) {
			direct = append(direct, a)
		}
	}
	require.NotEmpty(t, direct)
	require.Error(t, phone.Connect(cctx, peer.AddrInfo{ID: laptopID, Addrs: direct}), "the NAT let a direct dial through")
	phone.Host().Peerstore().ClearAddrs(laptopID) // forget the refused addresses
	require.NoError(t, phone.Connect(cctx, *ai))

	dbL, err := laptop.Create(ctx, "TodoList", engine.WithAccess(accesscontrol.Open()))
	require.NoError(t, err)
	dbP, err := phone.Open(cctx, dbL.Address())
	require.NoError(t, err, "the manifest came through the relay")
	_, err = dbL.Collection("todos").InsertOne(ctx, engine.M{"_id": "milk", "title": "buy milk"})
	require.NoError(t, err)
	_, err = dbP.Collection("todos").InsertOne(ctx, engine.M{"_id": "bread", "title": "buy bread"})
	require.NoError(t, err)
	for _, db := range []*engine.Database{dbL, dbP} {
		poll.Eventually(t, 60*time.Second, func() error {
			n, err := db.Collection("todos").CountDocuments(ctx, nil)
			if err != nil {
				return err
			}
			if n != 2 {
				return fmt.Errorf("%d of 2 to-dos on %s", n, db.Address())
			}
			return nil
		})
	}

	conns := laptop.Host().Network().ConnsToPeer(phoneID)
	require.NotEmpty(t, conns)
	for _, c := range conns {
		require.True(t, natgate.Relayed(c.RemoteMultiaddr()), "a direct connection: %s", c.RemoteMultiaddr())
		require.False(t, c.Stat().Limited, "the relay limited the circuit: pubsub and bitswap would not run")
	}
}

func TestRelayKeepsItsIdentity(t *testing.T) {
	dir := t.TempDir()
	r1, err := relay.Start(relay.Config{DataDir: dir, Listen: []string{"/ip4/127.0.0.1/tcp/0"}})
	require.NoError(t, err)
	id := r1.ID()
	require.NotEmpty(t, r1.Addrs())
	for _, a := range r1.Addrs() {
		require.True(t, strings.HasSuffix(a.String(), "/p2p/"+id.String()), a.String())
	}
	require.NoError(t, r1.Close())
	r2, err := relay.Start(relay.Config{DataDir: dir, Listen: []string{"/ip4/127.0.0.1/tcp/0"}})
	require.NoError(t, err)
	defer r2.Close()
	require.Equal(t, id, r2.ID())
}

func TestRelayAnnouncesGivenAddresses(t *testing.T) {
	r, err := relay.Start(relay.Config{Listen: []string{"/ip4/127.0.0.1/tcp/0"}, Announce: []string{"/ip4/203.0.113.7/tcp/4002"}})
	require.NoError(t, err)
	defer r.Close()
	require.Len(t, r.Addrs(), 1)
	require.Equal(t, "/ip4/203.0.113.7/tcp/4002/p2p/"+r.ID().String(), r.Addrs()[0].String())

	_, err = relay.Start(relay.Config{Listen: []string{"/ip4/127.0.0.1/tcp/0"}, Announce: []string{"not-an-addr"}})
	require.ErrorContains(t, err, "not-an-addr")
}

// A circuit the relay resets at its limit is redialled: two peers that
// reach each other only through a relay whose circuits last 2 s keep
// replicating across resets.
func TestReplicationSurvivesCircuitLimit(t *testing.T) {
	ctx := context.Background()
	r, err := relay.Start(relay.Config{Listen: []string{"/ip4/127.0.0.1/tcp/0"}, Circuit: relay.CircuitLimit{Duration: 2 * time.Second, Data: 1 << 20}})
	require.NoError(t, err)
	defer r.Close()

	laptopKey, laptopID := newKey(t)
	phoneKey, phoneID := newKey(t)
	newPeer := func(key crypto.PrivKey, other peer.ID, opts ...engine.Option) *engine.Engine {
		e, err := engine.New(ctx, append([]engine.Option{
			engine.WithInMemory(),
			engine.WithIdentity(key),
			engine.WithListenAddrs("/ip4/127.0.0.1/tcp/0"),
			engine.WithRebroadcastInterval(time.Second),
			engine.WithLibp2pOptions(libp2p.ConnectionGater(natgate.BlockDirect(other))),
		}, opts...)...)
		require.NoError(t, err)
		t.Cleanup(func() { _ = e.Close() })
		return e
	}
	laptop := newPeer(laptopKey, phoneID, engine.WithRelays(r.AddrInfo()))
	phone := newPeer(phoneKey, laptopID)
	var circuit ma.Multiaddr
	poll.Eventually(t, 30*time.Second, func() error {
		for _, a := range laptop.Addrs() {
			if natgate.Relayed(a) {
				circuit = a
				return nil
			}
		}
		return fmt.Errorf("no circuit address among %v", laptop.Addrs())
	})
	ai, err := peer.AddrInfoFromP2pAddr(circuit)
	require.NoError(t, err)
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	require.NoError(t, phone.Connect(cctx, *ai))

	dbL, err := laptop.Create(ctx, "TodoList", engine.WithAccess(accesscontrol.Open()))
	require.NoError(t, err)
	dbP, err := phone.Open(cctx, dbL.Address())
	require.NoError(t, err)
	count := func(db *engine.Database, want int64) func() error {
		return func() error {
			n, err := db.Collection("todos").CountDocuments(ctx, nil)
			if err != nil {
				return err
			}
			if n != want {
				return fmt.Errorf("%d of %d to-dos", n, want)
			}
			return nil
		}
	}
	for i := int64(1); i <= 3; i++ {
		// Each round outlives a circuit: the one before was reset.
		first := phone.Host().Network().ConnsToPeer(laptopID)
		_, err = dbL.Collection("todos").InsertOne(ctx, engine.M{"n": i})
		require.NoError(t, err)
		poll.Eventually(t, 60*time.Second, count(dbP, i))
		if len(first) > 0 {
			poll.Eventually(t, 30*time.Second, func() error {
				if first[0].IsClosed() {
					return nil
				}
				return fmt.Errorf("circuit %s still open", first[0].RemoteMultiaddr())
			})
		}
	}
}
