package query

import "errors"

// Sentinel errors. Every error returned by this package wraps exactly one of
// them (check with errors.Is) and its message names the operator and the
// path involved, for example:
//
//	query: unknown operator "$foo" at "age"
//	query: bad operand: $in needs an array at "tags"
//	query: conflicting updates at "a" and "a.b"
//	query: type mismatch: $inc: field "n" holds a string, not a number
var (
	// ErrInvalidValue reports a value that cannot be represented canonically:
	// NaN or an infinity, invalid UTF-8, an unsupported Go type, an integer
	// out of the int64 range or nesting deeper than MaxDepth.
	ErrInvalidValue = errors.New("query: invalid value")

	// ErrInvalidJSON reports malformed JSON or trailing data after the value.
	ErrInvalidJSON = errors.New("query: invalid JSON")

	// ErrInvalidDocument reports a document that cannot be stored: a bad
	// field name, a bad _id, a non-canonical value or excessive nesting.
	ErrInvalidDocument = errors.New("query: invalid document")

	// ErrUnknownOperator reports a $-name that is not a supported operator
	// (or modifier) in the place where it appears.
	ErrUnknownOperator = errors.New("query: unknown operator")

	// ErrBadOperand reports an operator whose operand has the wrong type or
	// shape, such as $in without an array or an invalid $regex pattern.
	ErrBadOperand = errors.New("query: bad operand")

	// ErrBadPath reports a malformed dot path: empty, with an empty
	// component, or with a component that starts with '$'.
	ErrBadPath = errors.New("query: bad path")

	// ErrEmptyUpdate reports an update document without any operator.
	ErrEmptyUpdate = errors.New("query: empty update")

	// ErrReplacement reports an update document with a top-level field that
	// is not an operator: it is a replacement document (use ReplaceOne).
	ErrReplacement = errors.New("query: not an update document")

	// ErrConflict reports two update paths that are equal or where one is a
	// prefix of the other, or conflicting equalities seeding an upsert.
	ErrConflict = errors.New("query: conflicting updates")

	// ErrImmutableID reports an update that would modify _id.
	ErrImmutableID = errors.New("query: _id is immutable")

	// ErrTypeMismatch reports an update operator that meets a value of the
	// wrong type when applied (for example $inc on a string, $push on a
	// non-array, or a path that traverses a scalar).
	ErrTypeMismatch = errors.New("query: type mismatch")

	// ErrOverflow reports arithmetic whose result is not a finite number.
	ErrOverflow = errors.New("query: numeric overflow")

	// ErrBadProjection reports an invalid projection document.
	ErrBadProjection = errors.New("query: bad projection")

	// ErrBadOption reports an invalid find option (sort direction, more
	// than MaxSortKeys sort keys, negative skip, limit or time, bad sort
	// path).
	ErrBadOption = errors.New("query: bad option")

	// ErrSortTooLarge reports an in-memory sort without a limit whose sort
	// keys would take more than Options.MaxSortBytes.
	ErrSortTooLarge = errors.New("query: sort exceeds the memory limit")
)
