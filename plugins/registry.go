package plugins

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/validation"
)

// AccessFactory builds an access controller from a manifest's params.
// It is called when a database is opened; it must validate params and
// return an error wrapping accesscontrol.ErrBadConfig when they are unusable.
// env.Logger is never nil.
type AccessFactory func(params json.RawMessage, env accesscontrol.Env) (accesscontrol.Controller, error)

// Registry maps names to plugin factories. It is safe for concurrent use.
// The zero value is not usable: call NewRegistry or NewDefaultRegistry.
type Registry struct {
	mu         sync.RWMutex
	access     map[string]AccessFactory
	validators map[string]ValidatorFactory
}

// ValidatorFactory builds a validator from a manifest's params. It is
// called when a database is created or opened; it must validate params and
// return an error wrapping validation.ErrBadSchema when they are unusable.
type ValidatorFactory func(params json.RawMessage) (validation.Validator, error)

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{access: make(map[string]AccessFactory), validators: make(map[string]ValidatorFactory)}
}

// NewDefaultRegistry returns a registry holding the built-in plugins:
// access controllers "open", "static", "dynamic" and "token", and the
// validators "open" and "jsonschema".
func NewDefaultRegistry() *Registry {
	r := NewRegistry()
	for name, f := range map[string]AccessFactory{
		accesscontrol.TypeOpen:    accesscontrol.NewOpen,
		accesscontrol.TypeStatic:  accesscontrol.NewStatic,
		accesscontrol.TypeDynamic: accesscontrol.NewDynamic,
		accesscontrol.TypeToken:   accesscontrol.NewToken,
	} {
		r.access[name] = f
	}
	r.validators[validation.TypeOpen] = func(json.RawMessage) (validation.Validator, error) { return validation.Open{}, nil }
	r.validators[validation.TypeJSONSchema] = func(p json.RawMessage) (validation.Validator, error) { return validation.NewJSONSchema(p) }
	return r
}

// RegisterAccess registers an access-controller factory under name, the
// type manifests will name in accesscontrol.Config.Type. An empty name or a
// nil factory returns ErrInvalidPlugin; a taken name ErrDuplicatePlugin.
func (r *Registry) RegisterAccess(name string, f AccessFactory) error {
	if err := checkName(name); err != nil {
		return fmt.Errorf("%w: access controller: %w", ErrInvalidPlugin, err)
	}
	if f == nil {
		return fmt.Errorf("%w: access controller %q: nil factory", ErrInvalidPlugin, name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.access[name]; ok {
		return fmt.Errorf("%w: access controller %q", ErrDuplicatePlugin, name)
	}
	r.access[name] = f
	return nil
}

// NewAccess builds the access controller cfg names. An unknown type returns
// an error wrapping ErrUnknownPlugin that names it and the registered types;
// a factory's error is returned wrapped with the type. A nil env.Logger is
// replaced by a null logger; the factory gets a logger named after the type.
func (r *Registry) NewAccess(cfg accesscontrol.Config, env accesscontrol.Env) (accesscontrol.Controller, error) {
	r.mu.RLock()
	f, ok := r.access[cfg.Type]
	r.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: access controller type %q (registered: %s)", ErrUnknownPlugin, cfg.Type, strings.Join(r.AccessTypes(), ", "))
	}
	if env.Logger == nil {
		env.Logger = hclog.NewNullLogger()
	}
	env.Logger = env.Logger.Named("access." + cfg.Type)
	c, err := f(cfg.Params, env)
	if err != nil {
		return nil, fmt.Errorf("plugins: access controller %q: %w", cfg.Type, err)
	}
	if c == nil {
		return nil, fmt.Errorf("%w: access controller %q: factory returned nil", ErrInvalidPlugin, cfg.Type)
	}
	return c, nil
}

// AccessTypes returns the registered access-controller types, sorted.
func (r *Registry) AccessTypes() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.access))
	for name := range r.access {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// RegisterValidator registers a validator factory under name, the type
// manifests will name in validation.Config.Type. An empty name or a nil
// factory returns ErrInvalidPlugin; a taken name ErrDuplicatePlugin.
func (r *Registry) RegisterValidator(name string, f ValidatorFactory) error {
	if err := checkName(name); err != nil {
		return fmt.Errorf("%w: validator: %w", ErrInvalidPlugin, err)
	}
	if f == nil {
		return fmt.Errorf("%w: validator %q: nil factory", ErrInvalidPlugin, name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.validators[name]; ok {
		return fmt.Errorf("%w: validator %q", ErrDuplicatePlugin, name)
	}
	r.validators[name] = f
	return nil
}

// NewValidator builds the validator cfg names; a zero cfg stands for
// validation.Open. An unknown type returns an error wrapping
// ErrUnknownPlugin that names it and the registered types; a factory's
// error is returned wrapped with the type.
func (r *Registry) NewValidator(cfg validation.Config) (validation.Validator, error) {
	if cfg.IsZero() {
		return validation.Open{}, nil
	}
	r.mu.RLock()
	f, ok := r.validators[cfg.Type]
	r.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: validator type %q (registered: %s)", ErrUnknownPlugin, cfg.Type, strings.Join(r.ValidatorTypes(), ", "))
	}
	v, err := f(cfg.Params)
	if err != nil {
		return nil, fmt.Errorf("plugins: validator %q: %w", cfg.Type, err)
	}
	if v == nil {
		return nil, fmt.Errorf("%w: validator %q: factory returned nil", ErrInvalidPlugin, cfg.Type)
	}
	return v, nil
}

// ValidatorTypes returns the registered validator types, sorted.
func (r *Registry) ValidatorTypes() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.validators))
	for name := range r.validators {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// checkName validates a plugin name: non-empty printable ASCII without
// spaces, so it reads well in manifests and errors.
func checkName(name string) error {
	if name == "" {
		return fmt.Errorf("empty name")
	}
	for _, r := range name {
		if r <= ' ' || r > '~' {
			return fmt.Errorf("name %q: only printable ASCII without spaces", name)
		}
	}
	return nil
}
