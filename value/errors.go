package value

import "errors"

// Sentinel errors. Every error returned by this package wraps one of them
// (check with errors.Is) and names the path of the offending value.
var (
	// ErrInvalidValue reports a value that cannot be represented canonically:
	// NaN or an infinity, invalid UTF-8, an unsupported Go type, an integer
	// out of the int64 range or nesting deeper than MaxDepth.
	ErrInvalidValue = errors.New("value: invalid value")

	// ErrInvalidJSON reports malformed JSON or trailing data after the value.
	ErrInvalidJSON = errors.New("value: invalid JSON")

	// ErrInvalidDocument reports a document that cannot be stored: a bad
	// field name, a bad _id, a non-canonical value or excessive nesting.
	ErrInvalidDocument = errors.New("value: invalid document")
	// ErrBadPath reports a malformed dot path: empty, with an empty
	// component, or with a component that starts with '$'.
	ErrBadPath = errors.New("value: bad path")
)
