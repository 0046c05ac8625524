package validation

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Config is what a database manifest stores about its validator. It is
// JSON-encoded inside the manifest, so the database address pins it.
type Config struct {
	// Type names the validator: "jsonschema" or a custom type registered
	// with a plugins.Registry.
	Type string `json:"type"`
	// Params are the validator's parameters, interpreted by its factory.
	Params json.RawMessage `json:"params,omitempty"`
}

// Equal reports whether two configs name the same type with byte-identical
// parameters.
func (c Config) Equal(o Config) bool {
	return c.Type == o.Type && bytes.Equal(c.Params, o.Params)
}

// IsZero reports whether c names no validator.
func (c Config) IsZero() bool { return c.Type == "" && len(c.Params) == 0 }

// Validator judges what a database may hold.
//
// Implementations must be safe for concurrent use, must not block on I/O
// and must not panic on any input: ValidateChange runs on every change of
// every remote delta, whose author chooses every value. Both methods return
// nil or an error wrapping ErrInvalid that names the place and the rule.
// Neither may keep or change what it is given.
type Validator interface {
	// Type returns the validator's type, as stored in Config.Type.
	Type() string
	// Validate judges a whole document of coll as a local write leaves it
	// (with its _id). Every rule applies.
	Validate(coll string, doc map[string]any) error
	// ValidateChange judges one change of a remote delta on its own. Only
	// merge-safe rules apply (see the package documentation).
	ValidateChange(c Change) error
}

// ChangeKind says what a Change does at its path.
type ChangeKind int

// The kinds of change a delta makes to a document.
const (
	// Set puts Value at Path: a field or nested path written whole, or a
	// field of a document as its creator inserted it.
	Set ChangeKind = iota + 1
	// Element adds Value as one element of the set at Path ($addToSet).
	Element
	// Increment is one replica's contribution to the counter at Path
	// ($inc): Value is a number.
	Increment
)

// String names the kind.
func (k ChangeKind) String() string {
	switch k {
	case Set:
		return "set"
	case Element:
		return "element"
	case Increment:
		return "increment"
	}
	return "unknown"
}

// Change is one thing a remote delta does to a document, judged on its own.
// Removals (of a field, an element or a document) are not changes a
// validator judges: no merge-safe rule can be broken by one.
type Change struct {
	Collection string
	// Path leads from the document's root to the place changed: field
	// names, and array indexes as decimal strings. Never empty.
	Path  []string
	Kind  ChangeKind
	Value any // a value of package value's canonical types
}

// pointer renders a path as a JSON pointer ("/a/b").
func pointer(path []string) string {
	if len(path) == 0 {
		return ""
	}
	var b strings.Builder
	for _, p := range path {
		b.WriteByte('/')
		b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(p))
	}
	return b.String()
}

// Open is the validator of a database that names none: everything is
// valid.
type Open struct{}

var _ Validator = Open{}

// TypeOpen is Open's type; a manifest without a validator stands for it.
const TypeOpen = "open"

// Type returns TypeOpen.
func (Open) Type() string { return TypeOpen }

// Validate accepts every document.
func (Open) Validate(string, map[string]any) error { return nil }

// ValidateChange accepts every change.
func (Open) ValidateChange(Change) error { return nil }
