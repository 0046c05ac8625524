package accesscontrol_test

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/accesscontrol"
)

const (
	writer = accesscontrol.RoleWriter
	admin  = accesscontrol.RoleAdmin
)

func newDynamic(t testing.TB, founders ...key) *accesscontrol.DynamicController {
	t.Helper()
	ids := make([]peer.ID, len(founders))
	for i, f := range founders {
		ids[i] = f.id
	}
	c, err := accesscontrol.NewDynamic(accesscontrol.Dynamic(ids...).Params, accesscontrol.Env{Database: testDB})
	if err != nil {
		t.Fatal(err)
	}
	return c.(*accesscontrol.DynamicController)
}

func grant(t testing.TB, by key, target peer.ID, role accesscontrol.Role, lamport uint64) []byte {
	t.Helper()
	b, err := accesscontrol.NewGrant(by.priv, testDB, target, role, lamport)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func revoke(t testing.TB, by key, target peer.ID, role accesscontrol.Role, lamport uint64) []byte {
	t.Helper()
	b, err := accesscontrol.NewRevoke(by.priv, testDB, target, role, lamport)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// signed builds an entry with arbitrary fields signed by priv.
func signed(t testing.TB, priv crypto.PrivKey, e accesscontrol.Entry) []byte {
	t.Helper()
	sig, err := priv.Sign(e.SigningBytes())
	if err != nil {
		t.Fatal(err)
	}
	e.Sig = sig
	b, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// can reports whether id may write (acl=false) or administer (acl=true).
func can(c accesscontrol.Controller, id peer.ID, acl bool) bool {
	return canWrite(c, accesscontrol.Write{Database: testDB, Author: id, ACL: acl}) == nil
}

func TestDynamicScenarios(t *testing.T) {
	k := newKeys(t, 5)
	f, a, b, w, x := k[0], k[1], k[2], k[3], k[4]
	type check struct {
		who      key
		acl, yes bool
	}
	for _, tc := range []struct {
		name    string
		entries func() [][]byte
		checks  []check
	}{
		{"founder writes and administers", func() [][]byte { return nil },
			[]check{{f, false, true}, {f, true, true}, {w, false, false}}},
		{"grant writer", func() [][]byte { return [][]byte{grant(t, f, w.id, writer, 1)} },
			[]check{{w, false, true}, {w, true, false}}},
		{"grant then revoke", func() [][]byte {
			return [][]byte{grant(t, f, w.id, writer, 1), revoke(t, f, w.id, writer, 2)}
		}, []check{{w, false, false}}},
		{"re-grant after revoke", func() [][]byte {
			return [][]byte{grant(t, f, w.id, writer, 1), revoke(t, f, w.id, writer, 2), grant(t, f, w.id, writer, 3)}
		}, []check{{w, false, true}}},
		{"revoke beats grant at equal lamport", func() [][]byte {
			return [][]byte{grant(t, f, a.id, admin, 1), grant(t, a, w.id, writer, 2), revoke(t, f, w.id, writer, 2)}
		}, []check{{w, false, false}}},
		{"admin chain", func() [][]byte {
			return [][]byte{grant(t, f, a.id, admin, 1), grant(t, a, b.id, admin, 2), grant(t, b, w.id, writer, 3)}
		}, []check{{a, true, true}, {b, true, true}, {b, false, true}, {w, false, true}}},
		{"revoked admin's later entries have no effect", func() [][]byte {
			return [][]byte{
				grant(t, f, a.id, admin, 1), grant(t, a, b.id, writer, 2),
				revoke(t, f, a.id, admin, 3), grant(t, a, x.id, writer, 4), revoke(t, a, b.id, writer, 5),
			}
		}, []check{{a, false, false}, {a, true, false}, {b, false, true}, {x, false, false}}},
		{"revoked admin at equal lamport", func() [][]byte {
			return [][]byte{grant(t, f, a.id, admin, 1), revoke(t, f, a.id, admin, 2), grant(t, a, x.id, writer, 2)}
		}, []check{{x, false, false}}},
		{"entries of a non-admin are held without effect", func() [][]byte {
			return [][]byte{grant(t, x, w.id, writer, 1), grant(t, x, x.id, admin, 2)}
		}, []check{{w, false, false}, {x, true, false}}},
		{"founders cannot be revoked", func() [][]byte {
			return [][]byte{grant(t, f, a.id, admin, 1), revoke(t, a, f.id, admin, 2), revoke(t, f, f.id, admin, 3)}
		}, []check{{f, true, true}, {f, false, true}}},
		{"admin may write without writer role", func() [][]byte {
			return [][]byte{grant(t, f, a.id, admin, 1), revoke(t, f, a.id, writer, 2)}
		}, []check{{a, false, true}}},
		{"admin resigns", func() [][]byte {
			return [][]byte{grant(t, f, a.id, admin, 1), revoke(t, a, a.id, admin, 2)}
		}, []check{{a, true, false}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			entries := tc.entries()
			// In order, reversed, and each twice: all must agree.
			for _, order := range [][][]byte{entries, reversed(entries), append(slices.Clone(entries), entries...)} {
				c := newDynamic(t, f)
				for _, e := range order {
					if err := c.Apply(e); err != nil {
						t.Fatal(err)
					}
				}
				for _, ch := range tc.checks {
					if got := can(c, ch.who.id, ch.acl); got != ch.yes {
						t.Errorf("peer %s acl=%v: allowed=%v, want %v (admins %v, writers %v)",
							ch.who.id.ShortString(), ch.acl, got, ch.yes, c.Admins(), c.Writers())
					}
				}
			}
		})
	}
}

func reversed(s [][]byte) [][]byte {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}

func TestDynamicRefusesInvalidEntries(t *testing.T) {
	f, w, mallory := newKey(t), newKey(t), newKey(t)
	ok := accesscontrol.Entry{Op: accesscontrol.OpGrant, Role: writer, Target: w.id, Issuer: f.id, Lamport: 1, Database: testDB}
	mod := func(m func(*accesscontrol.Entry)) accesscontrol.Entry { e := ok; m(&e); return e }
	good := grant(t, f, w.id, writer, 1)
	rsaLike := peer.ID("\x12\x20" + strings.Repeat("x", 32))
	for _, tc := range []struct {
		name  string
		entry []byte
		want  string
	}{
		{"forged: issuer's name, mallory's key", signed(t, mallory.priv, ok), "does not verify"},
		{"tampered target", []byte(strings.Replace(string(good), w.id.String(), mallory.id.String(), 1)), "does not verify"},
		{"tampered lamport", []byte(strings.Replace(string(good), `"lamport":1`, `"lamport":2`, 1)), "does not verify"},
		{"another database", grantFor(t, f, "/lattice/bafyother/x", w.id), "entry for database"},
		{"unknown op", signed(t, f.priv, mod(func(e *accesscontrol.Entry) { e.Op = "promote" })), "unknown op"},
		{"unknown role", signed(t, f.priv, mod(func(e *accesscontrol.Entry) { e.Role = "owner" })), "unknown role"},
		{"lamport zero", signed(t, f.priv, mod(func(e *accesscontrol.Entry) { e.Lamport = 0 })), "lamport"},
		{"lamport too large", signed(t, f.priv, mod(func(e *accesscontrol.Entry) { e.Lamport = accesscontrol.MaxLamport + 1 })), "lamport"},
		{"issuer without key", signed(t, f.priv, mod(func(e *accesscontrol.Entry) { e.Issuer = rsaLike })), "embed a public key"},
		{"unknown field", []byte(strings.Replace(string(good), `{`, `{"extra":1,`, 1)), "unknown field"},
		{"trailing data", append(append([]byte(nil), good...), `{}`...), "trailing"},
		{"oversized", []byte(`{"db":"` + strings.Repeat("x", 5000) + `"}`), "limit"},
		{"not JSON", []byte("\x00\x01"), "decode"},
		{"empty", nil, "decode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newDynamic(t, f)
			err := c.Apply(tc.entry)
			if !errors.Is(err, accesscontrol.ErrInvalidEntry) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Apply = %v, want ErrInvalidEntry mentioning %q", err, tc.want)
			}
			if len(c.Entries()) != 0 || can(c, w.id, false) || c.NextLamport() != 1 {
				t.Fatal("invalid entry changed the state")
			}
		})
	}
}

func grantFor(t *testing.T, by key, db string, target peer.ID) []byte {
	t.Helper()
	b, err := accesscontrol.NewGrant(by.priv, db, target, writer, 1)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDynamicEntriesAndLamport(t *testing.T) {
	f, w := newKey(t), newKey(t)
	c := newDynamic(t, f)
	if c.NextLamport() != 1 {
		t.Fatalf("NextLamport on empty = %d", c.NextLamport())
	}
	g, err := c.Grant(f.priv, w.id, writer)
	if err != nil {
		t.Fatal(err)
	}
	if can(c, w.id, false) {
		t.Fatal("Grant must not apply by itself")
	}
	if err := c.Apply(g); err != nil {
		t.Fatal(err)
	}
	// A different JSON spelling of the same entry is the same entry.
	respelled := []byte(strings.Replace(string(g), `{"op":`, "{ \"op\" :", 1))
	if err := c.Apply(respelled); err != nil {
		t.Fatal(err)
	}
	if n := len(c.Entries()); n != 1 {
		t.Fatalf("holding %d entries, want 1", n)
	}
	if string(c.Entries()[0]) != string(g) {
		t.Errorf("Entries() not canonical: %s", c.Entries()[0])
	}
	r, err := c.Revoke(f.priv, w.id, writer)
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := accesscontrol.ParseEntry(r); e.Lamport != 2 || e.Op != accesscontrol.OpRevoke || e.String() == "" {
		t.Errorf("revoke entry %+v", e)
	}
	if err := c.Apply(r); err != nil {
		t.Fatal(err)
	}
	if c.NextLamport() != 3 || can(c, w.id, false) {
		t.Errorf("after revoke: NextLamport %d, can write %v", c.NextLamport(), can(c, w.id, false))
	}
	if got := c.Admins(); !slices.Equal(got, []peer.ID{f.id}) || !c.IsFounder(f.id) || c.IsFounder(w.id) {
		t.Errorf("Admins() = %v", got)
	}
	if err := canWrite(c, accesscontrol.Write{Database: "/lattice/x/other", Author: f.id}); !errors.Is(err, accesscontrol.ErrUnauthorized) {
		t.Errorf("write for another database: %v", err)
	}
	if _, err := accesscontrol.NewGrant(nil, testDB, w.id, writer, 1); err == nil {
		t.Error("NewGrant with nil key")
	}
	rsa, _, err := crypto.GenerateRSAKeyPair(2048, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := accesscontrol.NewGrant(rsa, testDB, w.id, writer, 1); err == nil {
		t.Error("NewGrant with an RSA key, whose peer ID hides it")
	}
}

// TestDynamicOrderIndependence replays random entry sets in random orders
// and checks every order yields the same state. Replay a failure with the
// logged seed.
func TestDynamicOrderIndependence(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	keys := newKeys(t, 6)
	founder := keys[0]
	rounds := 40
	if testing.Short() {
		rounds = 10
	}
	for round := range rounds {
		var entries [][]byte
		for range 5 + rng.IntN(25) {
			by := keys[rng.IntN(len(keys))]
			target := keys[rng.IntN(len(keys))].id
			role := []accesscontrol.Role{writer, admin}[rng.IntN(2)]
			lamport := 1 + rng.Uint64N(8)
			if rng.IntN(3) == 0 {
				entries = append(entries, revoke(t, by, target, role, lamport))
			} else {
				entries = append(entries, grant(t, by, target, role, lamport))
			}
		}
		ref := newDynamic(t, founder)
		for _, e := range entries {
			if err := ref.Apply(e); err != nil {
				t.Fatal(err)
			}
		}
		wantA, wantW, wantE := ref.Admins(), ref.Writers(), ref.Entries()
		for range 5 {
			order := slices.Clone(entries)
			order = append(order, entries[:rng.IntN(len(entries))]...)
			rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			c := newDynamic(t, founder)
			for i, e := range order {
				if err := c.Apply(e); err != nil {
					t.Fatal(err)
				}
				if i%7 == 0 {
					_ = can(c, founder.id, false) // interleave reads with stale/incremental updates
				}
			}
			if a, w := c.Admins(), c.Writers(); !slices.Equal(a, wantA) || !slices.Equal(w, wantW) {
				t.Fatalf("seed %d round %d: order changed the state: admins %v/%v writers %v/%v", seed, round, a, wantA, w, wantW)
			}
			if !slices.EqualFunc(c.Entries(), wantE, func(a, b []byte) bool { return string(a) == string(b) }) {
				t.Fatalf("seed %d round %d: order changed Entries()", seed, round)
			}
		}
	}
}

func BenchmarkDynamicCanWrite(b *testing.B) {
	f, w := newKey(b), newKey(b)
	c := newDynamic(b, f)
	for i := range 1000 {
		_ = c.Apply(grant(b, f, newKey(b).id, writer, uint64(i+1)))
	}
	_ = c.Apply(grant(b, f, w.id, writer, 1001))
	wr := accesscontrol.Write{Database: testDB, Author: w.id}
	b.ResetTimer()
	for b.Loop() {
		if err := canWrite(c, wr); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDynamicCatchUp(b *testing.B) {
	f := newKey(b)
	var entries [][]byte
	for i := range 2000 {
		entries = append(entries, grant(b, f, newKey(b).id, writer, uint64(2000-i))) // newest first
	}
	for b.Loop() {
		c := newDynamic(b, f)
		for _, e := range entries {
			_ = c.Apply(e)
		}
		_ = can(c, f.id, false)
	}
}

// TestDynamicAdminAt: AdminAt answers whether a peer may sign an
// admin-only entry (a schema change) at a Lamport time: after every entry
// below it and the revocations at it; founders always may. Observe raises
// NextLamport without changing roles; Generation moves with new entries.
func TestDynamicAdminAt(t *testing.T) {
	ks := newKeys(t, 3)
	founder, b, c := ks[0], ks[1], ks[2]
	d := newDynamic(t, founder)
	gen := d.Generation()
	apply := func(b []byte, err error) {
		t.Helper()
		require.NoError(t, err)
		require.NoError(t, d.Apply(b))
	}
	apply(accesscontrol.NewGrant(founder.priv, testDB, b.id, accesscontrol.RoleAdmin, 3))
	apply(accesscontrol.NewRevoke(founder.priv, testDB, b.id, accesscontrol.RoleAdmin, 7))
	apply(accesscontrol.NewGrant(b.priv, testDB, c.id, accesscontrol.RoleAdmin, 8)) // b no longer an admin: void
	require.NotEqual(t, gen, d.Generation())
	for _, cse := range []struct {
		p    key
		l    uint64
		want bool
	}{
		{founder, 1, true}, {founder, 1 << 40, true},
		{b, 3, false}, {b, 4, true}, {b, 6, true}, {b, 7, false}, {b, 9, false},
		{c, 9, false},
	} {
		require.Equal(t, cse.want, d.AdminAt(cse.p.id, cse.l), "%s at %d", cse.p.id, cse.l)
	}
	require.Equal(t, uint64(9), d.NextLamport())
	d.Observe(20)
	require.Equal(t, uint64(21), d.NextLamport())
	require.False(t, d.AdminAt(c.id, 30), "Observe changed a role")
}
