package plugins_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/plugins"
	"github.com/latticedb/lattice/validation"
)

// readOnly is a custom controller: nobody writes.
type readOnly struct{}

func (readOnly) Type() string { return "readonly" }
func (readOnly) CanWrite(context.Context, accesscontrol.Write) error {
	return fmt.Errorf("%w: this database is read-only", accesscontrol.ErrUnauthorized)
}

func ExampleRegistry_RegisterAccess() {
	r := plugins.NewDefaultRegistry()
	err := r.RegisterAccess("readonly", func(json.RawMessage, accesscontrol.Env) (accesscontrol.Controller, error) {
		return readOnly{}, nil
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(r.AccessTypes())

	ctrl, err := r.NewAccess(accesscontrol.Config{Type: "readonly"}, accesscontrol.Env{})
	if err != nil {
		panic(err)
	}
	fmt.Println(ctrl.CanWrite(context.Background(), accesscontrol.Write{}))

	_, err = r.NewAccess(accesscontrol.Config{Type: "orbitdb"}, accesscontrol.Env{})
	fmt.Println(errors.Is(err, plugins.ErrUnknownPlugin))
	fmt.Println(err)
	// Output:
	// [dynamic open readonly static token]
	// accesscontrol: write not permitted: this database is read-only
	// true
	// plugins: unknown plugin: access controller type "orbitdb" (registered: dynamic, open, readonly, static, token)
}

// noShouting is a custom validator: no title in capitals.
type noShouting struct{}

func (noShouting) Type() string { return "noshouting" }
func (noShouting) Validate(coll string, doc map[string]any) error {
	return noShouting{}.ValidateChange(validation.Change{Collection: coll, Path: []string{"title"}, Kind: validation.Set, Value: doc["title"]})
}
func (noShouting) ValidateChange(c validation.Change) error {
	if s, ok := c.Value.(string); ok && len(c.Path) == 1 && c.Path[0] == "title" && s != "" && s == strings.ToUpper(s) {
		return fmt.Errorf("%w: at /title: no shouting", validation.ErrInvalid)
	}
	return nil
}

func ExampleRegistry_RegisterValidator() {
	r := plugins.NewDefaultRegistry()
	if err := r.RegisterValidator("noshouting", func(json.RawMessage) (validation.Validator, error) { return noShouting{}, nil }); err != nil {
		panic(err)
	}
	fmt.Println(r.ValidatorTypes())
	v, err := r.NewValidator(validation.Config{Type: "noshouting"})
	if err != nil {
		panic(err)
	}
	fmt.Println(v.Validate("todos", map[string]any{"title": "BUY MILK"}))
	_, err = r.NewValidator(validation.Config{Type: "xsd"})
	fmt.Println(err)
	// Output:
	// [jsonschema noshouting open]
	// validation: document invalid: at /title: no shouting
	// plugins: unknown plugin: validator type "xsd" (registered: jsonschema, noshouting, open)
}
