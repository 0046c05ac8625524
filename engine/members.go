package engine

import (
	"context"
	"fmt"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/internal/sealing"
)

// MemberRecordProtocol answers a peer's member key record (see
// Engine.MemberRecord): one signed record per stream, then close.
const MemberRecordProtocol = sealing.RecordProtocol

// PeerMemberRecord asks a connected (or dialable) peer for its member key
// record and checks that it is p's.
func (e *Engine) PeerMemberRecord(ctx context.Context, p peer.ID) ([]byte, error) {
	if p == e.ID() {
		return e.MemberRecord(ctx)
	}
	ctx, leave, err := e.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer leave()
	return sealing.Fetch(ctx, e.host, p)
}

// Member is a peer with roles in a database: "admin", "writer",
// "reader" (a writer or admin reads too, and is listed as a reader).
type Member = accesscontrol.Member

// Members lists who holds which role, as far as this replica knows:
// for a dynamic controller its grants, for a static one its writers, and
// for a sealed database without a ReadGate every peer it was shared
// with. Sorted by peer ID.
func (db *Database) Members(ctx context.Context) ([]Member, error) {
	var shared []peer.ID
	if db.sealer != nil {
		for _, r := range db.sealer.Readers() {
			shared = append(shared, r.Peer)
		}
	}
	return accesscontrol.Members(db.access, shared), nil
}

// GrantMember gives p a role ("reader", "writer" or "admin") in a
// database with a dynamic controller, and, if the database is sealed,
// makes p a reader: its member record is asked of p (which must be
// reachable) and the current epoch is wrapped to it. For a sealed database
// without a dynamic controller, role "reader" only shares the database.
func (db *Database) GrantMember(ctx context.Context, p peer.ID, role accesscontrol.Role) error {
	_, dynamic := db.access.(*accesscontrol.DynamicController)
	if dynamic {
		if err := db.Grant(ctx, p, role); err != nil {
			return err
		}
	} else if db.sealer == nil || role != accesscontrol.RoleReader {
		return fmt.Errorf("%w: database %s has a %q controller; grants need a dynamic one",
			accesscontrol.ErrBadConfig, db.addr.Name, db.access.Type())
	}
	if db.sealer == nil {
		return nil
	}
	rec, err := db.e.PeerMemberRecord(ctx, p)
	if err != nil {
		return err
	}
	return db.Share(ctx, rec)
}

// RevokeMember takes a role away from p (dynamic controllers). On a
// sealed database, once p reads no more, a new epoch is started at once,
// wrapped to the remaining readers: p cannot read what is written
// afterwards.
func (db *Database) RevokeMember(ctx context.Context, p peer.ID, role accesscontrol.Role) error {
	if err := db.Revoke(ctx, p, role); err != nil {
		return err
	}
	if db.sealer == nil {
		return nil
	}
	return db.Rotate(ctx)
}

// Rotate starts a new epoch of a sealed database if the current one is
// wrapped to a peer that reads no more, or if force is asked with
// RotateNow. It is what RevokeMember does after a revocation.
func (db *Database) Rotate(ctx context.Context) error {
	return db.rotate(ctx, false)
}

// RotateNow starts a new epoch of a sealed database, wrapped to every
// current reader whose member record is known: on demand, for instance
// after a device was lost.
func (db *Database) RotateNow(ctx context.Context) error {
	return db.rotate(ctx, true)
}

func (db *Database) rotate(ctx context.Context, force bool) error {
	s := db.sealer
	if s == nil {
		return fmt.Errorf("%w: database %s is not sealed", ErrBadOption, db.addr.Name)
	}
	p, err := s.Rotation(force)
	if err != nil || p == nil {
		return err
	}
	return db.write(ctx, func(t *txn) error {
		m, err := s.AddPackage(p)
		t.stageMeta(m)
		return err
	})
}
