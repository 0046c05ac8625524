package accesscontrol

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error a Controller returns from CanWrite wraps
// ErrUnauthorized; the more specific token errors below wrap it too, so a
// caller can test for the general case or for the exact check that failed.
var (
	// ErrUnauthorized is wrapped by every refusal from CanWrite.
	ErrUnauthorized = errors.New("accesscontrol: write not permitted")

	// ErrInvalidEntry is wrapped by Replicated.Apply when an entry is
	// malformed, badly signed or meant for another database.
	ErrInvalidEntry = errors.New("accesscontrol: invalid access-control entry")

	// ErrBadConfig is wrapped by controller factories when the manifest's
	// parameters are unusable.
	ErrBadConfig = errors.New("accesscontrol: bad controller configuration")

	// ErrBadToken is wrapped when a capability token cannot be decoded.
	ErrBadToken = errors.New("accesscontrol: malformed capability token")
)

// Token checks. Each wraps ErrUnauthorized and names the check that failed.
var (
	// ErrTokenMissing: the write carries no token.
	ErrTokenMissing = fmt.Errorf("%w: no capability token", ErrUnauthorized)
	// ErrTokenIssuer: the token is not signed by the database's issuer (or
	// its signature does not verify).
	ErrTokenIssuer = fmt.Errorf("%w: token not signed by the database's issuer", ErrUnauthorized)
	// ErrTokenDatabase: the token was issued for another database.
	ErrTokenDatabase = fmt.Errorf("%w: token issued for another database", ErrUnauthorized)
	// ErrTokenHolder: the token was issued to another peer.
	ErrTokenHolder = fmt.Errorf("%w: token issued to another peer", ErrUnauthorized)
	// ErrTokenCollection: the write touches a collection the token does not cover.
	ErrTokenCollection = fmt.Errorf("%w: token does not cover the collection", ErrUnauthorized)
	// ErrTokenExpired: the write was signed after the token's Expires.
	ErrTokenExpired = fmt.Errorf("%w: token expired", ErrUnauthorized)
	// ErrTokenNotYetValid: the write was signed before the token's NotBefore.
	ErrTokenNotYetValid = fmt.Errorf("%w: token not yet valid", ErrUnauthorized)
)

// denied returns an error wrapping ErrUnauthorized with a reason.
func denied(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrUnauthorized}, args...)...)
}

// badConfig returns an error wrapping ErrBadConfig with a reason.
func badConfig(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrBadConfig}, args...)...)
}

// invalidEntry returns an error wrapping ErrInvalidEntry with a reason.
func invalidEntry(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidEntry}, args...)...)
}

// badToken returns an error wrapping ErrBadToken with a reason.
func badToken(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrBadToken}, args...)...)
}

func errorsIsUnauthorized(err error) bool { return errors.Is(err, ErrUnauthorized) }
