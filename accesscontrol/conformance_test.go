package accesscontrol_test

import (
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/accesscontrol/accesscontroltest"
)

func env(f *accesscontroltest.Fixture) accesscontrol.Env {
	return accesscontrol.Env{Database: f.Database, Self: f.Allowed.ID}
}

func TestConformanceOpen(t *testing.T) {
	accesscontroltest.Run(t, accesscontroltest.Harness{
		DeniesNobody: true,
		New: func(t *testing.T, f *accesscontroltest.Fixture) accesscontrol.Controller {
			c, err := accesscontrol.NewOpen(accesscontrol.Open().Params, env(f))
			if err != nil {
				t.Fatal(err)
			}
			return c
		},
	})
}

func TestConformanceAllowAll(t *testing.T) {
	accesscontroltest.Run(t, accesscontroltest.Harness{
		DeniesNobody: true,
		New: func(*testing.T, *accesscontroltest.Fixture) accesscontrol.Controller {
			return accesscontrol.AllowAll()
		},
	})
}

func TestConformanceStatic(t *testing.T) {
	accesscontroltest.Run(t, accesscontroltest.Harness{
		New: func(t *testing.T, f *accesscontroltest.Fixture) accesscontrol.Controller {
			c, err := accesscontrol.NewStatic(accesscontrol.Static(f.Allowed.ID, f.Issuer.ID).Params, env(f))
			if err != nil {
				t.Fatal(err)
			}
			return c
		},
	})
}

func TestConformanceToken(t *testing.T) {
	accesscontroltest.Run(t, accesscontroltest.Harness{
		New: func(t *testing.T, f *accesscontroltest.Fixture) accesscontrol.Controller {
			tok, err := accesscontrol.IssueToken(f.Issuer.Key, accesscontrol.TokenClaims{
				Database: f.Database, Collection: f.Collection, Holder: f.Allowed.ID,
				NotBefore: f.Time.Add(-time.Hour), Expires: f.Time.Add(time.Hour),
			})
			if err != nil {
				t.Fatal(err)
			}
			f.Allowed.Token = tok
			c, err := accesscontrol.NewToken(accesscontrol.Token(f.Issuer.Key.GetPublic()).Params, env(f))
			if err != nil {
				t.Fatal(err)
			}
			return c
		},
	})
}

func TestConformanceDynamic(t *testing.T) {
	accesscontroltest.Run(t, accesscontroltest.Harness{
		New: func(t *testing.T, f *accesscontroltest.Fixture) accesscontrol.Controller {
			c, err := accesscontrol.NewDynamic(accesscontrol.Dynamic(f.Issuer.ID).Params, env(f))
			if err != nil {
				t.Fatal(err)
			}
			g, err := accesscontrol.NewGrant(f.Issuer.Key, f.Database, f.Allowed.ID, accesscontrol.RoleWriter, 1)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.(accesscontrol.Replicated).Apply(g); err != nil {
				t.Fatal(err)
			}
			return c
		},
		Entries: func(t *testing.T, f *accesscontroltest.Fixture) [][]byte {
			// A delegated admin who grants, is revoked, then grants again
			// (ineffective); Allowed revoked and re-granted; Denied granted
			// and revoked at the same Lamport time (revoke wins).
			admin := newKey(t)
			w := newKey(t)
			var out [][]byte
			add := func(b []byte, err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, b)
			}
			db := f.Database
			add(accesscontrol.NewGrant(f.Issuer.Key, db, admin.id, accesscontrol.RoleAdmin, 2))
			add(accesscontrol.NewGrant(admin.priv, db, w.id, accesscontrol.RoleWriter, 3))
			add(accesscontrol.NewRevoke(admin.priv, db, f.Allowed.ID, accesscontrol.RoleWriter, 4))
			add(accesscontrol.NewGrant(f.Issuer.Key, db, f.Allowed.ID, accesscontrol.RoleWriter, 5))
			add(accesscontrol.NewGrant(admin.priv, db, f.Denied.ID, accesscontrol.RoleWriter, 6))
			add(accesscontrol.NewRevoke(f.Issuer.Key, db, f.Denied.ID, accesscontrol.RoleWriter, 6))
			add(accesscontrol.NewRevoke(f.Issuer.Key, db, admin.id, accesscontrol.RoleAdmin, 7))
			add(accesscontrol.NewGrant(admin.priv, db, f.Denied.ID, accesscontrol.RoleWriter, 8))
			add(accesscontrol.NewRevoke(admin.priv, db, f.Issuer.ID, accesscontrol.RoleAdmin, 9))
			return out
		},
	})
}

// TestConformanceStaticReaders: a static controller with a reader list;
// the denied author is one of its readers, which still may not write.
func TestConformanceStaticReaders(t *testing.T) {
	accesscontroltest.Run(t, accesscontroltest.Harness{
		New: func(t *testing.T, f *accesscontroltest.Fixture) accesscontrol.Controller {
			cfg := accesscontrol.StaticReaders([]peer.ID{f.Allowed.ID, f.Issuer.ID}, []peer.ID{f.Denied.ID})
			c, err := accesscontrol.NewStatic(cfg.Params, env(f))
			if err != nil {
				t.Fatal(err)
			}
			return c
		},
	})
}
