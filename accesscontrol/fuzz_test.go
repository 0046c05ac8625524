package accesscontrol_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/latticedb/lattice/accesscontrol"
)

// fixedKey returns a deterministic Ed25519 key, so the seed corpus in
// testdata/fuzz holds entries and tokens that verify.
func fixedKey(t testing.TB, b byte) key {
	t.Helper()
	priv, _, err := crypto.GenerateEd25519Key(bytes.NewReader(bytes.Repeat([]byte{b}, 64)))
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return key{priv, id}
}

func FuzzParseToken(f *testing.F) {
	iss, holder := fixedKey(f, 1), fixedKey(f, 2)
	tok, err := accesscontrol.IssueToken(iss.priv, accesscontrol.TokenClaims{
		Database: testDB, Collection: "todos", Holder: holder.id, NotBefore: t0, Expires: t1,
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tok)
	f.Add([]byte("LTK\x01"))
	f.Add([]byte{})
	ctrl, err := accesscontrol.NewToken(accesscontrol.Token(iss.priv.GetPublic()).Params, accesscontrol.Env{Database: testDB})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := accesscontrol.ParseToken(b, iss.priv.GetPublic())
		if err != nil {
			if !errors.Is(err, accesscontrol.ErrBadToken) && !errors.Is(err, accesscontrol.ErrTokenIssuer) {
				t.Fatalf("error %v wraps neither ErrBadToken nor ErrTokenIssuer", err)
			}
		} else if c.Holder == "" && c.Database == "" {
			t.Fatalf("verified token with no claims: %x", b)
		}
		w := accesscontrol.Write{Database: testDB, Author: holder.id, Collections: []string{"todos"}, Token: b, Time: t0.Add(time.Hour)}
		if err := canWrite(ctrl, w); err != nil && !errors.Is(err, accesscontrol.ErrUnauthorized) {
			t.Fatalf("CanWrite error %v does not wrap ErrUnauthorized", err)
		}
	})
}

func FuzzDynamicApply(f *testing.F) {
	founder, w := fixedKey(f, 1), fixedKey(f, 2)
	f.Add(grant(f, founder, w.id, writer, 1))
	f.Add(revoke(f, founder, w.id, admin, 7))
	f.Add([]byte(`{"op":"grant"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c := newDynamic(t, founder)
		err := c.Apply(b)
		if err != nil {
			if !errors.Is(err, accesscontrol.ErrInvalidEntry) {
				t.Fatalf("error %v does not wrap ErrInvalidEntry", err)
			}
			if len(c.Entries()) != 0 {
				t.Fatal("refused entry was kept")
			}
			return
		}
		// A valid entry is held once, canonically, and re-applies cleanly.
		held := c.Entries()
		if len(held) != 1 {
			t.Fatalf("holding %d entries", len(held))
		}
		if err := c.Apply(held[0]); err != nil {
			t.Fatalf("canonical form refused: %v", err)
		}
		if err := c.Apply(b); err != nil || len(c.Entries()) != 1 {
			t.Fatalf("re-apply: %v, %d entries", err, len(c.Entries()))
		}
		_ = can(c, w.id, false)
	})
}
