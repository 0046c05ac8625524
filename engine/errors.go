package engine

import (
	"errors"

	"github.com/latticedb/lattice/manifest"
	"github.com/latticedb/lattice/query"
)

// Errors returned by the engine; match them with errors.Is. Errors from the
// query language (query) and from access control (accesscontrol) are
// wrapped, not replaced, so their own sentinels match too.
var (
	// ErrClosed is returned by calls on a closed engine or database.
	ErrClosed = errors.New("engine: closed")
	// ErrBadOption is returned by New for an invalid option.
	ErrBadOption = errors.New("engine: invalid option")
	// ErrBadAddress is returned for a database address that does not parse.
	ErrBadAddress = manifest.ErrBadAddress
	// ErrBadManifest is returned for a manifest block that does not decode.
	ErrBadManifest = manifest.ErrBadManifest
	// ErrNoDatabase is returned when a database is not open or not known.
	ErrNoDatabase = errors.New("engine: no such database")
	// ErrBadDocument is returned for a document that cannot be stored.
	ErrBadDocument = errors.New("engine: invalid document")
	// ErrDocumentTooLarge is returned for a document over the size limit.
	ErrDocumentTooLarge = errors.New("engine: document too large")
	// ErrWriteTooLarge is returned for a write over one of the bounds of
	// limits.go (documents per InsertMany, estimated memory of its keys);
	// nothing of it is applied.
	ErrWriteTooLarge = errors.New("engine: write too large")
	// ErrDuplicateKey is returned when inserting an _id that exists.
	ErrDuplicateKey = errors.New("engine: duplicate _id")
	// ErrNoDocuments is returned by SingleResult.Decode when nothing matched,
	// like the MongoDB driver's mongo.ErrNoDocuments.
	ErrNoDocuments = query.ErrNoDocuments
	// ErrBadName is returned for an invalid database, collection or index name.
	ErrBadName = manifest.ErrBadName
	// ErrMaxTime is returned by a find that ran past its query.MaxTime
	// (MongoDB's MaxTimeMSExpired); it also wraps context.DeadlineExceeded.
	ErrMaxTime = errors.New("engine: operation exceeded its time limit")
	// ErrCursorClosed is returned by a cursor used after Close.
	ErrCursorClosed = query.ErrCursorClosed
)
