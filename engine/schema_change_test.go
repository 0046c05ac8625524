package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/crdt"
	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/enginetest"
	"github.com/latticedb/lattice/internal/poll"
	"github.com/latticedb/lattice/validation"
)

func titleAtMost(n int) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"type": "object", "properties": {"title": {"type": "string", "maxLength": %d}, "isDone": {"type": "boolean"}}}`, n))
}

// sameSchema waits until every replica judges coll by the entry want.
func sameSchema(t *testing.T, want validation.SchemaEntry, coll string, dbs ...*engine.Database) {
	t.Helper()
	poll.Eventually(t, 30*time.Second, func() error {
		for i, db := range dbs {
			got, ok := db.Schema(coll)
			if !ok || got.Version != want.Version || got.Issuer != want.Issuer {
				return fmt.Errorf("replica %d judges %s by version %d of %s, want %d of %s", i, coll, got.Version, got.Issuer, want.Version, want.Issuer)
			}
		}
		return nil
	})
}

// meshed waits until every replica lists n peers on the database's topic:
// a write made before may reach them only through a later rebroadcast
// (see TestPubsubTracer).
func meshed(t *testing.T, n int, dbs ...*engine.Database) {
	t.Helper()
	poll.Eventually(t, 30*time.Second, func() error {
		for i, db := range dbs {
			if p := db.Stats().Peers; p < n {
				return fmt.Errorf("replica %d lists %d peers on the topic, want %d", i, p, n)
			}
		}
		return nil
	})
}

// showAll waits until every replica shows every document of ids. Unlike
// settledAmong it does not wait for identical heads. It was written when
// a grantee's write in this three-replica setup could leave the grantee
// listing a phantom head (seen on 5cea3c5, 3 of 6 runs under -race); that
// is fixed and pinned by TestGranteeWriteSettlesHeads, and documents are
// what these tests are about.
func showAll(t *testing.T, ids []string, cs ...*engine.Collection) {
	t.Helper()
	poll.Eventually(t, 30*time.Second, func() error {
		for i, c := range cs {
			for _, id := range ids {
				if !has(c, id) {
					return fmt.Errorf("replica %d lacks %s", i, id)
				}
			}
		}
		return nil
	})
}

// TestSchemaChangeConverges: an admin's schema change replicates like a
// grant; once a replica holds it, its local writes are judged by it.
// Documents stored before stay (and a write that leaves one invalid is
// refused); non-admins cannot change schemas; unusable schemas are refused
// by name; a reopened replica keeps the change.
func TestSchemaChangeConverges(t *testing.T) {
	ctx := context.Background()
	a, b, c := enginetest.NewEngine(t), enginetest.NewEngine(t), enginetest.NewEngine(t)
	enginetest.ConnectAll(t, a, b, c)
	dbA, err := a.Create(ctx, "schema-change", engine.WithAccess(accesscontrol.Dynamic(a.ID())), engine.WithSchemas(todoSchemas))
	require.NoError(t, err)
	require.NoError(t, dbA.Grant(ctx, b.ID(), accesscontrol.RoleWriter))
	require.NoError(t, dbA.Grant(ctx, c.ID(), accesscontrol.RoleWriter))
	dbB, dbC := enginetest.Open(t, b, dbA.Address()), enginetest.Open(t, c, dbA.Address())
	ca, cb, cc := dbA.Collection("todos"), dbB.Collection("todos"), dbC.Collection("todos")
	meshed(t, 2, dbA, dbB, dbC)
	defer func() {
		if t.Failed() {
			for i, db := range []*engine.Database{dbA, dbB, dbC} {
				t.Logf("replica %d: %+v", i, db.Stats())
			}
		}
	}()

	mid := strings.Repeat("m", 50) // valid under the manifest's 1,000, not under 10
	poll.Eventually(t, 30*time.Second, func() error {
		if w := dbB.Access().(*accesscontrol.DynamicController).Writers(); len(w) < 2 {
			return fmt.Errorf("b holds %d grants", len(w))
		}
		return nil
	})
	_, err = cb.InsertOne(ctx, engine.M{"_id": "old", "title": mid})
	require.NoError(t, err)
	showAll(t, []string{"old"}, ca, cb, cc)

	require.NoError(t, dbA.SetSchema(ctx, "todos", titleAtMost(10)))
	want, ok := dbA.Schema("todos")
	require.True(t, ok)
	require.Equal(t, a.ID(), want.Issuer)
	sameSchema(t, want, "todos", dbA, dbB, dbC)

	// Now judged there by the new schema.
	_, err = cb.InsertOne(ctx, engine.M{"_id": "mid", "title": mid})
	require.ErrorIs(t, err, engine.ErrBadDocument)
	require.ErrorContains(t, err, "at /title: maxLength: got 50, want 10")
	// The old document stays; a write leaving it invalid is refused, one
	// that fixes it passes.
	require.True(t, has(cc, "old"))
	_, err = cc.UpdateOne(ctx, engine.M{"_id": "old"}, engine.M{"$set": engine.M{"isDone": true}})
	require.ErrorIs(t, err, engine.ErrBadDocument)
	_, err = cc.UpdateOne(ctx, engine.M{"_id": "old"}, engine.M{"$set": engine.M{"title": "fixed", "isDone": true}})
	require.NoError(t, err)
	_, err = cb.InsertOne(ctx, engine.M{"_id": "new", "title": "short"})
	require.NoError(t, err)
	showAll(t, []string{"old", "new"}, ca, cb, cc)
	require.False(t, has(ca, "mid"))

	// Only admins; unusable schemas by name; only dynamic databases.
	require.ErrorIs(t, dbB.SetSchema(ctx, "todos", json.RawMessage(`true`)), accesscontrol.ErrUnauthorized)
	err = dbA.SetSchema(ctx, "todos", json.RawMessage(`{"properties": {"a": {"dependentRequired": {}}}}`))
	require.ErrorIs(t, err, validation.ErrBadSchema)
	require.ErrorContains(t, err, `keyword "dependentRequired" at "/properties/a/dependentRequired"`)
	require.ErrorIs(t, dbA.SetSchema(ctx, "$bad", json.RawMessage(`true`)), engine.ErrBadName)
	static, err := a.Create(ctx, "static")
	require.NoError(t, err)
	require.ErrorIs(t, static.SetSchema(ctx, "todos", json.RawMessage(`true`)), accesscontrol.ErrBadConfig)

	// A replica reopened reads the change back from its store.
	require.NoError(t, dbC.Close())
	dbC = enginetest.Open(t, c, dbA.Address())
	got, ok := dbC.Schema("todos")
	require.True(t, ok)
	require.Equal(t, want.Version, got.Version)
	_, err = dbC.Collection("todos").InsertOne(ctx, engine.M{"title": mid})
	require.ErrorIs(t, err, engine.ErrBadDocument)
}

// TestSchemaChangeByNonAdminIsRefused: a writer that bypasses its local
// check and writes a schema entry has its delta refused by every honest
// replica: their schemas stay as they were.
func TestSchemaChangeByNonAdminIsRefused(t *testing.T) {
	ctx := context.Background()
	a, b := enginetest.NewEngine(t), enginetest.NewEngine(t)
	rogue := enginetest.NewEngine(t, engine.WithRegistry(rogueRegistry(t)))
	enginetest.ConnectAll(t, a, b, rogue)
	dbA, err := a.Create(ctx, "schema-rogue", engine.WithAccess(accesscontrol.Dynamic(a.ID())))
	require.NoError(t, err)
	require.NoError(t, dbA.Grant(ctx, b.ID(), accesscontrol.RoleWriter))
	require.NoError(t, dbA.Grant(ctx, rogue.ID(), accesscontrol.RoleWriter))
	dbB, dbR := enginetest.Open(t, b, dbA.Address()), enginetest.Open(t, rogue, dbA.Address())
	ca, cb, cr := dbA.Collection("todos"), dbB.Collection("todos"), dbR.Collection("todos")
	meshed(t, 2, dbA, dbB, dbR)
	_, err = cr.InsertOne(ctx, engine.M{"_id": "r1", "title": "from the rogue"})
	require.NoError(t, err)
	settledAmong(t, []string{"r1"}, ca, cb)
	before := dbA.Stats().Rejected + dbB.Stats().Rejected

	entry, err := engine.SignSchema(rogue, dbA.Address(), "todos", titleAtMost(1), 1000)
	require.NoError(t, err)
	require.NoError(t, engine.WriteMeta(ctx, dbR, crdt.SchemaKey("rogue"), entry))
	poll.Eventually(t, 30*time.Second, func() error {
		if dbA.Stats().Rejected+dbB.Stats().Rejected < before+2 {
			return fmt.Errorf("the honest replicas have not both refused the rogue's schema change yet")
		}
		return nil
	})
	for _, db := range []*engine.Database{dbA, dbB} {
		_, ok := db.Schema("todos")
		require.False(t, ok, "an honest replica took a non-admin's schema change")
	}
	_, err = ca.InsertOne(ctx, engine.M{"_id": "a1", "title": "longer than one"})
	require.NoError(t, err)
	settledAmong(t, []string{"r1", "a1"}, ca, cb)
}

// TestConcurrentSchemaChangesConverge: two admins change one collection's
// schema while cut off from each other, at the same version; once
// reconnected both replicas judge by the same one (the greater issuer).
func TestConcurrentSchemaChangesConverge(t *testing.T) {
	ctx := context.Background()
	a, b := enginetest.NewEngine(t), enginetest.NewEngine(t)
	enginetest.ConnectAll(t, a, b)
	dbA, err := a.Create(ctx, "schema-race", engine.WithAccess(accesscontrol.Dynamic(a.ID())))
	require.NoError(t, err)
	require.NoError(t, dbA.Grant(ctx, b.ID(), accesscontrol.RoleAdmin))
	dbB := enginetest.Open(t, b, dbA.Address())
	poll.Eventually(t, 30*time.Second, func() error {
		if !dbB.Access().(*accesscontrol.DynamicController).AdminAt(b.ID(), 2) {
			return fmt.Errorf("b does not hold its grant yet")
		}
		return nil
	})
	enginetest.Partition(t, a, b)
	require.NoError(t, dbA.SetSchema(ctx, "todos", titleAtMost(10)))
	require.NoError(t, dbB.SetSchema(ctx, "todos", titleAtMost(20)))
	sa, _ := dbA.Schema("todos")
	sb, _ := dbB.Schema("todos")
	require.Equal(t, sa.Version, sb.Version, "both changes are at the same version")
	want := sa
	if sb.Issuer > sa.Issuer {
		want = sb
	}
	enginetest.ConnectAll(t, a, b)
	meshed(t, 1, dbA, dbB)
	// A write on each side carries its heads to the other.
	_, err = dbA.Collection("todos").InsertOne(ctx, engine.M{"title": "a"})
	require.NoError(t, err)
	_, err = dbB.Collection("todos").InsertOne(ctx, engine.M{"title": "b"})
	require.NoError(t, err)
	sameSchema(t, want, "todos", dbA, dbB)
}
