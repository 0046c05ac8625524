package ethsig_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/accesscontrol/accesscontroltest"
	"github.com/latticedb/lattice/examples/ethsig"
	"github.com/latticedb/lattice/plugins"
)

func TestConformance(t *testing.T) {
	accesscontroltest.Run(t, accesscontroltest.Harness{
		KeyType: crypto.Secp256k1,
		New: func(t *testing.T, f *accesscontroltest.Fixture) accesscontrol.Controller {
			// f.Issuer's key is the wallet; it signs for the allowed peer.
			addr, err := ethsig.Address(f.Issuer.Key.GetPublic())
			if err != nil {
				t.Fatal(err)
			}
			if f.Allowed.Token, err = ethsig.Sign(f.Issuer.Key, f.Database, f.Allowed.ID); err != nil {
				t.Fatal(err)
			}
			r := plugins.NewDefaultRegistry()
			if err := ethsig.Register(r); err != nil {
				t.Fatal(err)
			}
			c, err := r.NewAccess(ethsig.Config(addr), accesscontrol.Env{Database: f.Database})
			if err != nil {
				t.Fatal(err)
			}
			return c
		},
	})
}

func wallet(t *testing.T) crypto.PrivKey {
	t.Helper()
	k, _, err := crypto.GenerateSecp256k1Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestCanWrite(t *testing.T) {
	const db = "/lattice/bafyvotes/Votes"
	good, other := wallet(t), wallet(t)
	_, pub, _ := crypto.GenerateEd25519Key(nil)
	alice, _ := peer.IDFromPublicKey(pub)
	_, pub2, _ := crypto.GenerateEd25519Key(nil)
	bob, _ := peer.IDFromPublicKey(pub2)
	addr, err := ethsig.Address(good.GetPublic())
	if err != nil {
		t.Fatal(err)
	}
	c, err := ethsig.New(ethsig.Config(strings.ToUpper(addr)).Params, accesscontrol.Env{Database: db})
	if err != nil {
		t.Fatal(err)
	}
	sign := func(k crypto.PrivKey, db string, holder peer.ID) []byte {
		b, err := ethsig.Sign(k, db, holder)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tok := sign(good, db, alice)
	for _, tc := range []struct {
		name string
		w    accesscontrol.Write
		msg  string // "" = allowed
	}{
		{"valid", accesscontrol.Write{Database: db, Author: alice, Token: tok}, ""},
		{"other holder", accesscontrol.Write{Database: db, Author: bob, Token: tok}, "does not cover"},
		{"other database's signature", accesscontrol.Write{Database: db, Author: alice, Token: sign(good, "/lattice/x/y", alice)}, "does not cover"},
		{"write to another database", accesscontrol.Write{Database: "/lattice/x/y", Author: alice, Token: tok}, "another database"},
		{"address not allowed", accesscontrol.Write{Database: db, Author: alice, Token: sign(other, db, alice)}, "not allowed"},
		{"no token", accesscontrol.Write{Database: db, Author: alice}, "no wallet signature"},
		{"short token", accesscontrol.Write{Database: db, Author: alice, Token: tok[:33]}, "malformed token"},
		{"bad key", accesscontrol.Write{Database: db, Author: alice, Token: append([]byte{9}, tok[1:]...)}, "malformed wallet key"},
		{"ACL", accesscontrol.Write{Database: db, Author: alice, Token: tok, ACL: true}, "access-control"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := c.CanWrite(context.Background(), tc.w)
			if tc.msg == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, accesscontrol.ErrUnauthorized) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %v, want ErrUnauthorized mentioning %q", err, tc.msg)
			}
		})
	}
}

func TestConfigAndParams(t *testing.T) {
	a := "0x" + strings.Repeat("ab", 20)
	if !ethsig.Config(strings.ToUpper(a[2:])).Equal(ethsig.Config(strings.ToUpper(a[2:]), strings.ToUpper(a[2:]))) {
		t.Error("Config not canonical")
	}
	if !ethsig.Config("0X" + strings.Repeat("AB", 20)).Equal(ethsig.Config(strings.ToLower("0X" + strings.Repeat("AB", 20)))) {
		t.Error("Config not case-insensitive")
	}
	for _, p := range []string{`{"addresses":[]}`, `{"addresses":["0x12"]}`, `{"addresses":["0x` + strings.Repeat("zz", 20) + `"]}`, `nope`} {
		if _, err := ethsig.New([]byte(p), accesscontrol.Env{}); !errors.Is(err, accesscontrol.ErrBadConfig) {
			t.Errorf("New(%s) = %v", p, err)
		}
	}
	if _, err := ethsig.New(ethsig.Config(a).Params, accesscontrol.Env{}); err != nil {
		t.Error(err)
	}
	ed, _, _ := crypto.GenerateEd25519Key(nil)
	if _, err := ethsig.Address(ed.GetPublic()); err == nil {
		t.Error("Address of an Ed25519 key")
	}
	if _, err := ethsig.Sign(ed, "db", "x"); err == nil {
		t.Error("Sign with an Ed25519 key")
	}
	r := plugins.NewRegistry()
	if err := ethsig.Register(r); err != nil {
		t.Fatal(err)
	}
	if err := ethsig.Register(r); !errors.Is(err, plugins.ErrDuplicatePlugin) {
		t.Errorf("second Register: %v", err)
	}
}

// TestAddressOfGenerator pins the address derivation on a known point: the
// generator G (private key 1), whose coordinates are published in SEC 2.
func TestAddressOfGenerator(t *testing.T) {
	one := bytes.Repeat([]byte{0}, 32)
	one[31] = 1
	k, err := crypto.UnmarshalSecp256k1PrivateKey(one)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ethsig.Address(k.GetPublic())
	if err != nil {
		t.Fatal(err)
	}
	// "0x" + hex(sha256(Gx || Gy)[12:]), computed independently.
	const want = "0xb46a7a1a23f3897cc83a94521a96da5c23bc58db"
	if got != want {
		t.Fatalf("address of G = %s, want %s", got, want)
	}
}
