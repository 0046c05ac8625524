package engine_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/enginetest"
	"github.com/latticedb/lattice/internal/poll"
)

// TestBackdatedWriteOnLaterHistoryIsRefused: a token holder whose token has
// expired dates a write before the expiry, on top of a write another holder
// made after it. Its own engine refuses it, and when a modified peer with
// the holder's key and token sends it anyway, every honest replica refuses
// it: a write may not claim a time more than MaxClockSkew before the writes
// it builds on.
func TestBackdatedWriteOnLaterHistoryIsRefused(t *testing.T) {
	ctx := context.Background()
	issuer, _, err := crypto.GenerateEd25519Key(nil)
	require.NoError(t, err)
	holderKey, _, err := crypto.GenerateEd25519Key(nil)
	require.NoError(t, err)
	holderID, err := peer.IDFromPrivateKey(holderKey)
	require.NoError(t, err)

	start := time.Now()
	expiry := start.Add(time.Hour)
	later := func() time.Time { return time.Now().Add(2 * time.Hour) }        // the other holder, after the expiry
	backdated := func() time.Time { return time.Now().Add(30 * time.Minute) } // before the expiry

	server := enginetest.NewEngine(t)
	holder := enginetest.NewEngine(t, engine.WithIdentity(holderKey), engine.WithClock(backdated))
	other := enginetest.NewEngine(t, engine.WithClock(later))
	viewer := enginetest.NewEngine(t)
	enginetest.ConnectAll(t, server, holder, other, viewer)
	dbS, err := server.Create(ctx, "backdate", engine.WithAccess(accesscontrol.Token(issuer.GetPublic())))
	require.NoError(t, err)
	addr := dbS.Address()
	issue := func(to peer.ID, expires time.Time) []byte {
		tok, err := accesscontrol.IssueToken(issuer, accesscontrol.TokenClaims{Database: addr, Holder: to, Expires: expires})
		require.NoError(t, err)
		return tok
	}
	dbH, dbO, dbV := enginetest.Open(t, holder, addr), enginetest.Open(t, other, addr), enginetest.Open(t, viewer, addr)
	holderToken := issue(holderID, expiry)
	dbH.UseToken(holderToken)
	dbO.UseToken(issue(other.ID(), start.Add(3*time.Hour)))

	// Before anyone wrote past the expiry, the holder's write (dated
	// within its token) is accepted everywhere.
	_, err = dbH.Collection("c").InsertOne(ctx, engine.M{"_id": "early"})
	require.NoError(t, err)
	// The other holder writes, dated after the holder's expiry.
	_, err = dbO.Collection("c").InsertOne(ctx, engine.M{"_id": "late"})
	require.NoError(t, err)
	settledAmong(t, []string{"early", "late"}, dbH.Collection("c"), dbO.Collection("c"), dbV.Collection("c"))

	// The holder's engine refuses to date a write below what it built on.
	_, err = dbH.Collection("c").InsertOne(ctx, engine.M{"_id": "backdated"})
	require.ErrorIs(t, err, accesscontrol.ErrTokenExpired)
	require.ErrorContains(t, err, "builds on writes made at")

	// A modified peer with the holder's key and token sends it anyway.
	rogue := enginetest.NewEngine(t, engine.WithIdentity(holderKey), engine.WithClock(backdated), engine.WithRegistry(rogueRegistry(t)))
	require.NoError(t, holder.Close()) // one engine per identity on the network
	enginetest.ConnectAll(t, rogue, server, other, viewer)
	dbR := enginetest.Open(t, rogue, addr)
	dbR.UseToken(holderToken)
	settledAmong(t, []string{"early", "late"}, dbR.Collection("c"), dbV.Collection("c"))
	rejected := dbV.Stats().Rejected
	_, err = dbR.Collection("c").InsertOne(ctx, engine.M{"_id": "backdated"})
	require.NoError(t, err, "the modified peer's controller allows everything")
	poll.Eventually(t, 30*time.Second, func() error {
		if dbV.Stats().Rejected == rejected {
			return errors.New("the viewer has not judged the backdated delta yet")
		}
		return nil
	})
	for _, c := range []*engine.Collection{dbV.Collection("c"), dbO.Collection("c"), dbS.Collection("c")} {
		require.False(t, has(c, "backdated"), "an honest replica took the backdated write")
	}
	n, err := dbV.Collection("c").CountDocuments(ctx, nil)
	require.NoError(t, err)
	require.EqualValues(t, 2, n, fmt.Sprint("only early and late: ", enginetest.Dump(t, dbV.Collection("c"))))
}
