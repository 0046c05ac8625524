package query

import (
	"errors"

	"github.com/latticedb/lattice/value"
)

// Sentinel errors. Every error returned by this package wraps exactly one of
// them (check with errors.Is) and its message names the operator and the
// path involved, for example:
//
//	query: unknown operator "$foo" at "age"
//	query: bad operand: $in needs an array at "tags"
//	query: conflicting updates at "a" and "a.b"
//	query: type mismatch: $inc: field "n" holds a string, not a number
var (
	// ErrNoDocuments is returned by SingleResult.Decode when nothing
	// matched, like the MongoDB driver's mongo.ErrNoDocuments.
	ErrNoDocuments = errors.New("lattice: no documents in result")
	// ErrCursorClosed is returned by a cursor used after Close.
	ErrCursorClosed = errors.New("lattice: cursor closed")
	// ErrInvalidValue, ErrInvalidJSON and ErrInvalidDocument are package
	// value's: values and documents are checked there.
	ErrInvalidValue    = value.ErrInvalidValue
	ErrInvalidJSON     = value.ErrInvalidJSON
	ErrInvalidDocument = value.ErrInvalidDocument

	// ErrUnknownOperator reports a $-name that is not a supported operator
	// (or modifier) in the place where it appears.
	ErrUnknownOperator = errors.New("query: unknown operator")

	// ErrBadOperand reports an operator whose operand has the wrong type or
	// shape, such as $in without an array or an invalid $regex pattern.
	ErrBadOperand = errors.New("query: bad operand")

	// ErrBadPath is package value's: paths are parsed there.
	ErrBadPath = value.ErrBadPath

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

	// ErrLimit reports an input past one of the package's bounds
	// (MaxUpdateOps, MaxEachItems, MaxRegexLength, MaxRegexProgram) or a
	// filter or update whose regex matching ran past its RegexWork. The
	// message names the bound and the value.
	ErrLimit = errors.New("query: limit exceeded")

	// ErrSortTooLarge reports an in-memory sort without a limit whose sort
	// keys would take more than Options.MaxSortBytes.
	ErrSortTooLarge = errors.New("query: sort exceeds the memory limit")
)
