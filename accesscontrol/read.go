package accesscontrol

import (
	"context"

	"github.com/libp2p/go-libp2p/core/peer"
)

// ReadGate is implemented by controllers that say who may read a sealed
// database (see "Sealed databases" in the package documentation): the
// engine wraps epoch keys only to peers it admits, and an epoch wrapped to
// a peer it no longer admits is retired by a rotation. Like CanWrite,
// CanRead must be cheap, must not block on I/O, and must return nil or an
// error wrapping ErrUnauthorized; every replica holding the same entries
// must answer the same way.
//
// A controller without a ReadGate admits as readers exactly the peers
// some writer has shared the database with: nobody can be removed.
type ReadGate interface {
	CanRead(ctx context.Context, p peer.ID) error
}

// CanRead admits the writers: a writer is a reader.
func (c *StaticController) CanRead(_ context.Context, p peer.ID) error {
	if _, ok := c.writers[p]; !ok {
		return denied("peer %s is not a reader of this database", authorString(p))
	}
	return nil
}

// CanRead admits the current readers, writers and admins.
func (c *DynamicController) CanRead(_ context.Context, p peer.ID) error {
	var ok bool
	c.read(func(s *dynamicState) {
		_, admin := s.admins[p]
		_, writer := s.writers[p]
		_, reader := s.readers[p]
		ok = admin || writer || reader
	})
	if !ok {
		return denied("peer %s is not a reader of this database", authorString(p))
	}
	return nil
}

var (
	_ ReadGate = (*StaticController)(nil)
	_ ReadGate = (*DynamicController)(nil)
)

// Readers returns the peers currently holding the reader role, sorted.
// Writers and admins read too, whether listed here or not.
func (c *DynamicController) Readers() []peer.ID {
	var out []peer.ID
	c.read(func(s *dynamicState) { out = setList(s.readers) })
	return out
}
