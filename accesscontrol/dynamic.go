package accesscontrol

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// TypeDynamic is the type of the dynamic controller.
const TypeDynamic = "dynamic"

// dynamicParams is the JSON form of a dynamic controller's params.
type dynamicParams struct {
	Admins []peer.ID `json:"admins"`
}

// Dynamic returns the config of a database whose writers change over time
// through signed grants and revocations. admins are the founding admins,
// sorted and deduplicated; each must have an Ed25519 or secp256k1 peer ID
// (one that embeds its public key), since admins sign entries.
func Dynamic(admins ...peer.ID) Config {
	return Config{Type: TypeDynamic, Params: mustJSON(dynamicParams{Admins: sortedIDs(admins)})}
}

// DynamicController lets admins grant and revoke the writer and admin roles
// with signed entries replicated inside the database.
//
// # Semantics
//
// The state is a deterministic function of the set of valid entries held,
// whatever order they arrived in. It is computed by replaying the entries in
// a fixed order, starting from the founding admins:
//
//   - Entries are ordered by Lamport time; at equal time revocations come
//     before grants; remaining ties are broken by role, target and issuer.
//   - An entry takes effect only if its issuer is an admin at that point of
//     the replay. So a revoked admin's entries with a Lamport time above its
//     revocation have no effect, while those below it keep theirs.
//   - For each (target, role) the effective entry with the greatest
//     Lamport time decides; at equal time a revocation beats a grant.
//   - Founding admins cannot be revoked: revocations of their admin role are
//     ignored. The manifest, and so the database address, pins them, which
//     keeps the database administrable and stops one rogue admin from
//     locking the founders out. To retire a founder, create a new database.
//   - An admin may write whether or not it also holds the writer role.
//
// Issuers should stamp entries with NextLamport, which is above every
// Lamport time the replica has seen, so that a re-grant after a revocation
// (or a grant made by a freshly granted admin) orders after it.
//
// # Cost
//
// The state is cached. An entry that sorts after every held entry (the usual
// case for fresh grants) is folded in directly; an older one marks the cache
// stale and the next read sorts and replays everything once, so a replica
// that applies a burst of n entries in any order (catching up) pays
// O(n log n) once, not O(n²). Apply verifies signatures outside the lock.
type DynamicController struct {
	db       string
	founders map[peer.ID]struct{}
	log      hclog.Logger

	mu      sync.RWMutex
	sorted  []entryKey         // held entries, in replay order unless stale
	held    map[entryKey]Entry // by key; on duplicate keys the smallest signature is kept
	maxLamp uint64             // greatest Lamport time held
	seen    uint64             // greatest Lamport time observed elsewhere (Observe)
	stale   bool               // sorted must be sorted and st replayed
	st      dynamicState       // the replayed state
	gen     atomic.Uint64      // bumped whenever a new entry is held
}

var (
	_ Controller = (*DynamicController)(nil)
	_ Replicated = (*DynamicController)(nil)
)

// NewDynamic is the factory of the "dynamic" controller. params are
// {"admins": [peer IDs...]} with at least one admin, each embedding its
// public key. env.Database is required: entries are bound to it.
func NewDynamic(params json.RawMessage, env Env) (Controller, error) {
	return newDynamic(params, env)
}

func newDynamic(params json.RawMessage, env Env) (*DynamicController, error) {
	var p dynamicParams
	if err := decodeParams(TypeDynamic, params, &p); err != nil {
		return nil, err
	}
	if env.Database == "" {
		return nil, badConfig("dynamic controller: Env.Database is required, entries are bound to it")
	}
	admins := sortedIDs(p.Admins)
	if len(admins) == 0 {
		return nil, badConfig("a dynamic controller needs at least one founding admin")
	}
	c := &DynamicController{
		db:       env.Database,
		founders: make(map[peer.ID]struct{}, len(admins)),
		log:      env.logger(),
		held:     make(map[entryKey]Entry),
	}
	for _, id := range admins {
		if _, err := id.ExtractPublicKey(); err != nil {
			return nil, badConfig("dynamic controller: founding admin %s does not embed its public key (use an Ed25519 or secp256k1 identity): %v", id, err)
		}
		c.founders[id] = struct{}{}
	}
	c.st = newDynamicState(c.founders)
	return c, nil
}

// Type returns "dynamic".
func (c *DynamicController) Type() string { return TypeDynamic }

// CanWrite allows writes by current writers and admins; writes carrying
// access-control entries need an admin.
func (c *DynamicController) CanWrite(_ context.Context, w Write) error {
	if w.Database != c.db {
		return denied("write for database %.128q judged by the controller of %q", w.Database, c.db)
	}
	var admin, writer bool
	c.read(func(s *dynamicState) {
		_, admin = s.admins[w.Author]
		_, writer = s.writers[w.Author]
	})
	switch {
	case w.ACL && !admin:
		return denied("peer %s is not an admin: only admins may grant or revoke", authorString(w.Author))
	case !admin && !writer:
		return denied("peer %s is not a writer of this database", authorString(w.Author))
	}
	return nil
}

// CanAnnounce admits current writers and admins. A peer revoked since it
// wrote stays silent, and others stop relaying it; its existing deltas
// remain reachable through the heads of peers that merged them.
func (c *DynamicController) CanAnnounce(_ context.Context, p peer.ID) error {
	var ok bool
	c.read(func(s *dynamicState) {
		_, admin := s.admins[p]
		_, writer := s.writers[p]
		ok = admin || writer
	})
	if !ok {
		return denied("peer %s is not a writer of this database", authorString(p))
	}
	return nil
}

var _ AnnounceGate = (*DynamicController)(nil)

// Apply validates an entry and folds it into the state. Entries for another
// database, badly signed or malformed ones return an error wrapping
// ErrInvalidEntry. Re-applying a held entry is a no-op.
func (c *DynamicController) Apply(b []byte) error {
	e, err := ParseEntry(b) // verify outside the lock
	if err != nil {
		return err
	}
	if e.Database != c.db {
		return invalidEntry("entry for database %.128q, not %q", e.Database, c.db)
	}
	k := e.key()
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.held[k]; ok {
		// Same fields, other signature (ECDSA signatures are malleable):
		// keep one deterministically so Entries agrees across replicas.
		if bytes.Compare(e.Sig, old.Sig) < 0 {
			c.held[k] = e
		}
		return nil
	}
	c.held[k] = e
	c.maxLamp = max(c.maxLamp, e.Lamport)
	c.gen.Add(1)
	last := len(c.sorted) - 1
	c.sorted = append(c.sorted, k)
	if !c.stale && (last < 0 || compareKeys(k, c.sorted[last]) > 0) {
		c.st.apply(e, c.founders) // sorts after everything held: fold in
	} else {
		c.stale = true // sort and replay on the next read
	}
	c.log.Debug("access-control entry applied", "entry", e.String())
	return nil
}

// Entries returns every valid entry held, canonically encoded, in replay
// order.
func (c *DynamicController) Entries() [][]byte {
	var out [][]byte
	c.read(func(*dynamicState) {
		out = make([][]byte, 0, len(c.sorted))
		for _, k := range c.sorted {
			if b, err := c.held[k].Marshal(); err == nil {
				out = append(out, b)
			}
		}
	})
	return out
}

// NextLamport returns the Lamport time a new entry should carry: one more
// than the greatest held or observed.
func (c *DynamicController) NextLamport() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return min(max(c.maxLamp, c.seen)+1, MaxLamport)
}

// Observe tells the controller of a Lamport time carried by another
// admin-signed entry replicated in the database (a schema change, see
// package validation), so that NextLamport orders later grants and
// revocations after it. It changes no role.
func (c *DynamicController) Observe(lamport uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen = max(c.seen, min(lamport, MaxLamport))
}

// AdminAt reports whether p may sign an admin-only entry stamped with
// Lamport time lamport other than a grant or revocation (a schema change):
// whether p is an admin in the state replayed from every entry with a
// smaller Lamport time and the revocations at lamport. Founding admins
// always are. Like every answer of the controller it depends only on the
// set of entries held.
func (c *DynamicController) AdminAt(p peer.ID, lamport uint64) bool {
	if _, ok := c.founders[p]; ok {
		return true
	}
	admin := false
	c.read(func(s *dynamicState) {
		for _, m := range s.adminLog[p] {
			if m.lamport > lamport || (m.lamport == lamport && !m.revoke) {
				break
			}
			admin = !m.revoke
		}
	})
	return admin
}

// Generation changes whenever the controller holds a new entry, so a
// caller that caches answers of AdminAt knows when to ask again.
func (c *DynamicController) Generation() uint64 { return c.gen.Load() }

// Grant returns a grant of role to target signed by priv, stamped with
// NextLamport. It does not apply it: store it and let the engine Apply it
// like any other entry.
func (c *DynamicController) Grant(priv crypto.PrivKey, target peer.ID, role Role) ([]byte, error) {
	return NewGrant(priv, c.db, target, role, c.NextLamport())
}

// Revoke returns a revocation of role from target signed by priv, stamped
// with NextLamport. See Grant.
func (c *DynamicController) Revoke(priv crypto.PrivKey, target peer.ID, role Role) ([]byte, error) {
	return NewRevoke(priv, c.db, target, role, c.NextLamport())
}

// Admins returns the current admins, founders included, sorted.
func (c *DynamicController) Admins() []peer.ID {
	var out []peer.ID
	c.read(func(s *dynamicState) { out = setList(s.admins) })
	return out
}

// Writers returns the peers currently holding the writer role, sorted.
// Admins may write too, whether listed here or not.
func (c *DynamicController) Writers() []peer.ID {
	var out []peer.ID
	c.read(func(s *dynamicState) { out = setList(s.writers) })
	return out
}

// IsFounder reports whether id is a founding admin.
func (c *DynamicController) IsFounder(id peer.ID) bool {
	_, ok := c.founders[id]
	return ok
}

// read runs fn, under the lock, on an up-to-date state: if entries arrived
// out of order it sorts them and replays first.
func (c *DynamicController) read(fn func(*dynamicState)) {
	c.mu.RLock()
	if !c.stale {
		defer c.mu.RUnlock()
		fn(&c.st)
		return
	}
	c.mu.RUnlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stale {
		slices.SortFunc(c.sorted, compareKeys)
		c.st = newDynamicState(c.founders)
		for _, k := range c.sorted {
			c.st.apply(c.held[k], c.founders)
		}
		c.stale = false
	}
	fn(&c.st)
}

// stamp is when and how a (target, role) was last decided.
type stamp struct {
	lamport uint64
	revoke  bool
}

// after reports whether s outranks o: later, or as late and a revocation.
func (s stamp) after(o stamp) bool {
	return s.lamport > o.lamport || (s.lamport == o.lamport && s.revoke && !o.revoke)
}

type roleKey struct {
	target peer.ID
	role   Role
}

// dynamicState is the result of a replay.
type dynamicState struct {
	admins  map[peer.ID]struct{}
	writers map[peer.ID]struct{}
	readers map[peer.ID]struct{} // RoleReader (read.go)
	decided map[roleKey]stamp
	// adminLog holds, per peer, every change of its admin role that took
	// effect, in replay order (AdminAt).
	adminLog map[peer.ID][]stamp
}

func newDynamicState(founders map[peer.ID]struct{}) dynamicState {
	s := dynamicState{
		admins:   make(map[peer.ID]struct{}, len(founders)),
		writers:  make(map[peer.ID]struct{}),
		readers:  make(map[peer.ID]struct{}),
		decided:  make(map[roleKey]stamp),
		adminLog: make(map[peer.ID][]stamp),
	}
	for id := range founders {
		s.admins[id] = struct{}{}
	}
	return s
}

// apply folds one entry in, in replay order.
func (s *dynamicState) apply(e Entry, founders map[peer.ID]struct{}) {
	if _, ok := s.admins[e.Issuer]; !ok {
		return // issuer has no authority at this point
	}
	if _, founder := founders[e.Target]; founder && e.Role == RoleAdmin {
		return // founders' admin role is pinned by the manifest
	}
	rk := roleKey{target: e.Target, role: e.Role}
	st := stamp{lamport: e.Lamport, revoke: e.Op == OpRevoke}
	if old, ok := s.decided[rk]; ok && !st.after(old) {
		return
	}
	s.decided[rk] = st
	set := s.writers
	switch e.Role {
	case RoleAdmin:
		set = s.admins
		s.adminLog[e.Target] = append(s.adminLog[e.Target], st)
	case RoleReader:
		set = s.readers
	}
	if st.revoke {
		delete(set, e.Target)
	} else {
		set[e.Target] = struct{}{}
	}
}

// setList returns a set's members sorted.
func setList(m map[peer.ID]struct{}) []peer.ID {
	out := make([]peer.ID, 0, len(m))
	for id := range m {
		out = append(out, id)
	}
	return sortedIDs(out)
}
