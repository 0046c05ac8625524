package accesscontroltest

import (
	"context"
	"errors"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/latticedb/lattice/accesscontrol"
)

// canRead asks a ReadGate, turning a panic into a test error.
func canRead(t *testing.T, g accesscontrol.ReadGate, p peer.ID, what string) (err error) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: CanRead panicked: %v", what, r)
			err = errPanicked
		}
	}()
	err = g.CanRead(context.Background(), p)
	if err != nil && !errors.Is(err, accesscontrol.ErrUnauthorized) {
		t.Errorf("%s: CanRead error %q does not wrap accesscontrol.ErrUnauthorized", what, err)
	}
	return err
}

// testReadRole checks a controller's read role, if it has one.
func (s *suite) testReadRole(t *testing.T) {
	f := s.fixture(t)
	c := s.newController(t, f)
	g, ok := c.(accesscontrol.ReadGate)
	if !ok {
		t.Skip("no read role (accesscontrol.ReadGate): sealed databases are read by whoever they were shared with")
	}
	// Only a writer that needs no per-write credential is a reader by
	// its peer ID alone; token holders prove themselves per write.
	if len(f.Allowed.Token) == 0 {
		if err := canRead(t, g, f.Allowed.ID, "allowed writer"); err != nil {
			t.Errorf("a writer may not read: %v", err)
		}
	}
	if canRead(t, g, "", "empty peer ID") == nil && !s.h.DeniesNobody {
		t.Error("an empty peer ID may read")
	}
	for _, p := range []peer.ID{f.Allowed.ID, f.Denied.ID, f.Issuer.ID} {
		first, second := canRead(t, g, p, "peer"), canRead(t, g, p, "peer again")
		if (first == nil) != (second == nil) {
			t.Errorf("CanRead(%s) changed between two calls", p)
		}
	}
}
