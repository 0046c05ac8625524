package readmodel

import "errors"

// ErrBadID is returned by IDKey for an _id that is neither a string nor a
// number.
var ErrBadID = errors.New("readmodel: _id must be a string or a number")
