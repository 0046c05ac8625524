package engine

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/internal/seal"
)

// MemberRecordProtocol answers a peer's member key record (see
// Engine.MemberRecord): one signed record per stream, then close. The
// record is public (it holds a public key); its signature tells whose it
// is, so it can come from anyone.
const MemberRecordProtocol protocol.ID = "/lattice/seal/member/1.0.0"

// maxRecordSize bounds a member record read from a peer.
const maxRecordSize = 8 << 10

// serveMemberRecords answers MemberRecordProtocol with this engine's
// record.
func (e *Engine) serveMemberRecords() {
	e.host.SetStreamHandler(MemberRecordProtocol, func(st network.Stream) {
		defer st.Close()
		ctx, leave, err := e.enter(context.Background())
		if err != nil {
			_ = st.Reset()
			return
		}
		defer leave()
		rec, err := e.MemberRecord(ctx)
		if err != nil {
			_ = st.Reset()
			return
		}
		_ = st.SetWriteDeadline(time.Now().Add(10 * time.Second))
		_, _ = st.Write(rec)
	})
}

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
	st, err := e.host.NewStream(ctx, p, MemberRecordProtocol)
	if err != nil {
		return nil, fmt.Errorf("engine: member record of %s: %w", p, err)
	}
	defer st.Close()
	if d, ok := ctx.Deadline(); ok {
		_ = st.SetReadDeadline(d)
	} else {
		_ = st.SetReadDeadline(time.Now().Add(10 * time.Second))
	}
	b, err := io.ReadAll(io.LimitReader(st, maxRecordSize+1))
	if err != nil || len(b) > maxRecordSize {
		return nil, fmt.Errorf("engine: member record of %s: %v", p, err)
	}
	rec, err := seal.DecodeMemberRecord(b)
	if err != nil {
		return nil, err
	}
	if rec.Peer != p {
		return nil, fmt.Errorf("%w: %s answered %s's record", seal.ErrBadRecord, p, rec.Peer)
	}
	return b, nil
}

// Member is a peer with roles in a database: "admin", "writer",
// "reader" (a writer or admin reads too, and is listed as a reader).
type Member struct {
	PeerID peer.ID  `json:"peerId"`
	Roles  []string `json:"roles"`
}

// Members lists who holds which role, as far as this replica knows:
// for a dynamic controller its grants, for a static one its writers, and
// for a sealed database without a ReadGate every peer it was shared
// with. Sorted by peer ID.
func (db *Database) Members(ctx context.Context) ([]Member, error) {
	roles := map[peer.ID][]string{}
	add := func(role accesscontrol.Role, ps []peer.ID) {
		for _, p := range ps {
			roles[p] = append(roles[p], string(role))
		}
	}
	switch c := db.access.(type) {
	case *accesscontrol.DynamicController:
		add(accesscontrol.RoleAdmin, c.Admins())
		add(accesscontrol.RoleWriter, c.Writers())
		add(accesscontrol.RoleReader, c.Readers())
		for p, rs := range roles {
			if slices.Contains(rs, string(accesscontrol.RoleAdmin)) && !slices.Contains(rs, string(accesscontrol.RoleWriter)) {
				roles[p] = append(roles[p], string(accesscontrol.RoleWriter)) // an admin may write
			}
		}
	case *accesscontrol.StaticController:
		add(accesscontrol.RoleWriter, c.Writers())
	default:
		if db.sealer != nil {
			for _, r := range db.sealer.readers() {
				roles[r.Peer] = nil
			}
		}
	}
	out := make([]Member, 0, len(roles))
	for p, rs := range roles {
		if !slices.Contains(rs, string(accesscontrol.RoleReader)) {
			rs = append(rs, string(accesscontrol.RoleReader))
		}
		slices.Sort(rs)
		out = append(out, Member{PeerID: p, Roles: slices.Compact(rs)})
	}
	slices.SortFunc(out, func(a, b Member) int {
		switch {
		case a.PeerID < b.PeerID:
			return -1
		case a.PeerID > b.PeerID:
			return 1
		}
		return 0
	})
	return out, nil
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
	if !force && !s.ring.NeedsRotation(s.isReader) {
		return nil
	}
	// One package, made before the write: the write's function may run
	// more than once, and each run must stage the same epoch.
	p, _, err := s.ring.Rotate(db.e.key, s.readers(), db.e.cfg.clock())
	if err != nil {
		return err
	}
	return db.write(ctx, func(t *txn) error {
		t.stageMeta(packageMutation(p))
		return s.ring.Add(p)
	})
}
