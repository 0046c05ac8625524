package engine

import (
	"fmt"

	"github.com/latticedb/lattice/internal/readmodel"
)

// The read model lives in internal/readmodel; these are the names the
// engine reads it by.

// docRef names a document in a database.
type docRef = readmodel.Ref

// IndexSpec describes a secondary index: a field path whose values are
// indexed, used by Find for equality, $in and range filters.
type IndexSpec = readmodel.IndexSpec

// idKey is the string a document _id is keyed by (see readmodel.IDKey).
func idKey(id any) (string, error) {
	k, err := readmodel.IDKey(id)
	if err != nil {
		return "", fmt.Errorf("%w: _id must be a string or a number, got %T", ErrBadDocument, id)
	}
	return k, nil
}
