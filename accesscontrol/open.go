package accesscontrol

import (
	"bytes"
	"context"
	"encoding/json"
)

// TypeOpen is the type of the open controller.
const TypeOpen = "open"

// Open returns the config of a database anyone may write to.
func Open() Config { return Config{Type: TypeOpen} }

// AllowAll returns the null controller: type "open", it lets every peer
// write. Like the open controller it refuses writes carrying access-control
// entries, which an open database has no use for.
func AllowAll() Controller { return openController{} }

// NewOpen is the factory of the "open" controller. params must be empty,
// null or {}.
func NewOpen(params json.RawMessage, _ Env) (Controller, error) {
	switch p := string(bytes.TrimSpace(params)); p {
	case "", "null", "{}":
		return openController{}, nil
	default:
		return nil, badConfig("open controller takes no params, got %.64q", p)
	}
}

// openController lets anyone write.
type openController struct{}

var _ Controller = (*openController)(nil)

// Type returns "open".
func (openController) Type() string { return TypeOpen }

// CanWrite allows every write except one carrying access-control entries.
func (openController) CanWrite(_ context.Context, w Write) error {
	if w.ACL {
		return denied("an open database has no access-control entries")
	}
	return nil
}
