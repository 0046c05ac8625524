package engine_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/enginetest"
	"github.com/latticedb/lattice/internal/replication"
)

// TestAddressesAreUniqueByDefault: two creators of the same name and rules
// (README's open "Notes") get two databases, and one creator calling Create
// twice does too; only WithDeterministicAddress gives the same address.
func TestAddressesAreUniqueByDefault(t *testing.T) {
	ctx := context.Background()
	a, b := enginetest.NewEngine(t), enginetest.NewEngine(t)
	open := engine.WithAccess(accesscontrol.Open())

	dbA, err := a.Create(ctx, "Notes", open)
	require.NoError(t, err)
	dbB, err := b.Create(ctx, "Notes", open)
	require.NoError(t, err)
	require.NotEqual(t, dbA.Address(), dbB.Address(), "two strangers' Notes must not be one database")
	again, err := a.Create(ctx, "Notes", open)
	require.NoError(t, err)
	require.NotEqual(t, dbA.Address(), again.Address(), "every Create makes a new database")
	require.Len(t, dbA.Manifest().Nonce, 26)

	detA, err := a.Create(ctx, "Notes", open, engine.WithDeterministicAddress())
	require.NoError(t, err)
	detB, err := b.Create(ctx, "Notes", open, engine.WithDeterministicAddress())
	require.NoError(t, err)
	require.Equal(t, detA.Address(), detB.Address(), "deterministic addresses follow from name and rules")
	require.Empty(t, detA.Manifest().Nonce)
	require.NotEqual(t, dbA.Address(), detA.Address())
}

// TestTopicDoesNotRevealAddress: the gossipsub topics a peer shows every
// connected peer hold neither the manifest CID nor the name, and a wrong
// name with the right CID is refused without naming the right one.
func TestTopicDoesNotRevealAddress(t *testing.T) {
	ctx := context.Background()
	a, b := enginetest.NewEngine(t), enginetest.NewEngine(t)
	enginetest.ConnectAll(t, a, b)
	db, err := a.Create(ctx, "SecretPlans", engine.WithAccess(accesscontrol.Open()))
	require.NoError(t, err)
	addr, err := engine.ParseAddress(db.Address())
	require.NoError(t, err)

	topics := a.PubSub().GetTopics()
	require.Contains(t, topics, replication.TopicName(addr.Manifest))
	for _, tp := range topics {
		require.NotContains(t, tp, addr.Manifest.String())
		require.NotContains(t, tp, "SecretPlans")
	}

	// B knows the CID (say it saw it somewhere) but guesses the name.
	octx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err = b.Open(octx, "/lattice/"+addr.Manifest.String()+"/Guess")
	require.ErrorIs(t, err, engine.ErrBadAddress)
	require.NotContains(t, err.Error(), "SecretPlans", "the error must not tell the name")

	// The holder of the address opens it.
	dbB, err := b.Open(octx, db.Address())
	require.NoError(t, err)
	require.Equal(t, db.Address(), dbB.Address())
}

// TestTopicName pins the topic derivation: other implementations and
// older nodes of this version must find the same topic.
func TestTopicName(t *testing.T) {
	old := []byte(`{"name":"TodoList","type":"docstore","access":{"type":"open"}}`)
	c, err := cid.Prefix{Version: 1, Codec: cid.DagJSON, MhType: mh.SHA2_256, MhLength: -1}.Sum(old)
	require.NoError(t, err)
	name := replication.TopicName(c)
	require.True(t, strings.HasPrefix(name, "/lattice/db/"))
	require.Len(t, strings.TrimPrefix(name, "/lattice/db/"), 52) // 256 bits of base32
	require.NotContains(t, name, c.String())
	require.Equal(t, "/lattice/db/eush6eqw2wfhul4sphqd45wuwqeet3bar3ywixycvyzodui7aj3a", name)
}
