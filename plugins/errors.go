package plugins

import "errors"

// Sentinel errors, checked with errors.Is.
var (
	// ErrUnknownPlugin: no plugin is registered under the requested name.
	ErrUnknownPlugin = errors.New("plugins: unknown plugin")
	// ErrDuplicatePlugin: a plugin of that kind is already registered
	// under the name.
	ErrDuplicatePlugin = errors.New("plugins: plugin already registered")
	// ErrInvalidPlugin: the name is empty or the factory nil, or the
	// factory returned no plugin.
	ErrInvalidPlugin = errors.New("plugins: invalid plugin")
)
