package engine_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	dag "github.com/ipfs/boxo/ipld/merkledag"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	crdtpb "github.com/ipfs/go-ds-crdt/pb"
	ipld "github.com/ipfs/go-ipld-format"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/enginetest"
	"github.com/latticedb/lattice/internal/poll"
	"github.com/latticedb/lattice/internal/replication"
)

// TestReplayAtGreaterHeightCannotRollBack is the rollback a replay would
// be if signatures did not bind heights: a peer with no token takes
// the writer's signed delta setting title to "v1", copies it into a block
// of its own above the writer's later "v2", and announces it. Registers
// resolve by height, so merged it would set the title back to "v1". The
// receiver refuses it: the signature names the height it was written at.
func TestReplayAtGreaterHeightCannotRollBack(t *testing.T) {
	ctx := context.Background()
	a, b := enginetest.NewEngine(t), enginetest.NewEngine(t)
	enginetest.ConnectAll(t, a, b)
	// A token database: its broadcast gate admits any signer (the token
	// is judged per delta), so a peer with no token can announce.
	issuer, _, err := crypto.GenerateEd25519Key(nil)
	require.NoError(t, err)
	dbA, err := a.Create(ctx, "rollback", engine.WithAccess(accesscontrol.Token(issuer.GetPublic())))
	require.NoError(t, err)
	tok, err := accesscontrol.IssueToken(issuer, accesscontrol.TokenClaims{Database: dbA.Address(), Holder: a.ID(), Expires: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	dbA.UseToken(tok)
	dbB := enginetest.Open(t, b, dbA.Address())
	ca, cb := dbA.Collection("c"), dbB.Collection("c")
	_, err = ca.InsertOne(ctx, engine.M{"_id": "doc", "title": "v0"})
	require.NoError(t, err)
	enginetest.Converged(t, 20*time.Second, 1, ca, cb)

	// The attacker listens on the topic and keeps the writer's blocks.
	f := newFlooder(t, dbA.Address(), b)
	sub, err := f.topic.Subscribe()
	require.NoError(t, err)
	defer sub.Cancel()
	_, err = ca.UpdateOne(ctx, engine.M{"_id": "doc"}, engine.M{"$set": engine.M{"title": "v1"}})
	require.NoError(t, err)
	v1 := dbA.Heads()
	require.Len(t, v1, 1)
	old := capturedBlock(t, sub, f.manifest, v1[0])
	_, err = ca.UpdateOne(ctx, engine.M{"_id": "doc"}, engine.M{"$set": engine.M{"title": "v2"}})
	require.NoError(t, err)
	enginetest.Converged(t, 20*time.Second, 1, ca, cb)

	// The replay: v1's signed delta, at a height above every head, linked
	// to the current heads, as go-ds-crdt would build a new block.
	nd, err := dag.DecodeProtobuf(old.RawData())
	require.NoError(t, err)
	var d crdtpb.Delta
	require.NoError(t, proto.Unmarshal(nd.Data(), &d))
	d.Priority = dbB.Stats().MaxHeight + 1
	data, err := proto.Marshal(&d)
	require.NoError(t, err)
	replay := dag.NodeWithData(data)
	for _, h := range dbB.Heads() {
		c, err := cid.Decode(h)
		require.NoError(t, err)
		require.NoError(t, replay.AddRawLink("", &ipld.Link{Cid: c}))
	}
	replay.SetCidBuilder(dag.V1CidPrefix())
	blk, err := blocks.NewBlockWithCid(replay.RawData(), replay.Cid())
	require.NoError(t, err)
	msg, err := replication.EncodeMessage(&replication.Message{Heads: []cid.Cid{replay.Cid()}, Blocks: []blocks.Block{blk}})
	require.NoError(t, err)
	rejected := dbB.Stats().Rejected
	f.publish(t, msg)

	poll.Eventually(t, 20*time.Second, func() error {
		if dbB.Stats().Rejected == rejected {
			return fmt.Errorf("the replay was not refused (yet)")
		}
		return nil
	})
	var doc engine.M
	require.NoError(t, cb.FindByID(ctx, "doc").Decode(&doc))
	require.Equal(t, "v2", doc["title"], "the replay rolled the register back")
	// Honest writes still flow.
	_, err = ca.UpdateOne(ctx, engine.M{"_id": "doc"}, engine.M{"$set": engine.M{"title": "v3"}})
	require.NoError(t, err)
	poll.Eventually(t, 20*time.Second, func() error {
		var doc engine.M
		if err := cb.FindByID(ctx, "doc").Decode(&doc); err != nil || doc["title"] != "v3" {
			return fmt.Errorf("title %v (%v)", doc["title"], err)
		}
		return nil
	})
}

// capturedBlock reads the topic until a message carries block c inline.
// The attacker holds the address, so it opens the sealed broadcasts.
func capturedBlock(t *testing.T, sub *pubsub.Subscription, manifest cid.Cid, c string) blocks.Block {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		msg, err := sub.Next(ctx)
		require.NoError(t, err, "block %s never seen inline", c)
		data, err := replication.OpenBroadcast(manifest, msg.Data)
		if err != nil {
			continue
		}
		m, err := replication.DecodeMessage(data)
		if err != nil {
			continue
		}
		for _, blk := range m.Blocks {
			if blk.Cid().String() == c {
				return blk
			}
		}
	}
}

// TestDeltaSignedAgainWhenItsHeightMoves: a remote head merged between
// signing a delta (for one above the highest head) and committing it
// moves the height go-ds-crdt gives the block. The block is refused
// before it is stored, the delta is signed for the new height and
// committed, and the peer accepts it.
func TestDeltaSignedAgainWhenItsHeightMoves(t *testing.T) {
	ctx := context.Background()
	a, b := enginetest.NewEngine(t), enginetest.NewEngine(t)
	enginetest.ConnectAll(t, a, b)
	dbA, err := a.Create(ctx, "resign", engine.WithAccess(accesscontrol.Open()))
	require.NoError(t, err)
	dbB := enginetest.Open(t, b, dbA.Address())
	ca, cb := dbA.Collection("c"), dbB.Collection("c")
	_, err = ca.InsertOne(ctx, engine.M{"_id": "first"})
	require.NoError(t, err)
	enginetest.Converged(t, 20*time.Second, 1, ca, cb)

	// Between a's signing and committing, b writes, and a merges b's
	// delta: a's highest head moves up.
	fired := false
	engine.SetBeforeCommit(dbA, func() {
		if fired {
			return
		}
		fired = true
		before := engine.MaxHeight(dbA)
		_, err := cb.InsertOne(ctx, engine.M{"_id": "from-b"})
		require.NoError(t, err)
		poll.Eventually(t, 20*time.Second, func() error {
			if engine.MaxHeight(dbA) == before {
				return fmt.Errorf("a has not merged b's delta yet")
			}
			return nil
		})
	})
	_, err = ca.InsertOne(ctx, engine.M{"_id": "from-a"})
	require.NoError(t, err)
	engine.SetBeforeCommit(dbA, nil)
	require.True(t, fired)
	require.NotZero(t, dbA.Stats().Resigned, "the delta was not signed again")
	enginetest.Converged(t, 20*time.Second, 3, ca, cb)
	require.Zero(t, dbB.Stats().Rejected, "b refused a's delta")
}
