package accesscontrol_test

import (
	"context"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/latticedb/lattice/accesscontrol"
)

// The reader role of the dynamic controller: a reader may read, not
// write; a writer and an admin read too; revoking the role ends it.
func TestDynamicReaderRole(t *testing.T) {
	ctx := context.Background()
	admin, reader, writer, stranger := newKey(t), newKey(t), newKey(t), newKey(t)
	c := newDynamic(t, admin)
	for _, e := range [][]byte{
		grant(t, admin, reader.id, accesscontrol.RoleReader, 1),
		grant(t, admin, writer.id, accesscontrol.RoleWriter, 2),
	} {
		if err := c.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []key{admin, reader, writer} {
		if err := c.CanRead(ctx, k.id); err != nil {
			t.Errorf("%s may not read: %v", k.id, err)
		}
	}
	if err := c.CanRead(ctx, stranger.id); !errors.Is(err, accesscontrol.ErrUnauthorized) {
		t.Errorf("stranger reads: %v", err)
	}
	w := accesscontrol.Write{Database: testDB, Author: reader.id, Collections: []string{"c"}}
	if err := c.CanWrite(ctx, w); !errors.Is(err, accesscontrol.ErrUnauthorized) {
		t.Errorf("a reader writes: %v", err)
	}
	if got := c.Readers(); len(got) != 1 || got[0] != reader.id {
		t.Errorf("Readers() = %v", got)
	}
	if err := c.Apply(revoke(t, admin, reader.id, accesscontrol.RoleReader, 3)); err != nil {
		t.Fatal(err)
	}
	if err := c.CanRead(ctx, reader.id); !errors.Is(err, accesscontrol.ErrUnauthorized) {
		t.Errorf("revoked reader reads: %v", err)
	}
}

// TestMembers: the roles Members lists for each kind of controller: an
// admin writes and reads, a writer reads, a static writer reads, and a
// controller that names nobody lists the peers it is given as readers.
func TestMembers(t *testing.T) {
	admin, reader, writer := newKey(t), newKey(t), newKey(t)
	c := newDynamic(t, admin)
	for _, e := range [][]byte{
		grant(t, admin, reader.id, accesscontrol.RoleReader, 1),
		grant(t, admin, writer.id, accesscontrol.RoleWriter, 2),
	} {
		if err := c.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
	roles := func(ms []accesscontrol.Member) map[peer.ID]string {
		out := map[peer.ID]string{}
		for i, m := range ms {
			if i > 0 && ms[i-1].PeerID >= m.PeerID {
				t.Fatalf("members not sorted by peer ID: %v", ms)
			}
			out[m.PeerID] = strings.Join(m.Roles, ",")
		}
		return out
	}
	want := map[peer.ID]string{admin.id: "admin,reader,writer", reader.id: "reader", writer.id: "reader,writer"}
	if got := roles(accesscontrol.Members(c, nil)); !maps.Equal(got, want) {
		t.Fatalf("dynamic: %v, want %v", got, want)
	}
	st, err := accesscontrol.NewStatic(accesscontrol.Static(writer.id).Params, accesscontrol.Env{Database: testDB})
	if err != nil {
		t.Fatal(err)
	}
	if got := roles(accesscontrol.Members(st, []peer.ID{reader.id})); !maps.Equal(got, map[peer.ID]string{writer.id: "reader,writer"}) {
		t.Fatalf("static: %v", got)
	}
	open, err := accesscontrol.NewOpen(nil, accesscontrol.Env{Database: testDB})
	if err != nil {
		t.Fatal(err)
	}
	if got := roles(accesscontrol.Members(open, []peer.ID{reader.id})); !maps.Equal(got, map[peer.ID]string{reader.id: "reader"}) {
		t.Fatalf("open with shared readers: %v", got)
	}
}

// TestStaticReaders: a static controller's readers read and do not write;
// a stranger does neither; a writer listed as a reader stays a writer; a
// static config without readers keeps its old params, so old addresses
// stay.
func TestStaticReaders(t *testing.T) {
	ctx := context.Background()
	w, r, stranger := newKey(t), newKey(t), newKey(t)
	cfg := accesscontrol.StaticReaders([]peer.ID{w.id}, []peer.ID{r.id, w.id})
	c, err := accesscontrol.NewStatic(cfg.Params, accesscontrol.Env{Database: testDB})
	if err != nil {
		t.Fatal(err)
	}
	sc := c.(*accesscontrol.StaticController)
	for _, k := range []key{w, r} {
		if err := sc.CanRead(ctx, k.id); err != nil {
			t.Errorf("%s may not read: %v", k.id, err)
		}
	}
	if err := sc.CanRead(ctx, stranger.id); !errors.Is(err, accesscontrol.ErrUnauthorized) {
		t.Errorf("a stranger reads: %v", err)
	}
	if err := sc.CanWrite(ctx, accesscontrol.Write{Database: testDB, Author: r.id}); !errors.Is(err, accesscontrol.ErrUnauthorized) {
		t.Errorf("a reader writes: %v", err)
	}
	if got := sc.Readers(); len(got) != 1 || got[0] != r.id {
		t.Errorf("readers %v, want only %s (a writer is not listed twice)", got, r.id)
	}
	got := map[peer.ID]string{}
	for _, m := range accesscontrol.Members(sc, nil) {
		got[m.PeerID] = strings.Join(m.Roles, ",")
	}
	if !maps.Equal(got, map[peer.ID]string{w.id: "reader,writer", r.id: "reader"}) {
		t.Errorf("members %v", got)
	}
	if plain := accesscontrol.Static(w.id); strings.Contains(string(plain.Params), "readers") ||
		string(accesscontrol.StaticReaders([]peer.ID{w.id}, nil).Params) != string(plain.Params) {
		t.Errorf("a static config without readers changed: %s", plain.Params)
	}
}
