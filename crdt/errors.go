package crdt

import "errors"

// Errors returned by this package; match them with errors.Is.
var (
	// ErrBadKey is returned for a key that is not part of the layout.
	ErrBadKey = errors.New("crdt: malformed key")
	// ErrBadValue is returned for a stored value that does not decode.
	ErrBadValue = errors.New("crdt: malformed value")
	// ErrNoDocument is returned when updating a document that does not exist.
	ErrNoDocument = errors.New("crdt: no such document")
	// ErrExists is returned when inserting a document that exists.
	ErrExists = errors.New("crdt: document exists")
)
