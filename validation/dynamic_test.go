package validation_test

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/validation"
)

const testDB = "/lattice/bafyreitestmanifest/TodoList"

type key struct {
	priv crypto.PrivKey
	id   peer.ID
}

func newKey(t testing.TB) key {
	t.Helper()
	priv, _, err := crypto.GenerateEd25519Key(nil)
	require.NoError(t, err)
	id, err := peer.IDFromPrivateKey(priv)
	require.NoError(t, err)
	return key{priv, id}
}

func titleSchema(maxLen int) json.RawMessage {
	return json.RawMessage(`{"type": "object", "properties": {"title": {"type": "string", "maxLength": ` +
		itoa(maxLen) + `}, "isDone": {"type": "boolean"}}}`)
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func entry(t testing.TB, k key, coll string, schema json.RawMessage, version uint64) []byte {
	t.Helper()
	b, err := validation.NewSchemaEntry(k.priv, testDB, coll, schema, version)
	require.NoError(t, err)
	return b
}

// replica is one replica's controller and schemas over the manifest's
// validator (title at most 1,000 characters).
type replica struct {
	ac  *accesscontrol.DynamicController
	val *validation.Dynamic
}

func newReplica(t testing.TB, founder peer.ID) replica {
	t.Helper()
	c, err := accesscontrol.NewDynamic(accesscontrol.Dynamic(founder).Params, accesscontrol.Env{Database: testDB})
	require.NoError(t, err)
	ac := c.(*accesscontrol.DynamicController)
	base, err := validation.NewJSONSchema(json.RawMessage(`{"schemas": {"todos": ` + string(titleSchema(1000)) + `}}`))
	require.NoError(t, err)
	return replica{ac: ac, val: validation.NewDynamic(base, testDB, ac)}
}

// apply feeds entries to the replica as the engine does: access-control
// entries to the controller, schema entries to the validator.
func (r replica) apply(t testing.TB, acl, schemas [][]byte) {
	t.Helper()
	for _, e := range acl {
		require.NoError(t, r.ac.Apply(e))
	}
	for _, e := range schemas {
		require.NoError(t, r.val.Apply(e))
	}
}

func current(r replica, coll string) (uint64, peer.ID) {
	e, ok := r.val.Current(coll)
	if !ok {
		return 0, ""
	}
	return e.Version, e.Issuer
}

// TestSchemaChangeJudges: an admin's change replaces the manifest's
// schema for local writes; remote changes pass if any version held admits
// them, so a write made concurrently under the old schema is admitted
// everywhere, and a value no version admits is refused, naming the rule.
func TestSchemaChangeJudges(t *testing.T) {
	a := newKey(t)
	r := newReplica(t, a.id)
	require.True(t, r.val.AcceptsAll() == false)
	mid := strings.Repeat("m", 50)
	require.NoError(t, r.val.Validate("todos", map[string]any{"_id": "x", "title": mid}))

	r.apply(t, nil, [][]byte{entry(t, a, "todos", titleSchema(10), 1)})
	v, issuer := current(r, "todos")
	require.Equal(t, uint64(1), v)
	require.Equal(t, a.id, issuer)
	err := r.val.Validate("todos", map[string]any{"_id": "x", "title": mid})
	require.ErrorIs(t, err, validation.ErrInvalid)
	require.ErrorContains(t, err, "at /title: maxLength")
	require.NoError(t, r.val.Validate("todos", map[string]any{"_id": "x", "title": "short"}))

	// Remote: 50 characters were valid under the manifest's schema.
	require.NoError(t, r.val.ValidateChange(validation.Change{Collection: "todos", Path: []string{"title"}, Kind: validation.Set, Value: mid}))
	err = r.val.ValidateChange(validation.Change{Collection: "todos", Path: []string{"title"}, Kind: validation.Set, Value: strings.Repeat("x", 2000)})
	require.ErrorIs(t, err, validation.ErrInvalid)
	require.ErrorContains(t, err, "at /title: maxLength: got 2,000, want 10")

	// true takes anything; other collections are untouched.
	r.apply(t, nil, [][]byte{entry(t, a, "todos", json.RawMessage(`true`), 2)})
	require.NoError(t, r.val.Validate("todos", map[string]any{"_id": "x", "title": 5}))
	_, ok := r.val.Current("notes")
	require.False(t, ok)
}

// TestSchemaChangesResolveAlike: whatever order entries arrive in, every
// replica holding them ends with the same schema per collection: the
// effective entry with the greatest version, then the greater issuer. An
// entry takes effect only if its issuer was an admin at its version.
func TestSchemaChangesResolveAlike(t *testing.T) {
	a, b, c := newKey(t), newKey(t), newKey(t)
	acl := [][]byte{}
	grant := func(issuer key, target peer.ID, role accesscontrol.Role, l uint64) {
		e, err := accesscontrol.NewGrant(issuer.priv, testDB, target, role, l)
		require.NoError(t, err)
		acl = append(acl, e)
	}
	revoke := func(issuer key, target peer.ID, role accesscontrol.Role, l uint64) {
		e, err := accesscontrol.NewRevoke(issuer.priv, testDB, target, role, l)
		require.NoError(t, err)
		acl = append(acl, e)
	}
	grant(a, b.id, accesscontrol.RoleAdmin, 1)
	grant(a, c.id, accesscontrol.RoleAdmin, 2)
	revoke(a, c.id, accesscontrol.RoleAdmin, 5)
	schemas := [][]byte{
		entry(t, a, "todos", titleSchema(10), 3),
		entry(t, b, "todos", titleSchema(20), 4), // concurrent with c's at 4
		entry(t, c, "todos", titleSchema(30), 4),
		entry(t, c, "todos", titleSchema(40), 6), // after c's revocation: void
		entry(t, c, "notes", titleSchema(50), 1), // before c was an admin: void
	}
	want := b.id
	if c.id > b.id {
		want = c.id
	}
	var entries [][]byte
	for round := 0; round < 20; round++ {
		rng := rand.New(rand.NewPCG(uint64(round), 7))
		r := newReplica(t, a.id)
		sa, ss := append([][]byte(nil), acl...), append([][]byte(nil), schemas...)
		rng.Shuffle(len(sa), func(i, j int) { sa[i], sa[j] = sa[j], sa[i] })
		rng.Shuffle(len(ss), func(i, j int) { ss[i], ss[j] = ss[j], ss[i] })
		// Schema entries before, between and after the grants.
		split := rng.IntN(len(ss) + 1)
		r.apply(t, nil, ss[:split])
		_, _ = r.val.Current("todos") // cache an intermediate answer
		r.apply(t, sa, ss[split:])
		v, issuer := current(r, "todos")
		require.Equal(t, uint64(4), v, "round %d", round)
		require.Equal(t, want, issuer, "round %d", round)
		_, ok := r.val.Current("notes")
		require.False(t, ok, "round %d: an entry signed before its issuer was an admin took effect", round)
		require.Greater(t, r.ac.NextLamport(), uint64(5))
		if entries == nil {
			entries = r.val.Entries()
		}
		require.Equal(t, entries, r.val.Entries(), "round %d", round)
	}
}

// TestSchemaEntryErrors: malformed, forged or misplaced entries are
// refused with an error naming what is wrong.
func TestSchemaEntryErrors(t *testing.T) {
	a := newKey(t)
	r := newReplica(t, a.id)
	good := entry(t, a, "todos", titleSchema(10), 3)
	var e map[string]any
	require.NoError(t, json.Unmarshal(good, &e))
	edit := func(k string, v any) []byte {
		m := map[string]any{}
		for kk, vv := range e {
			m[kk] = vv
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		b, err := json.Marshal(m)
		require.NoError(t, err)
		return b
	}
	for _, c := range []struct {
		entry []byte
		want  string
	}{
		{[]byte(`{`), "decode"},
		{append(append([]byte(nil), good...), `{}`...), "trailing data"},
		{edit("extra", 1), `unknown field "extra"`},
		{edit("coll", nil), "missing collection"},
		{edit("schema", nil), "missing schema"},
		{edit("version", 0), "version 0 outside"},
		{edit("version", float64(validation.MaxVersion)+2), "outside"},
		{edit("issuer", nil), "missing issuer"},
		{edit("issuer", "notapeer"), "failed to parse peer ID"},
		{edit("db", nil), "missing database"},
		{edit("version", 4), "signature by"},
		{edit("db", "/lattice/other/db"), "signature by"},
		{[]byte(strings.Repeat(" ", validation.MaxSchemaBytes+5000)), "bytes (at most"},
	} {
		err := r.val.Apply(c.entry)
		require.ErrorIs(t, err, validation.ErrBadEntry, c.want)
		require.ErrorContains(t, err, c.want)
	}
	other, err := validation.NewSchemaEntry(a.priv, "/lattice/other/db", "todos", titleSchema(1), 1)
	require.NoError(t, err)
	require.ErrorContains(t, r.val.Apply(other), `entry for database "/lattice/other/db"`)

	_, err = validation.NewSchemaEntry(a.priv, testDB, "todos", json.RawMessage(`{"anyOf": []}`), 1)
	require.ErrorIs(t, err, validation.ErrBadSchema)
	require.ErrorContains(t, err, `keyword "anyOf" at "/anyOf"`)
	_, err = validation.NewSchemaEntry(a.priv, testDB, "todos", json.RawMessage(`{"type":`), 1)
	require.ErrorIs(t, err, validation.ErrBadSchema)
	_, err = validation.NewSchemaEntry(a.priv, testDB, "", titleSchema(1), 1)
	require.ErrorContains(t, err, "missing collection")
	_, ok := r.val.Current("todos")
	require.False(t, ok, "a refused entry took effect")
	require.NoError(t, r.val.Apply(good))
	require.NoError(t, r.val.Apply(good), "applying twice is a no-op")
	require.Len(t, r.val.Entries(), 1)
}

func FuzzSchemaEntry(f *testing.F) {
	a := newKey(f)
	good := entry(f, a, "todos", titleSchema(10), 3)
	f.Add(good)
	f.Add([]byte(`{"coll":"t","schema":true,"version":1,"issuer":"x","db":"d","sig":""}`))
	f.Add([]byte(`{"schema":{"properties":{"a":{"anyOf":[]}}}}`))
	shared := newReplica(f, a.id)
	base, err := validation.NewJSONSchema(json.RawMessage(`{"schemas": {"todos": ` + string(titleSchema(1000)) + `}}`))
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, b []byte) {
		r := replica{ac: shared.ac, val: validation.NewDynamic(base, testDB, shared.ac)}
		err := r.val.Apply(b)
		if err != nil {
			if !errors.Is(err, validation.ErrBadEntry) {
				t.Fatalf("error does not wrap ErrBadEntry: %v", err)
			}
			if _, ok := r.val.Current("todos"); ok {
				t.Fatal("a refused entry took effect")
			}
			return
		}
		e, err := validation.ParseSchemaEntry(b)
		if err != nil {
			t.Fatalf("applied but does not parse: %v", err)
		}
		_ = r.val.Validate(e.Collection, map[string]any{"_id": "x", "title": "t"})
		_ = r.val.ValidateChange(validation.Change{Collection: e.Collection, Path: []string{"title"}, Kind: validation.Set, Value: "t"})
	})
}
