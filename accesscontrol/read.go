package accesscontrol

import (
	"context"
	"slices"
	"strings"

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

// CanRead admits the writers (a writer is a reader) and the readers.
func (c *StaticController) CanRead(_ context.Context, p peer.ID) error {
	_, w := c.writers[p]
	_, r := c.readers[p]
	if !w && !r {
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

// Member is a peer with roles in a database: "admin", "writer", "reader"
// (a writer or admin reads too, and is listed as a reader).
type Member struct {
	PeerID peer.ID  `json:"peerId"`
	Roles  []string `json:"roles"`
}

// Members lists who holds which role as far as controller c knows: for a
// dynamic controller its grants, for a static one its writers, and for
// any other the peers of also (such as those a sealed database was shared
// with), as readers. Every member is a reader; an admin is a writer too.
// Sorted by peer ID.
func Members(c Controller, also []peer.ID) []Member {
	roles := map[peer.ID][]string{}
	add := func(role Role, ps []peer.ID) {
		for _, p := range ps {
			roles[p] = append(roles[p], string(role))
		}
	}
	switch c := c.(type) {
	case *DynamicController:
		add(RoleAdmin, c.Admins())
		add(RoleWriter, c.Admins()) // an admin may write
		add(RoleWriter, c.Writers())
		add(RoleReader, c.Readers())
	case *StaticController:
		add(RoleWriter, c.Writers())
		add(RoleReader, c.Readers())
	default:
		add(RoleReader, also)
	}
	out := make([]Member, 0, len(roles))
	for p, rs := range roles {
		rs = append(rs, string(RoleReader))
		slices.Sort(rs)
		out = append(out, Member{PeerID: p, Roles: slices.Compact(rs)})
	}
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(string(a.PeerID), string(b.PeerID)) })
	return out
}
