package accesscontrol_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/latticedb/lattice/accesscontrol"
)

var (
	t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	t1 = t0.Add(24 * time.Hour)
)

func issue(t *testing.T, issuer key, c accesscontrol.TokenClaims) []byte {
	t.Helper()
	b, err := accesscontrol.IssueToken(issuer.priv, c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTokenRoundTrip(t *testing.T) {
	iss, holder := newKey(t), newKey(t)
	want := accesscontrol.TokenClaims{Database: testDB, Collection: "todos", Holder: holder.id, NotBefore: t0, Expires: t1}
	b := issue(t, iss, want)
	if len(b) > accesscontrol.MaxTokenSize {
		t.Fatalf("token is %d bytes", len(b))
	}
	got, err := accesscontrol.ParseToken(b, iss.priv.GetPublic())
	if err != nil {
		t.Fatal(err)
	}
	if got.Database != want.Database || got.Collection != want.Collection || got.Holder != want.Holder ||
		!got.NotBefore.Equal(want.NotBefore) || !got.Expires.Equal(want.Expires) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	// Sub-second bounds never widen the token.
	b = issue(t, iss, accesscontrol.TokenClaims{Database: testDB, Holder: holder.id,
		NotBefore: t0.Add(300 * time.Millisecond), Expires: t1.Add(700 * time.Millisecond)})
	got, err = accesscontrol.ParseToken(b, iss.priv.GetPublic())
	if err != nil {
		t.Fatal(err)
	}
	if !got.NotBefore.Equal(t0.Add(time.Second)) || !got.Expires.Equal(t1) {
		t.Errorf("rounding: got [%v, %v]", got.NotBefore, got.Expires)
	}
	// No lower bound.
	b = issue(t, iss, accesscontrol.TokenClaims{Database: testDB, Holder: holder.id, Expires: t1})
	if got, err = accesscontrol.ParseToken(b, iss.priv.GetPublic()); err != nil || !got.NotBefore.IsZero() {
		t.Errorf("zero NotBefore: %v, %v", got.NotBefore, err)
	}
}

func TestIssueTokenRefuses(t *testing.T) {
	iss, holder := newKey(t), newKey(t)
	for _, tc := range []struct {
		name string
		priv crypto.PrivKey
		c    accesscontrol.TokenClaims
	}{
		{"nil key", nil, accesscontrol.TokenClaims{Database: testDB, Holder: holder.id, Expires: t1}},
		{"no database", iss.priv, accesscontrol.TokenClaims{Holder: holder.id, Expires: t1}},
		{"no holder", iss.priv, accesscontrol.TokenClaims{Database: testDB, Expires: t1}},
		{"no expiry", iss.priv, accesscontrol.TokenClaims{Database: testDB, Holder: holder.id}},
		{"inverted", iss.priv, accesscontrol.TokenClaims{Database: testDB, Holder: holder.id, NotBefore: t1, Expires: t0}},
		{"too big", iss.priv, accesscontrol.TokenClaims{Database: strings.Repeat("d", 5000), Holder: holder.id, Expires: t1}},
	} {
		if _, err := accesscontrol.IssueToken(tc.priv, tc.c); err == nil {
			t.Errorf("%s: issued", tc.name)
		}
	}
}

func TestTokenController(t *testing.T) {
	iss, other, holder, stranger := newKey(t), newKey(t), newKey(t), newKey(t)
	c, err := accesscontrol.NewToken(accesscontrol.Token(iss.priv.GetPublic()).Params, accesscontrol.Env{Database: testDB})
	if err != nil {
		t.Fatal(err)
	}
	claims := func(mod func(*accesscontrol.TokenClaims)) accesscontrol.TokenClaims {
		c := accesscontrol.TokenClaims{Database: testDB, Collection: "todos", Holder: holder.id, NotBefore: t0, Expires: t1}
		if mod != nil {
			mod(&c)
		}
		return c
	}
	valid := issue(t, iss, claims(nil))
	allColls := issue(t, iss, claims(func(c *accesscontrol.TokenClaims) { c.Collection = "" }))
	tampered := bytes.Clone(valid)
	tampered[bytes.Index(tampered, []byte("TodoList"))] ^= 1 // a claim, not the key
	mid := t0.Add(time.Hour)
	w := func(mod func(*accesscontrol.Write)) accesscontrol.Write {
		w := accesscontrol.Write{Database: testDB, Author: holder.id, Collections: []string{"todos"}, Token: valid, Time: mid}
		if mod != nil {
			mod(&w)
		}
		return w
	}
	for _, tc := range []struct {
		name string
		w    accesscontrol.Write
		want error // nil = allowed
		msg  string
	}{
		{"valid", w(nil), nil, ""},
		{"valid at NotBefore", w(func(w *accesscontrol.Write) { w.Time = t0 }), nil, ""},
		{"valid at Expires", w(func(w *accesscontrol.Write) { w.Time = t1 }), nil, ""},
		{"all collections", w(func(w *accesscontrol.Write) { w.Token = allColls; w.Collections = []string{"a", "b"} }), nil, ""},
		{"all collections, none named", w(func(w *accesscontrol.Write) { w.Token = allColls; w.Collections = nil }), nil, ""},
		{"expired", w(func(w *accesscontrol.Write) { w.Time = t1.Add(time.Second) }), accesscontrol.ErrTokenExpired, "expired at"},
		{"not yet valid", w(func(w *accesscontrol.Write) { w.Time = t0.Add(-time.Second) }), accesscontrol.ErrTokenNotYetValid, "valid from"},
		{"no time", w(func(w *accesscontrol.Write) { w.Time = time.Time{} }), accesscontrol.ErrUnauthorized, "no signed time"},
		{"wrong issuer", w(func(w *accesscontrol.Write) { w.Token = issue(t, other, claims(nil)) }), accesscontrol.ErrTokenIssuer, "signed by " + other.id.String()},
		{"tampered", w(func(w *accesscontrol.Write) { w.Token = tampered }), accesscontrol.ErrTokenIssuer, "does not verify"},
		{"wrong database", w(func(w *accesscontrol.Write) {
			w.Token = issue(t, iss, claims(func(c *accesscontrol.TokenClaims) { c.Database = "/lattice/x/other" }))
		}), accesscontrol.ErrTokenDatabase, "/lattice/x/other"},
		{"write to another database", w(func(w *accesscontrol.Write) { w.Database = "/lattice/x/other" }), accesscontrol.ErrUnauthorized, "judged by"},
		{"wrong holder", w(func(w *accesscontrol.Write) { w.Author = stranger.id }), accesscontrol.ErrTokenHolder, stranger.id.String()},
		{"wrong collection", w(func(w *accesscontrol.Write) { w.Collections = []string{"todos", "users"} }), accesscontrol.ErrTokenCollection, `"users"`},
		{"scoped token, no collection", w(func(w *accesscontrol.Write) { w.Collections = nil }), accesscontrol.ErrTokenCollection, "names no collection"},
		{"missing", w(func(w *accesscontrol.Write) { w.Token = nil }), accesscontrol.ErrTokenMissing, ""},
		{"garbage", w(func(w *accesscontrol.Write) { w.Token = []byte("hello") }), accesscontrol.ErrBadToken, "not a Lattice token"},
		{"truncated", w(func(w *accesscontrol.Write) { w.Token = valid[:len(valid)-3] }), accesscontrol.ErrBadToken, "truncated"},
		{"trailing", w(func(w *accesscontrol.Write) { w.Token = append(bytes.Clone(valid), 0) }), accesscontrol.ErrBadToken, "trailing"},
		{"oversized", w(func(w *accesscontrol.Write) { w.Token = make([]byte, 5000) }), accesscontrol.ErrBadToken, "limit"},
		{"ACL", w(func(w *accesscontrol.Write) { w.ACL = true }), accesscontrol.ErrUnauthorized, "access-control entries"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for range 2 { // second pass hits the verified-token cache
				err := canWrite(c, tc.w)
				if tc.want == nil {
					if err != nil {
						t.Fatalf("refused: %v", err)
					}
					continue
				}
				if !errors.Is(err, tc.want) || !errors.Is(err, accesscontrol.ErrUnauthorized) {
					t.Fatalf("error %v, want %v (and ErrUnauthorized)", err, tc.want)
				}
				if !strings.Contains(err.Error(), tc.msg) {
					t.Fatalf("error %q does not mention %q", err, tc.msg)
				}
			}
		})
	}
	if !c.(*accesscontrol.TokenController).Issuer().Equals(iss.priv.GetPublic()) {
		t.Error("Issuer()")
	}
}

func TestParseTokenNilIssuer(t *testing.T) {
	if _, err := accesscontrol.ParseToken([]byte("LTK\x01"), nil); !errors.Is(err, accesscontrol.ErrBadConfig) {
		t.Fatalf("got %v", err)
	}
}

func TestTokenSecp256k1Issuer(t *testing.T) {
	priv, pub, err := crypto.GenerateSecp256k1Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	holder := newKey(t)
	b, err := accesscontrol.IssueToken(priv, accesscontrol.TokenClaims{Database: testDB, Holder: holder.id, Expires: t1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := accesscontrol.ParseToken(b, pub); err != nil {
		t.Fatal(err)
	}
}

// TestEffectiveTime: a write is judged at its claimed time unless it claims
// more than MaxClockSkew before the writes it builds on.
func TestEffectiveTime(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	cases := []struct {
		name        string
		time, after time.Time
		want        time.Time
	}{
		{"nothing below", now, time.Time{}, now},
		{"builds on older writes", now, now.Add(-time.Hour), now},
		{"clock a little behind", now, now.Add(accesscontrol.MaxClockSkew), now},
		{"backdated", now, now.Add(time.Hour), now.Add(time.Hour - accesscontrol.MaxClockSkew)},
	}
	for _, tc := range cases {
		got := accesscontrol.EffectiveTime(accesscontrol.Write{Time: tc.time, After: tc.after})
		if !got.Equal(tc.want) {
			t.Errorf("%s: EffectiveTime = %v, want %v", tc.name, got, tc.want)
		}
	}
}
