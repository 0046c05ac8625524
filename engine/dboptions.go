package engine

import (
	"encoding/json"
	"fmt"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/validation"
)

// DatabaseOption configures Create.
type DatabaseOption func(*Manifest) error

// WithAccess sets the database's access controller (see accesscontrol).
// Without it a database is writable only by its creator
// (accesscontrol.Static(creator)); pass accesscontrol.Open() explicitly for a
// database anyone may write.
func WithAccess(cfg accesscontrol.Config) DatabaseOption {
	return func(m *Manifest) error {
		if cfg.Type == "" {
			return fmt.Errorf("%w: access controller has no type", ErrBadManifest)
		}
		m.Access = cfg
		return nil
	}
}

// WithValidator sets the database's validator (see package validation):
// what its documents may hold, judged on every local write and every
// remote delta. The manifest holds it, so the address pins it. Create
// refuses a configuration the engine's registry cannot build.
func WithValidator(cfg validation.Config) DatabaseOption {
	return func(m *Manifest) error {
		if cfg.Type == "" {
			return fmt.Errorf("%w: validator has no type", ErrBadManifest)
		}
		c := cfg
		m.Validator = &c
		return nil
	}
}

// WithSchemas sets a JSON Schema (draft 2020-12) per collection: shorthand
// for WithValidator of type "jsonschema". Keywords that merging documents
// field by field could break are refused when the database is created
// (see package validation).
func WithSchemas(schemas map[string]json.RawMessage) DatabaseOption {
	return func(m *Manifest) error {
		params, err := json.Marshal(validation.JSONSchemaParams{Schemas: schemas})
		if err != nil {
			return fmt.Errorf("%w: schemas: %v", ErrBadManifest, err)
		}
		return WithValidator(validation.Config{Type: validation.TypeJSONSchema, Params: params})(m)
	}
}

// WithMeta adds free-form metadata to the manifest. Metadata is part of the
// address: different metadata, different database.
func WithMeta(key, value string) DatabaseOption {
	return func(m *Manifest) error {
		if m.Meta == nil {
			m.Meta = map[string]string{}
		}
		m.Meta[key] = value
		return nil
	}
}

// WithDeterministicAddress leaves the nonce out of the manifest, so the
// address follows from the name, the options and (for the default access)
// the creator's peer ID: creating twice with the same name and options
// gives the same address, on this engine or, for an open database, on any.
// Anyone who can guess those can open the database: use it only for
// databases meant to be found by name.
func WithDeterministicAddress() DatabaseOption {
	return func(m *Manifest) error {
		m.Nonce = ""
		return nil
	}
}
