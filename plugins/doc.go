// Package plugins maps the names a database manifest uses to the factories
// that build them.
//
// Plugins are values, not globals: build a Registry per engine with
// NewDefaultRegistry (the built-ins preloaded) or NewRegistry (empty), add
// custom plugins with the Register methods, and hand it to the engine. Two
// engines in one process may hold different registries.
//
// Each kind of plugin has its own methods (RegisterAccess, NewAccess,
// AccessTypes for access controllers), so transports and discovery can join
// without widening what exists.
package plugins
