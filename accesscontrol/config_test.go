package accesscontrol_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/latticedb/lattice/accesscontrol"
)

func TestStaticConfigIsCanonical(t *testing.T) {
	k := newKeys(t, 3)
	a := accesscontrol.Static(k[0].id, k[1].id, k[2].id)
	b := accesscontrol.Static(k[2].id, k[0].id, k[1].id, k[0].id, "")
	if !a.Equal(b) {
		t.Fatalf("equal writer sets gave different configs:\n%s\n%s", a.Params, b.Params)
	}
	var p struct{ Writers []string }
	if err := json.Unmarshal(a.Params, &p); err != nil || len(p.Writers) != 3 {
		t.Fatalf("params %s: %v", a.Params, err)
	}
	if !a.Equal(accesscontrol.Config{Type: "static", Params: a.Params}) || a.Equal(accesscontrol.Dynamic(k[0].id, k[1].id, k[2].id)) {
		t.Error("Config.Equal")
	}
	// Round trip through a manifest.
	enc, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var back accesscontrol.Config
	if err := json.Unmarshal(enc, &back); err != nil || !back.Equal(a) {
		t.Fatalf("round trip %s: %v", enc, err)
	}
	if got, _ := json.Marshal(accesscontrol.Open()); string(got) != `{"type":"open"}` {
		t.Errorf("Open() encodes as %s", got)
	}
}

func TestStatic(t *testing.T) {
	k := newKeys(t, 3)
	c, err := accesscontrol.NewStatic(accesscontrol.Static(k[0].id, k[1].id).Params, accesscontrol.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.(*accesscontrol.StaticController).Writers(); len(got) != 2 {
		t.Errorf("Writers() = %v", got)
	}
	for _, tc := range []struct {
		name    string
		w       accesscontrol.Write
		allowed bool
	}{
		{"first writer", accesscontrol.Write{Author: k[0].id}, true},
		{"second writer", accesscontrol.Write{Author: k[1].id, Collections: []string{"a", "b"}}, true},
		{"stranger", accesscontrol.Write{Author: k[2].id}, false},
		{"no author", accesscontrol.Write{}, false},
		{"writer sending ACL", accesscontrol.Write{Author: k[0].id, ACL: true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := canWrite(c, tc.w)
			if (err == nil) != tc.allowed {
				t.Fatalf("CanWrite = %v, want allowed=%v", err, tc.allowed)
			}
			if err != nil && !errors.Is(err, accesscontrol.ErrUnauthorized) {
				t.Fatalf("error %v does not wrap ErrUnauthorized", err)
			}
		})
	}
}

func TestFactoriesRefuseBadParams(t *testing.T) {
	k := newKey(t)
	rsaLike := peer.ID("\x12\x20" + strings.Repeat("x", 32)) // sha256 multihash: no embedded key
	env := accesscontrol.Env{Database: testDB}
	for _, tc := range []struct {
		name    string
		factory func(json.RawMessage, accesscontrol.Env) (accesscontrol.Controller, error)
		params  string
		env     accesscontrol.Env
		want    string
	}{
		{"static empty list", accesscontrol.NewStatic, `{"writers":[]}`, env, "at least one writer; use accesscontrol.Open()"},
		{"static from Static()", accesscontrol.NewStatic, string(accesscontrol.Static().Params), env, "at least one writer"},
		{"static no params", accesscontrol.NewStatic, ``, env, "missing params"},
		{"static typo", accesscontrol.NewStatic, `{"writer":["` + k.id.String() + `"]}`, env, "unknown field"},
		{"static bad id", accesscontrol.NewStatic, `{"writers":["nope"]}`, env, "params"},
		{"static trailing", accesscontrol.NewStatic, `{"writers":["` + k.id.String() + `"]} {}`, env, "trailing"},
		{"open with params", accesscontrol.NewOpen, `{"writers":[]}`, env, "takes no params"},
		{"dynamic no admins", accesscontrol.NewDynamic, `{"admins":[]}`, env, "at least one founding admin"},
		{"dynamic no database", accesscontrol.NewDynamic, string(accesscontrol.Dynamic(k.id).Params), accesscontrol.Env{}, "Env.Database"},
		{"dynamic admin without key", accesscontrol.NewDynamic, `{"admins":["` + rsaLike.String() + `"]}`, env, "does not embed its public key"},
		{"token no issuer", accesscontrol.NewToken, string(accesscontrol.Token(nil).Params), env, "issuer must be"},
		{"token bad base64", accesscontrol.NewToken, `{"issuer":"!!"}`, env, "issuer must be"},
		{"token bad key", accesscontrol.NewToken, `{"issuer":"AAAA"}`, env, "issuer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.factory(json.RawMessage(tc.params), tc.env)
			if err == nil {
				t.Fatalf("factory accepted %s: %T", tc.params, c)
			}
			if !errors.Is(err, accesscontrol.ErrBadConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q: want ErrBadConfig mentioning %q", err, tc.want)
			}
		})
	}
	for _, p := range []string{"", "null", "{}", " {} "} {
		if _, err := accesscontrol.NewOpen(json.RawMessage(p), env); err != nil {
			t.Errorf("NewOpen(%q): %v", p, err)
		}
	}
}
