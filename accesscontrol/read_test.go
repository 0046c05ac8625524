package accesscontrol_test

import (
	"context"
	"errors"
	"testing"

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
