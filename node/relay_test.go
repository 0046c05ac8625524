package node_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/natgate"
	"github.com/latticedb/lattice/internal/poll"
	"github.com/latticedb/lattice/transports/relay"
)

// The seed's demo: two nodes that cannot dial each other share a to-do list
// by invite link through a relay. The inviter keeps a reservation, its link
// carries the circuit address, and the invitee joins and replicates.
func TestInviteThroughRelay(t *testing.T) {
	r, err := relay.Start(relay.Config{Listen: []string{"/ip4/127.0.0.1/tcp/0"}})
	require.NoError(t, err)
	defer r.Close()
	keyA, _, err := crypto.GenerateEd25519Key(nil)
	require.NoError(t, err)
	keyB, _, err := crypto.GenerateEd25519Key(nil)
	require.NoError(t, err)
	idA, _ := peer.IDFromPrivateKey(keyA)
	idB, _ := peer.IDFromPrivateKey(keyB)
	a := startNodeGated(t, []connmgr.ConnectionGater{natgate.BlockDirect(idB)}, []engine.Option{
		engine.WithIdentity(keyA), engine.WithRelays(r.AddrInfo()),
	})
	b := startNodeGated(t, []connmgr.ConnectionGater{natgate.BlockDirect(idA)}, []engine.Option{
		engine.WithIdentity(keyB),
	})

	list := a.createDB("TodoList")
	a.act("insertOne", list, map[string]any{"document": map[string]any{"_id": "t1", "title": "milk"}})
	// Once the reservation holds, the link carries the circuit address.
	var link string
	poll.Eventually(t, 30*time.Second, func() error {
		link = a.ok(200, "POST", "/v1/invites", map[string]any{"database": list, "collection": "todos"})["link"].(string)
		if !strings.Contains(link, "/p2p-circuit") {
			return fmt.Errorf("no circuit address in %s", link)
		}
		return nil
	})

	joined := b.ok(200, "POST", "/v1/join", map[string]any{"link": link})
	require.Equal(t, list, joined["address"])
	waitDoc(t, b, list, "t1", func(d map[string]any) bool { return d["title"] == "milk" })
	b.act("updateOne", list, map[string]any{"filter": map[string]any{"_id": "t1"}, "update": map[string]any{"$set": map[string]any{"isDone": true}}})
	waitDoc(t, a, list, "t1", func(d map[string]any) bool { return d["isDone"] == true })

	peers := b.ok(200, "GET", "/v1/peers", nil)["peers"].([]any)
	kinds := map[string]string{}
	for _, p := range peers {
		kinds[p.(map[string]any)["peerId"].(string)] = p.(map[string]any)["kind"].(string)
	}
	require.Equal(t, "relayed", kinds[idA.String()], "B reaches A only through the relay: %v", peers)
}
