package plugins_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/plugins"
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
