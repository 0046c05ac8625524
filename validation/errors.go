package validation

import "errors"

// Sentinel errors, checked with errors.Is.
var (
	// ErrInvalid: a document or a change breaks the database's rules. The
	// error's text names the place (a JSON pointer into the document) and
	// the rule.
	ErrInvalid = errors.New("validation: document invalid")
	// ErrBadSchema: a validator's parameters are unusable: malformed JSON,
	// an unknown collection form, a keyword that is not merge-safe, or a
	// schema over MaxSchemaBytes. The error names the keyword and where.
	ErrBadSchema = errors.New("validation: bad schema")
	// ErrBadEntry: a schema entry (a signed schema change, see
	// SchemaEntry) is malformed, badly signed, for another database, or
	// its schema is unusable (then it wraps ErrBadSchema too). The error
	// names the field.
	ErrBadEntry = errors.New("validation: bad schema entry")
)
