package plugins_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/plugins"
)

const db = "/lattice/bafyreitest/TodoList"

func newID(t *testing.T) (crypto.PrivKey, peer.ID) {
	t.Helper()
	priv, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return priv, id
}

func TestDefaultRegistryBuildsBuiltins(t *testing.T) {
	priv, id := newID(t)
	r := plugins.NewDefaultRegistry()
	if got, want := r.AccessTypes(), []string{"dynamic", "open", "static", "token"}; !slices.Equal(got, want) {
		t.Fatalf("AccessTypes() = %v, want %v", got, want)
	}
	for _, cfg := range []accesscontrol.Config{
		accesscontrol.Open(),
		accesscontrol.Static(id),
		accesscontrol.Dynamic(id),
		accesscontrol.Token(priv.GetPublic()),
	} {
		c, err := r.NewAccess(cfg, accesscontrol.Env{Database: db, Self: id}) // nil Logger is fine
		if err != nil {
			t.Fatalf("%s: %v", cfg.Type, err)
		}
		if c.Type() != cfg.Type {
			t.Errorf("%s: built a %q controller", cfg.Type, c.Type())
		}
	}
	if len(plugins.NewRegistry().AccessTypes()) != 0 {
		t.Error("NewRegistry is not empty")
	}
}

func TestRegistryErrors(t *testing.T) {
	r := plugins.NewDefaultRegistry()
	noop := func(json.RawMessage, accesscontrol.Env) (accesscontrol.Controller, error) {
		return accesscontrol.AllowAll(), nil
	}
	for _, tc := range []struct {
		name string
		err  error
		want error
		msg  string
	}{
		{"unknown type", second(r.NewAccess(accesscontrol.Config{Type: "orbitdb"}, accesscontrol.Env{})), plugins.ErrUnknownPlugin, `"orbitdb" (registered: dynamic, open, static, token)`},
		{"duplicate", r.RegisterAccess("static", noop), plugins.ErrDuplicatePlugin, `"static"`},
		{"empty name", r.RegisterAccess("", noop), plugins.ErrInvalidPlugin, "empty name"},
		{"spaces", r.RegisterAccess("my plugin", noop), plugins.ErrInvalidPlugin, "printable"},
		{"nil factory", r.RegisterAccess("nil", nil), plugins.ErrInvalidPlugin, "nil factory"},
		{"factory error", second(r.NewAccess(accesscontrol.Static(), accesscontrol.Env{})), accesscontrol.ErrBadConfig, `plugins: access controller "static"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !errors.Is(tc.err, tc.want) || !strings.Contains(tc.err.Error(), tc.msg) {
				t.Fatalf("error %v, want %v mentioning %q", tc.err, tc.want, tc.msg)
			}
		})
	}
	if err := r.RegisterAccess("nilret", func(json.RawMessage, accesscontrol.Env) (accesscontrol.Controller, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := r.NewAccess(accesscontrol.Config{Type: "nilret"}, accesscontrol.Env{}); !errors.Is(err, plugins.ErrInvalidPlugin) {
		t.Errorf("nil controller: %v", err)
	}
}

func second(_ accesscontrol.Controller, err error) error { return err }

func TestRegistriesAreIndependent(t *testing.T) {
	a, b := plugins.NewDefaultRegistry(), plugins.NewDefaultRegistry()
	noop := func(json.RawMessage, accesscontrol.Env) (accesscontrol.Controller, error) {
		return accesscontrol.AllowAll(), nil
	}
	if err := a.RegisterAccess("custom", noop); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(b.AccessTypes(), "custom") {
		t.Fatal("registration leaked into another registry")
	}
}

func TestRegistryConcurrent(t *testing.T) {
	r := plugins.NewDefaultRegistry()
	_, id := newID(t)
	noop := func(json.RawMessage, accesscontrol.Env) (accesscontrol.Controller, error) {
		return accesscontrol.AllowAll(), nil
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			_ = r.RegisterAccess("p"+string(rune('a'+i)), noop)
			for range 50 {
				c, err := r.NewAccess(accesscontrol.Static(id), accesscontrol.Env{})
				if err != nil || c.CanWrite(context.Background(), accesscontrol.Write{Author: id}) != nil {
					t.Error(err)
					return
				}
				_ = r.AccessTypes()
			}
		})
	}
	wg.Wait()
	if n := len(r.AccessTypes()); n != 12 {
		t.Errorf("%d types registered, want 12", n)
	}
}
