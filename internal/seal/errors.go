package seal

import "errors"

// The errors of package seal. Every error it returns wraps one of them.
var (
	// ErrNotReader: the local peer is not a reader of the database (no key
	// package wraps an epoch key to it).
	ErrNotReader = errors.New("seal: not a reader of this database")
	// ErrPackageDoesNotOpen: a key package is malformed, forged (its
	// signature does not verify, it names another database) or its wrap
	// for us does not open to the key its epoch names.
	ErrPackageDoesNotOpen = errors.New("seal: key package does not open")
	// ErrNoEpochKey: the value is sealed under an epoch whose key this
	// replica does not hold (yet): a key package may still arrive.
	ErrNoEpochKey = errors.New("seal: no key for this epoch yet")
	// ErrDoesNotOpen: a ciphertext is malformed, was tampered with or was
	// sealed under another key or for other associated data.
	ErrDoesNotOpen = errors.New("seal: ciphertext does not open")
	// ErrBadRecord: a member key record is malformed or its signature does
	// not verify.
	ErrBadRecord = errors.New("seal: bad member key record")
)
