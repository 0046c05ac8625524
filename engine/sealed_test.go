package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/enginetest"
	"github.com/latticedb/lattice/internal/poll"
)

// markersIn returns which of markers occur in any file under dir.
func markersIn(t *testing.T, dir string, markers ...string) []string {
	t.Helper()
	found := map[string]bool{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil // a file pebble removed meanwhile
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		for _, m := range markers {
			if bytes.Contains(b, []byte(m)) {
				found[m+" in "+filepath.Base(path)] = true
			}
		}
		return nil
	})
	require.NoError(t, err)
	var out []string
	for m := range found {
		out = append(out, m)
	}
	slices.Sort(out)
	return out
}

// sealedPair creates a sealed dynamic database on a with b as a writer
// (and so a reader), and opens it on b.
func sealedPair(t *testing.T, a, b *engine.Engine) (*engine.Database, *engine.Database) {
	t.Helper()
	ctx := context.Background()
	db, err := a.Create(ctx, "sealed", engine.WithSealed(), engine.WithAccess(accesscontrol.Dynamic(a.ID())))
	require.NoError(t, err)
	require.True(t, db.Sealed())
	require.NoError(t, db.Grant(ctx, b.ID(), accesscontrol.RoleWriter))
	rec, err := b.MemberRecord(ctx)
	require.NoError(t, err)
	require.NoError(t, db.Share(ctx, rec))
	return db, enginetest.Open(t, b, db.Address())
}

func findValue(ctx context.Context, c *engine.Collection, id, field string) (any, error) {
	var doc engine.M
	if err := c.FindByID(ctx, id).Decode(&doc); err != nil {
		return nil, err
	}
	return doc[field], nil
}

// The snoop test: a peer that is no member but knows the address opens
// the database, connected to both members. It follows the topic, fetches
// every block and catches up, and ends with the members' heads; its
// reads are refused and its data directory holds none of the marker
// strings written into collection names, document ids, field names and
// values. Members read and merge everything, counters included.
func TestSealedSnoop(t *testing.T) {
	ctx := context.Background()
	snoopDir := t.TempDir()
	a, b := enginetest.NewEngine(t), enginetest.NewEngine(t)
	snoop := enginetest.NewEngineAt(t, snoopDir)
	enginetest.ConnectAll(t, a, b, snoop)

	dbA, dbB := sealedPair(t, a, b)
	dbS := enginetest.Open(t, snoop, dbA.Address())
	ca, cb := dbA.Collection("MARKERcoll"), dbB.Collection("MARKERcoll")
	_, err := ca.InsertOne(ctx, engine.M{"_id": "MARKERid1", "MARKERfield1": "MARKERvalue1", "n": 1})
	require.NoError(t, err)
	_, err = ca.CreateIndex(ctx, "MARKERfield1")
	require.NoError(t, err)
	poll.Eventually(t, 20*time.Second, func() error {
		v, err := findValue(ctx, cb, "MARKERid1", "MARKERfield1")
		if err != nil || v != "MARKERvalue1" {
			return fmt.Errorf("b reads %v, %v", v, err)
		}
		return nil
	})
	// Concurrent increments on both members add up.
	_, err = cb.InsertOne(ctx, engine.M{"_id": "MARKERid2", "MARKERfield2": "MARKERvalue2"})
	require.NoError(t, err)
	_, err = ca.UpdateOne(ctx, engine.M{"_id": "MARKERid1"}, engine.M{"$inc": engine.M{"n": 2}})
	require.NoError(t, err)
	_, err = cb.UpdateOne(ctx, engine.M{"_id": "MARKERid1"}, engine.M{"$inc": engine.M{"n": 3}})
	require.NoError(t, err)
	for _, c := range []*engine.Collection{ca, cb} {
		poll.Eventually(t, 20*time.Second, func() error {
			n, err := findValue(ctx, c, "MARKERid1", "n")
			if err != nil || fmt.Sprint(n) != "6" {
				return fmt.Errorf("n = %v, %v", n, err)
			}
			if v, err := findValue(ctx, c, "MARKERid2", "MARKERfield2"); err != nil || v != "MARKERvalue2" {
				return fmt.Errorf("MARKERid2: %v, %v", v, err)
			}
			return nil
		})
	}
	// Queries through the index and by field work on members.
	cur, err := cb.Find(ctx, engine.M{"MARKERfield1": "MARKERvalue1"})
	require.NoError(t, err)
	var docs []engine.M
	require.NoError(t, cur.All(ctx, &docs))
	require.Len(t, docs, 1)
	colls, err := dbB.Collections(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"MARKERcoll"}, colls)

	// The snoop holds every delta: the members' heads.
	poll.Eventually(t, 30*time.Second, func() error {
		if h, want := dbS.Heads(), dbA.Heads(); !slices.Equal(h, want) {
			return fmt.Errorf("snoop heads %v, a's %v", h, want)
		}
		return nil
	})
	_, err = dbS.Collection("MARKERcoll").Find(ctx, engine.M{})
	require.ErrorIs(t, err, engine.ErrNotReader)
	_, err = dbS.Collections(ctx)
	require.ErrorIs(t, err, engine.ErrNotReader)

	// The probe finds what a database that is not sealed leaves there
	// (once the snoop's store has written it out).
	clear, err := a.Create(ctx, "clear", engine.WithAccess(accesscontrol.Dynamic(a.ID())))
	require.NoError(t, err)
	_, err = clear.Collection("c").InsertOne(ctx, engine.M{"_id": "x", "f": "CLEARTEXTvalue"})
	require.NoError(t, err)
	enginetest.Open(t, snoop, clear.Address())
	poll.Eventually(t, 20*time.Second, func() error {
		if len(markersIn(t, snoopDir, "CLEARTEXTvalue")) == 0 {
			return fmt.Errorf("the clear-text value is not on the snoop's disk yet")
		}
		return nil
	})
	// Closed, the snoop's store has written out all it received.
	require.NoError(t, snoop.Close())
	require.Empty(t, markersIn(t, snoopDir, "MARKER"))
}

// Removal: once a reader is revoked, what is written afterwards is sealed
// under an epoch it never receives. It keeps syncing (it holds every
// block), keeps what it read before, and never shows nor stores in clear
// text what came after; the remaining reader reads both.
func TestSealedRemoval(t *testing.T) {
	ctx := context.Background()
	bDir := t.TempDir()
	a, c := enginetest.NewEngine(t), enginetest.NewEngine(t)
	b := enginetest.NewEngineAt(t, bDir)
	enginetest.ConnectAll(t, a, b, c)

	dbA, dbB := sealedPair(t, a, b)
	require.NoError(t, dbA.Grant(ctx, c.ID(), accesscontrol.RoleWriter))
	rec, err := c.MemberRecord(ctx)
	require.NoError(t, err)
	require.NoError(t, dbA.Share(ctx, rec))
	dbC := enginetest.Open(t, c, dbA.Address())
	ca, cb, cc := dbA.Collection("t"), dbB.Collection("t"), dbC.Collection("t")

	_, err = ca.InsertOne(ctx, engine.M{"_id": "before", "v": "old"})
	require.NoError(t, err)
	for _, col := range []*engine.Collection{cb, cc} {
		poll.Eventually(t, 20*time.Second, func() error {
			_, err := findValue(ctx, col, "before", "v")
			return err
		})
	}

	require.NoError(t, dbA.Revoke(ctx, b.ID(), accesscontrol.RoleWriter))
	_, err = ca.InsertOne(ctx, engine.M{"_id": "MARKERafter", "v": "MARKERsecret"})
	require.NoError(t, err)
	_, err = ca.UpdateOne(ctx, engine.M{"_id": "before"}, engine.M{"$set": engine.M{"w": "MARKERlater"}})
	require.NoError(t, err)

	poll.Eventually(t, 20*time.Second, func() error {
		if v, err := findValue(ctx, cc, "MARKERafter", "v"); err != nil || v != "MARKERsecret" {
			return fmt.Errorf("c reads %v, %v", v, err)
		}
		if v, err := findValue(ctx, cc, "before", "w"); err != nil || v != "MARKERlater" {
			return fmt.Errorf("c reads %v, %v", v, err)
		}
		return nil
	})
	poll.Eventually(t, 30*time.Second, func() error {
		if h, want := dbB.Heads(), dbA.Heads(); !slices.Equal(h, want) {
			return fmt.Errorf("b's heads %v, a's %v", h, want)
		}
		return nil
	})
	require.ErrorIs(t, cb.FindByID(ctx, "MARKERafter").Err(), engine.ErrNoDocuments)
	v, err := findValue(ctx, cb, "before", "v")
	require.NoError(t, err)
	require.Equal(t, "old", v, "b keeps what it read")
	w, err := findValue(ctx, cb, "before", "w")
	require.NoError(t, err)
	require.Nil(t, w, "b shows no field written after its removal")
	require.Empty(t, markersIn(t, bDir, "MARKER"))
}

// A sealed database's member reopens it from disk and reads what it
// wrote: its keys come back from the store before the view is built.
// A sealed manifest refuses a validator (its schema would show field
// names), and the sealed flag is in the manifest the address pins.
func TestSealedRestartAndManifest(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a := enginetest.NewEngineAt(t, dir)
	_, err := a.Create(ctx, "bad", engine.WithSealed(), engine.WithSchemas(map[string]json.RawMessage{"c": json.RawMessage(`{"type":"object"}`)}))
	require.ErrorIs(t, err, engine.ErrBadManifest)

	db, err := a.Create(ctx, "list", engine.WithSealed())
	require.NoError(t, err)
	require.NotNil(t, db.Manifest().Sealed)
	addr := db.Address()
	_, err = db.Collection("c").InsertOne(ctx, engine.M{"_id": "x", "v": "KEPTMARKERvalue"})
	require.NoError(t, err)
	require.NoError(t, a.Close())

	a2 := enginetest.NewEngineAt(t, dir)
	db2 := enginetest.Open(t, a2, addr)
	require.True(t, db2.Sealed())
	v, err := findValue(ctx, db2.Collection("c"), "x", "v")
	require.NoError(t, err)
	require.Equal(t, "KEPTMARKERvalue", v)
	_, err = db2.Collection("c").InsertOne(ctx, engine.M{"_id": "y"})
	require.NoError(t, err)
	n, err := db2.Collection("c").CountDocuments(ctx, engine.M{})
	require.NoError(t, err)
	require.EqualValues(t, 2, n)
	require.Empty(t, markersIn(t, dir, "KEPTMARKER"))
}

// Members through the Go API: a reader granted by peer ID (its member
// record is asked of it) reads and cannot write; Members lists roles;
// revoking it starts a new epoch at once. Two admins that rotate while
// apart end with the same current epoch, and each reads what the other
// wrote under its own.
func TestSealedMembersAndConcurrentRotation(t *testing.T) {
	ctx := context.Background()
	a, b, c := enginetest.NewEngine(t), enginetest.NewEngine(t), enginetest.NewEngine(t)
	enginetest.ConnectAll(t, a, b, c)
	dbA, err := a.Create(ctx, "members", engine.WithSealed(), engine.WithAccess(accesscontrol.Dynamic(a.ID())))
	require.NoError(t, err)
	require.NoError(t, dbA.GrantMember(ctx, b.ID(), accesscontrol.RoleReader))
	require.NoError(t, dbA.GrantMember(ctx, c.ID(), accesscontrol.RoleAdmin))
	ms, err := dbA.Members(ctx)
	require.NoError(t, err)
	want := map[string][]string{
		a.ID().String(): {"admin", "reader", "writer"},
		b.ID().String(): {"reader"},
		c.ID().String(): {"admin", "reader", "writer"},
	}
	require.Len(t, ms, 3)
	for _, m := range ms {
		require.Equal(t, want[m.PeerID.String()], m.Roles, m.PeerID)
	}

	dbB, dbC := enginetest.Open(t, b, dbA.Address()), enginetest.Open(t, c, dbA.Address())
	ca, cb, cc := dbA.Collection("t"), dbB.Collection("t"), dbC.Collection("t")
	_, err = ca.InsertOne(ctx, engine.M{"_id": "one"})
	require.NoError(t, err)
	for _, col := range []*engine.Collection{cb, cc} {
		poll.Eventually(t, 20*time.Second, func() error { return col.FindByID(ctx, "one").Err() })
	}
	_, err = cb.InsertOne(ctx, engine.M{"_id": "by-reader"})
	require.ErrorIs(t, err, accesscontrol.ErrUnauthorized)

	// The two admins rotate while apart, and write under their epochs.
	enginetest.Partition(t, c, a, b)
	require.NoError(t, dbA.RotateNow(ctx))
	require.NoError(t, dbC.RotateNow(ctx))
	_, err = ca.InsertOne(ctx, engine.M{"_id": "a-apart"})
	require.NoError(t, err)
	_, err = cc.InsertOne(ctx, engine.M{"_id": "c-apart"})
	require.NoError(t, err)
	enginetest.ConnectAll(t, a, b, c)
	for _, col := range []*engine.Collection{ca, cb, cc} {
		poll.Eventually(t, 30*time.Second, func() error {
			for _, id := range []string{"a-apart", "c-apart"} {
				if err := col.FindByID(ctx, id).Err(); err != nil {
					return fmt.Errorf("%s: %w", id, err)
				}
			}
			return nil
		})
	}
	poll.Eventually(t, 20*time.Second, func() error {
		ea, ec := dbA.SealedEpoch(), dbC.SealedEpoch()
		if ea != ec || ea == "" {
			return fmt.Errorf("current epochs differ: %q, %q", ea, ec)
		}
		return nil
	})

	// Revoking the reader starts a new epoch at once.
	before := dbA.SealedEpoch()
	require.NoError(t, dbA.RevokeMember(ctx, b.ID(), accesscontrol.RoleReader))
	require.NotEqual(t, before, dbA.SealedEpoch())
	_, err = ca.InsertOne(ctx, engine.M{"_id": "after"})
	require.NoError(t, err)
	poll.Eventually(t, 20*time.Second, func() error { return cc.FindByID(ctx, "after").Err() })
	poll.Eventually(t, 20*time.Second, func() error {
		if h, want := dbB.Heads(), dbA.Heads(); !slices.Equal(h, want) {
			return fmt.Errorf("b's heads %v, a's %v", h, want)
		}
		return nil
	})
	require.ErrorIs(t, cb.FindByID(ctx, "after").Err(), engine.ErrNoDocuments)
}

// A sealed database whose controller has no read role (open): readers
// are exactly the peers a writer shared it with. A peer that may write
// but was not shared with cannot write (it cannot seal) nor read, and
// members do not wrap keys to it on their own.
func TestSealedWithoutReadGate(t *testing.T) {
	ctx := context.Background()
	a, b, c := enginetest.NewEngine(t), enginetest.NewEngine(t), enginetest.NewEngine(t)
	enginetest.ConnectAll(t, a, b, c)
	dbA, err := a.Create(ctx, "open-sealed", engine.WithSealed(), engine.WithAccess(accesscontrol.Open()))
	require.NoError(t, err)
	rec, err := c.MemberRecord(ctx)
	require.NoError(t, err)
	require.NoError(t, dbA.Share(ctx, rec))
	dbB, dbC := enginetest.Open(t, b, dbA.Address()), enginetest.Open(t, c, dbA.Address())
	_, err = dbA.Collection("t").InsertOne(ctx, engine.M{"_id": "x"})
	require.NoError(t, err)
	poll.Eventually(t, 20*time.Second, func() error { return dbC.Collection("t").FindByID(ctx, "x").Err() })
	_, err = dbC.Collection("t").InsertOne(ctx, engine.M{"_id": "from-c"})
	require.NoError(t, err, "a shared peer writes")

	_, err = dbB.Collection("t").InsertOne(ctx, engine.M{"_id": "from-b"})
	require.ErrorIs(t, err, engine.ErrNotReader)
	_, err = dbA.Collection("t").InsertOne(ctx, engine.M{"_id": "y"})
	require.NoError(t, err)
	poll.Eventually(t, 20*time.Second, func() error {
		if h, want := dbB.Heads(), dbA.Heads(); !slices.Equal(h, want) {
			return fmt.Errorf("b's heads %v, a's %v", h, want)
		}
		return nil
	})
	_, err = dbB.Collection("t").Find(ctx, engine.M{})
	require.ErrorIs(t, err, engine.ErrNotReader)
	ms, err := dbA.Members(ctx)
	require.NoError(t, err)
	require.Len(t, ms, 2)
}
