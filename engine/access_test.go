package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/enginetest"
	"github.com/latticedb/lattice/internal/poll"
	"github.com/latticedb/lattice/plugins"
)

// rogueDynamic follows the replicated grant/revoke log like an honest peer
// but lets its own peer write, and announce, whatever the log says.
type rogueDynamic struct {
	*accesscontrol.DynamicController
}

func (rogueDynamic) CanWrite(context.Context, accesscontrol.Write) error { return nil }
func (rogueDynamic) CanAnnounce(context.Context, peer.ID) error          { return nil }

// rogueRegistry stands for a modified peer that ignores the rules: every
// controller it builds admits everything.
func rogueRegistry(t *testing.T) *plugins.Registry {
	t.Helper()
	r := plugins.NewRegistry()
	allow := func(json.RawMessage, accesscontrol.Env) (accesscontrol.Controller, error) {
		return accesscontrol.AllowAll(), nil
	}
	for _, typ := range []string{"open", "static", "token"} {
		require.NoError(t, r.RegisterAccess(typ, allow))
	}
	require.NoError(t, r.RegisterAccess("dynamic", func(p json.RawMessage, env accesscontrol.Env) (accesscontrol.Controller, error) {
		c, err := accesscontrol.NewDynamic(p, env)
		if err != nil {
			return nil, err
		}
		return rogueDynamic{c.(*accesscontrol.DynamicController)}, nil
	}))
	return r
}

// has reports whether a replica shows a document.
func has(c *engine.Collection, id string) bool {
	return c.FindByID(context.Background(), id).Err() == nil
}

// settledAmong waits until the honest replicas agree and hold want.
func settledAmong(t *testing.T, want []string, cs ...*engine.Collection) {
	t.Helper()
	poll.Eventually(t, 30*time.Second, func() error {
		if err := enginetest.Settled(cs...); err != nil {
			return err
		}
		for i, c := range cs {
			for _, id := range want {
				if !has(c, id) {
					return fmt.Errorf("replica %d lacks %s", i, id)
				}
			}
		}
		return nil
	})
}

func TestStaticNonWritersCannotWrite(t *testing.T) {
	ctx := context.Background()
	a, b, c := enginetest.NewEngine(t), enginetest.NewEngine(t), enginetest.NewEngine(t)
	rogue := enginetest.NewEngine(t, engine.WithRegistry(rogueRegistry(t)))
	enginetest.ConnectAll(t, a, b, c, rogue)

	dbA, err := a.Create(ctx, "static", engine.WithAccess(accesscontrol.Static(a.ID(), b.ID())))
	require.NoError(t, err)
	dbB, dbC, dbR := enginetest.Open(t, b, dbA.Address()), enginetest.Open(t, c, dbA.Address()), enginetest.Open(t, rogue, dbA.Address())
	ca, cb, cc, cr := dbA.Collection("t"), dbB.Collection("t"), dbC.Collection("t"), dbR.Collection("t")

	// An honest non-writer is refused locally, and stores nothing.
	_, err = cc.InsertOne(ctx, engine.M{"_id": "from-c"})
	require.ErrorIs(t, err, accesscontrol.ErrUnauthorized)
	require.False(t, has(cc, "from-c"))

	// A rogue non-writer stores its write locally, but no honest replica
	// takes it, while writers keep replicating to everyone.
	_, err = cr.InsertOne(ctx, engine.M{"_id": "from-rogue"})
	require.NoError(t, err)
	_, err = ca.InsertOne(ctx, engine.M{"_id": "from-a"})
	require.NoError(t, err)
	_, err = cb.InsertOne(ctx, engine.M{"_id": "from-b"})
	require.NoError(t, err)
	settledAmong(t, []string{"from-a", "from-b"}, ca, cb, cc)
	poll.Eventually(t, 10*time.Second, func() error {
		if !has(cr, "from-a") || !has(cr, "from-b") {
			return fmt.Errorf("the rogue replica still reads writers' documents")
		}
		return nil
	})
	for _, col := range []*engine.Collection{ca, cb, cc} {
		require.False(t, has(col, "from-rogue"))
	}
	require.NotZero(t, dbA.Stats().Rejected+dbB.Stats().Rejected+dbC.Stats().Rejected)
	// Honest peers stay connected to each other and do not penalise each
	// other (gossipsub scores stay at zero or above), even though they
	// relayed the rogue's announcements.
	require.NotEmpty(t, a.Host().Network().ConnsToPeer(b.ID()))
	honest := []*engine.Engine{a, b, c}
	poll.Eventually(t, 10*time.Second, func() error { // scores are reported every second
		for _, e := range honest {
			for _, p := range honest {
				if _, ok := e.PeerScore(p.ID()); !ok && e != p {
					return fmt.Errorf("no score for %s at %s yet", p.ID(), e.ID())
				}
			}
		}
		return nil
	})
	for _, e := range honest {
		for _, p := range honest {
			if score, _ := e.PeerScore(p.ID()); e != p {
				require.GreaterOrEqual(t, score, 0.0, "an honest peer penalised another")
			}
		}
	}
}

func TestDynamicGrantAndRevokeWithOfflineReplica(t *testing.T) {
	ctx := context.Background()
	admin, c := enginetest.NewEngine(t), enginetest.NewEngine(t)
	writer := enginetest.NewEngine(t, engine.WithRegistry(rogueRegistry(t)))
	enginetest.ConnectAll(t, admin, c, writer)

	dbA, err := admin.Create(ctx, "dynamic", engine.WithAccess(accesscontrol.Dynamic(admin.ID())))
	require.NoError(t, err)
	dbW, dbC := enginetest.Open(t, writer, dbA.Address()), enginetest.Open(t, c, dbA.Address())
	ca, cw, cc := dbA.Collection("t"), dbW.Collection("t"), dbC.Collection("t")

	// Only admins grant.
	require.ErrorIs(t, dbC.Grant(ctx, c.ID(), accesscontrol.RoleWriter), accesscontrol.ErrUnauthorized)

	require.NoError(t, dbA.Grant(ctx, writer.ID(), accesscontrol.RoleWriter))
	_, err = ca.InsertOne(ctx, engine.M{"_id": "granted"})
	require.NoError(t, err)
	// The writer learns of its grant, then its writes replicate.
	rogueState := dbW.Access().(rogueDynamic)
	poll.Eventually(t, 20*time.Second, func() error {
		if !slices.Contains(rogueState.Writers(), writer.ID()) {
			return fmt.Errorf("grant not yet replicated to the writer")
		}
		return nil
	})
	_, err = cw.InsertOne(ctx, engine.M{"_id": "while-writer"})
	require.NoError(t, err)
	settledAmong(t, []string{"granted", "while-writer"}, ca, cc)

	// C goes offline; the admin revokes the writer, which learns of it and
	// writes anyway.
	enginetest.Partition(t, c, admin, writer)
	require.NoError(t, dbA.Revoke(ctx, writer.ID(), accesscontrol.RoleWriter))
	poll.Eventually(t, 20*time.Second, func() error {
		if slices.Contains(rogueState.Writers(), writer.ID()) {
			return fmt.Errorf("revocation not yet replicated to the writer")
		}
		return nil
	})
	_, err = cw.InsertOne(ctx, engine.M{"_id": "after-revoke"})
	require.NoError(t, err)
	_, err = ca.InsertOne(ctx, engine.M{"_id": "admin-while-c-offline"})
	require.NoError(t, err)

	// C comes back and catches up: it takes the admin's write, not the
	// revoked writer's, like the admin.
	enginetest.ConnectAll(t, c, admin, writer)
	settledAmong(t, []string{"admin-while-c-offline", "while-writer"}, ca, cc)
	require.False(t, has(ca, "after-revoke"))
	require.False(t, has(cc, "after-revoke"))
	require.True(t, has(cw, "after-revoke"), "the rogue keeps its own write")
	require.NotZero(t, dbC.Stats().Rejected+dbA.Stats().Rejected)
}

func TestTokens(t *testing.T) {
	ctx := context.Background()
	issuer, _, err := crypto.GenerateEd25519Key(nil)
	require.NoError(t, err)
	other, _, err := crypto.GenerateEd25519Key(nil)
	require.NoError(t, err)

	server, holder, viewer := enginetest.NewEngine(t), enginetest.NewEngine(t), enginetest.NewEngine(t)
	rogue := enginetest.NewEngine(t, engine.WithRegistry(rogueRegistry(t)))
	// A second rogue sends no blocks inline: they travel over bitswap.
	rogueB := enginetest.NewEngine(t, engine.WithRegistry(rogueRegistry(t)), engine.WithoutInlineBlocks())
	enginetest.ConnectAll(t, server, holder, viewer, rogue, rogueB)
	dbS, err := server.Create(ctx, "tokens", engine.WithAccess(accesscontrol.Token(issuer.GetPublic())))
	require.NoError(t, err)
	addr := dbS.Address()
	dbH, dbV, dbR := enginetest.Open(t, holder, addr), enginetest.Open(t, viewer, addr), enginetest.Open(t, rogue, addr)
	dbRB := enginetest.Open(t, rogueB, addr)

	issue := func(key crypto.PrivKey, db, coll string, expires time.Time) []byte {
		tok, err := accesscontrol.IssueToken(key, accesscontrol.TokenClaims{
			Database: db, Collection: coll, Holder: holder.ID(), Expires: expires,
		})
		require.NoError(t, err)
		return tok
	}
	hour := time.Now().Add(time.Hour)
	cases := []struct {
		name  string
		token []byte
		want  error
	}{
		{"no token", nil, accesscontrol.ErrTokenMissing},
		{"expired", issue(issuer, addr, "", time.Now().Add(-time.Hour)), accesscontrol.ErrTokenExpired},
		{"wrong issuer", issue(other, addr, "", hour), accesscontrol.ErrTokenIssuer},
		{"wrong database", issue(issuer, "/lattice/other/db", "", hour), accesscontrol.ErrTokenDatabase},
		{"wrong collection", issue(issuer, addr, "elsewhere", hour), accesscontrol.ErrTokenCollection},
	}
	ch := dbH.Collection("notes")
	for _, tc := range cases {
		dbH.UseToken(tc.token)
		_, err := ch.InsertOne(ctx, engine.M{"case": tc.name})
		require.ErrorIs(t, err, tc.want, tc.name)
		require.ErrorIs(t, err, accesscontrol.ErrUnauthorized, tc.name)
	}
	n, err := ch.CountDocuments(ctx, nil)
	require.NoError(t, err)
	require.Zero(t, n, "refused writes store nothing")

	// A valid token: the holder's writes replicate.
	dbH.UseToken(issue(issuer, addr, "notes", hour))
	_, err = ch.InsertOne(ctx, engine.M{"_id": "valid"})
	require.NoError(t, err)
	// Rogues without a token write locally (one delta each); nobody else
	// takes it.
	var rogueHeads []cid.Cid
	for i, db := range []*engine.Database{dbR, dbRB} {
		_, err = db.Collection("notes").InsertMany(ctx, []any{engine.M{"_id": fmt.Sprint("rogue-", i)}, engine.M{"_id": fmt.Sprint("rogue-", i, "b")}})
		require.NoError(t, err)
		n := len(rogueHeads)
		for _, h := range engine.HeadsOf(db) {
			if !slices.ContainsFunc(engine.HeadsOf(dbH), h.Equals) {
				rogueHeads = append(rogueHeads, h)
			}
		}
		require.Greater(t, len(rogueHeads), n, "the rogue's delta is its head")
	}
	cv := dbV.Collection("notes")
	settledAmong(t, []string{"valid"}, ch, cv, dbS.Collection("notes"))
	poll.Eventually(t, 20*time.Second, func() error {
		if r := dbV.Stats().Rejected; r < 2 {
			return fmt.Errorf("%d of the rogues' 2 deltas judged", r)
		}
		return nil
	})
	for _, id := range []string{"rogue-0", "rogue-0b", "rogue-1", "rogue-1b"} {
		require.False(t, has(cv, id))
	}
	// The refused deltas' blocks came to the viewer (inline in the
	// announcement, or over bitswap) but never reached its disk, nor any
	// honest peer's.
	for _, h := range rogueHeads {
		for _, e := range []*engine.Engine{viewer, server, holder} {
			require.False(t, engine.StoresBlock(e, h), "a refused block was stored")
		}
	}
	require.Less(t, engine.QuarantinedBytes(viewer), 1<<20)
}

func TestUnregisteredControllerTypeFails(t *testing.T) {
	ctx := context.Background()
	creator := enginetest.NewEngine(t)
	db, err := creator.Create(ctx, "custom", engine.WithAccess(accesscontrol.Config{Type: "ethsig", Params: json.RawMessage(`{}`)}))
	require.ErrorIs(t, err, plugins.ErrUnknownPlugin, "the creator has no ethsig plugin either")
	require.Nil(t, db)

	// A peer whose registry lacks a type cannot open a database naming it.
	withStatic := enginetest.NewEngine(t)
	bare := enginetest.NewEngine(t, engine.WithRegistry(plugins.NewRegistry()))
	enginetest.ConnectAll(t, withStatic, bare)
	db, err = withStatic.Create(ctx, "static-db")
	require.NoError(t, err)
	_, err = bare.Open(ctx, db.Address())
	require.ErrorIs(t, err, plugins.ErrUnknownPlugin)
	require.Contains(t, err.Error(), `"static"`)
}

// A replica that relays an announcement another replica's controller
// refuses (their controller states differ for a while, say a grant or a
// revocation still travelling) is not penalised for it: the refusing
// replica ignores the message rather than scoring it invalid. Here the
// relay runs a permissive controller; the author reaches the judge only
// through it.
func TestRelayOfRefusedAnnouncementIsNotPenalised(t *testing.T) {
	ctx := context.Background()
	judge := enginetest.NewEngine(t)
	relay := enginetest.NewEngine(t, engine.WithRegistry(rogueRegistry(t)))
	author := enginetest.NewEngine(t, engine.WithRegistry(rogueRegistry(t)))
	enginetest.ConnectAll(t, judge, relay)
	enginetest.ConnectAll(t, relay, author)
	dbJ, err := judge.Create(ctx, "judged") // static: only the judge writes
	require.NoError(t, err)
	enginetest.Open(t, relay, dbJ.Address())
	dbA := enginetest.Open(t, author, dbJ.Address())

	// The author's announcements reach the judge only as relayed messages.
	i := 0
	poll.Eventually(t, 30*time.Second, func() error {
		i++
		if _, err := dbA.Collection("c").InsertOne(ctx, engine.M{"_id": fmt.Sprint(i)}); err != nil {
			return err
		}
		if r := dbJ.Stats().Rejected; r < 5 {
			return fmt.Errorf("the judge refused %d relayed announcements", r)
		}
		return nil
	})
	require.Empty(t, judge.Host().Network().ConnsToPeer(author.ID()), "the author reached the judge directly")
	poll.Eventually(t, 10*time.Second, func() error {
		if _, ok := judge.PeerScore(relay.ID()); !ok {
			return fmt.Errorf("no score for the relay yet")
		}
		return nil
	})
	score, _ := judge.PeerScore(relay.ID())
	require.GreaterOrEqual(t, score, 0.0, "the judge penalised the relaying peer")
	n, err := dbJ.Collection("c").CountDocuments(ctx, nil)
	require.NoError(t, err)
	require.Zero(t, n, "the judge merged a refused write")
}
