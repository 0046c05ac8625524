package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/crdt"
	"github.com/latticedb/lattice/validation"
)

// newValidator builds the validator a manifest names (validation.Open
// when it names none).
func (e *Engine) newValidator(m *Manifest) (validation.Validator, error) {
	if m.Validator == nil {
		return validation.Open{}, nil
	}
	return e.registry.NewValidator(*m.Validator)
}

// changeableSchemas wraps a database's validator in validation.Dynamic when
// its admins may change schemas: a dynamic controller on a database that is
// not sealed (a sealed database has no validator: a schema would show its
// field names in clear text).
func changeableSchemas(v validation.Validator, m *Manifest, addr string, ac accesscontrol.Controller) validation.Validator {
	d, ok := ac.(*accesscontrol.DynamicController)
	if !ok || m.Sealed != nil {
		return v
	}
	return validation.NewDynamic(v, addr, d)
}

// SetSchema changes the JSON Schema (draft 2020-12, with the keywords
// package validation allows) of collection coll, in a database whose
// controller is dynamic: only admins may. The change is a signed entry
// stored in the database and replicated like grants; every replica that
// holds it judges the collection's later writes by it. Its version is
// above every version and access-control entry this replica holds, so a
// change made after another wins over it; concurrent changes resolve alike
// everywhere (see validation.Dynamic). Documents already stored stay, even
// those the new schema refuses. The schema true takes any document.
//
// A schema that is not usable fails with validation.ErrBadSchema naming
// the keyword and where; a peer that is not an admin fails with
// accesscontrol.ErrUnauthorized.
func (db *Database) SetSchema(ctx context.Context, coll string, schema json.RawMessage) error {
	if err := validateName("collection", coll); err != nil {
		return err
	}
	d, _ := db.access.(*accesscontrol.DynamicController)
	dyn, _ := db.validator.(*validation.Dynamic)
	if d == nil || dyn == nil {
		return fmt.Errorf("%w: database %s: schema changes need a dynamic controller and an unsealed database", accesscontrol.ErrBadConfig, db.addr.Name)
	}
	b, err := validation.NewSchemaEntry(db.e.key, db.addr.String(), coll, schema, max(d.NextLamport(), dyn.NextVersion()))
	if err != nil {
		return err
	}
	sum := sha256.Sum256(b)
	key := crdt.SchemaKey(hex.EncodeToString(sum[:16]))
	return db.write(ctx, func(t *txn) error {
		t.stageMeta(crdt.Mutation{Key: key, Value: b})
		return nil
	})
}

// Schema returns the schema entry that judges collection coll, if an
// admin has set one (SetSchema) and this replica holds it. Collections
// without one are judged by the manifest's validator.
func (db *Database) Schema(coll string) (validation.SchemaEntry, bool) {
	if dyn, ok := db.validator.(*validation.Dynamic); ok {
		return dyn.Current(coll)
	}
	return validation.SchemaEntry{}, false
}

// applySchemaEntry holds a schema entry read from the store, and tells the
// controller its version so later grants and revocations order after it.
func (db *Database) applySchemaEntry(val []byte) {
	dyn, ok := db.validator.(*validation.Dynamic)
	if !ok {
		return
	}
	if err := dyn.Apply(val); err != nil {
		db.log.Debug("schema entry refused", "error", err)
		return
	}
	if d, ok := db.access.(*accesscontrol.DynamicController); ok {
		d.Observe(dyn.NextVersion() - 1)
	}
}
