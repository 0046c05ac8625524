package node

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/invitegrant"
)

// Invites that make members. On a database whose members are named (a
// dynamic controller, or a sealed database), POST /v1/invites puts a key
// in the link (key=, 128 random bits) and remembers it with a role and an
// expiry (default 7 days). The invitee's Join redeems the key with the
// inviter over InviteGrantProtocol before it opens the database: the
// inviter grants the invitee the role (a dynamic controller's entry) and,
// on a sealed database, wraps the current epoch to it, so the invitee
// reads and writes with no further step. A key works once: a link that
// leaks after use, or after it expired, grants nothing, and its redeemer
// is told so by name. Pending keys are kept in StateDir (invites.json,
// hashed), so they survive the inviter's restart.

// InviteGrantProtocol redeems an invite key with its inviter: one JSON
// request ({"key", "database"}) and one JSON answer ({"role"} or
// {"error"}) per stream (see internal/invitegrant).
const InviteGrantProtocol = invitegrant.Protocol

// Bounds of invite keys.
const (
	// DefaultInviteTTL is how long an invite key works when its request
	// names no expiry; MaxInviteTTL the longest one may ask for.
	DefaultInviteTTL = 7 * 24 * time.Hour
	MaxInviteTTL     = 30 * 24 * time.Hour
	// maxPendingInvites bounds the keys a node keeps; beyond it, POST
	// /v1/invites answers 429 until some are used or expire.
	maxPendingInvites = 1024
	// inviteKeyLen is the length of a key in a link: 128 bits in
	// lower-case base32 without padding.
	inviteKeyLen = 26
)

// ErrInviteRefused is wrapped by a Join whose invite key the inviter
// refused: used, expired, unknown or for another database.
var ErrInviteRefused = errors.New("node: invite refused")

// pendingInvite is one key waiting for its invitee.
type pendingInvite struct {
	Database string             `json:"database"`
	Role     accesscontrol.Role `json:"role"`
	Expires  time.Time          `json:"expires"`
}

// inviteKeys are the keys this node handed out, by the hash of each.
type inviteKeys struct {
	path  string // invites.json in StateDir; "" keeps them in memory only
	clock func() time.Time
	log   hclog.Logger

	mu      sync.Mutex
	pending map[string]pendingInvite
	used    map[string]time.Time // redeemed keys until they would have expired: "already used", not "unknown"
}

func newInviteKeys(stateDir string, clock func() time.Time, log hclog.Logger) *inviteKeys {
	k := &inviteKeys{clock: clock, log: log, pending: map[string]pendingInvite{}, used: map[string]time.Time{}}
	if stateDir == "" {
		return k
	}
	k.path = filepath.Join(stateDir, "invites.json")
	b, err := os.ReadFile(k.path)
	if err != nil {
		return k
	}
	var st struct {
		Pending map[string]pendingInvite `json:"pending"`
		Used    map[string]time.Time     `json:"used"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		log.Warn("ignoring unreadable invites.json", "error", err)
		return k
	}
	for h, p := range st.Pending {
		k.pending[h] = p
	}
	for h, t := range st.Used {
		k.used[h] = t
	}
	return k
}

func hashKey(key string) string {
	h := sha256.Sum256([]byte("lattice invite key\x00" + key))
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(h[:])
}

// add makes a key for role in database, valid for ttl.
func (k *inviteKeys) add(database string, role accesscontrol.Role, ttl time.Duration) (string, time.Time, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", time.Time{}, err
	}
	key := strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
	k.mu.Lock()
	defer k.mu.Unlock()
	k.prune()
	if len(k.pending) >= maxPendingInvites {
		return "", time.Time{}, errorf(http.StatusTooManyRequests, "too_many_requests", "%d invites are waiting to be used: wait for some to be used or to expire", maxPendingInvites)
	}
	exp := k.clock().Add(ttl)
	k.pending[hashKey(key)] = pendingInvite{Database: database, Role: role, Expires: exp}
	k.save()
	return key, exp, nil
}

// take redeems key for database: the pending invite, removed, or an
// error saying why not. give puts it back (a grant that failed).
func (k *inviteKeys) take(key, database string) (pendingInvite, error) {
	h := hashKey(key)
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.clock()
	p, ok := k.pending[h]
	switch {
	case !ok && !k.used[h].IsZero():
		return p, fmt.Errorf("%w: this invite was already used", ErrInviteRefused)
	case !ok:
		return p, fmt.Errorf("%w: this invite is unknown to its inviter (or expired long ago)", ErrInviteRefused)
	case !now.Before(p.Expires):
		delete(k.pending, h)
		k.save()
		return p, fmt.Errorf("%w: this invite expired on %s", ErrInviteRefused, p.Expires.UTC().Format(time.RFC3339))
	case p.Database != database:
		return p, fmt.Errorf("%w: this invite is for another database", ErrInviteRefused)
	}
	delete(k.pending, h)
	k.used[h] = p.Expires
	k.save()
	return p, nil
}

func (k *inviteKeys) give(key string, p pendingInvite) {
	h := hashKey(key)
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.used, h)
	k.pending[h] = p
	k.save()
}

// prune forgets expired keys; k.mu held.
func (k *inviteKeys) prune() {
	now := k.clock()
	for h, p := range k.pending {
		if !now.Before(p.Expires) {
			delete(k.pending, h)
		}
	}
	for h, exp := range k.used {
		if !now.Before(exp) {
			delete(k.used, h)
		}
	}
}

// save writes the keys' hashes to invites.json; k.mu held.
func (k *inviteKeys) save() {
	if k.path == "" {
		return
	}
	b, _ := json.Marshal(map[string]any{"pending": k.pending, "used": k.used})
	tmp := k.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		k.log.Warn("cannot save invites", "error", err)
		return
	}
	if err := os.Rename(tmp, k.path); err != nil {
		k.log.Warn("cannot save invites", "error", err)
	}
}

// inviteRole decides whether an invite to db carries a key, and for which
// role: none for a database anyone with the address may join (open and
// not sealed) or whose members are fixed (static and not sealed). asked
// is the role the request names ("" for the default: writer where the
// controller can grant it, else reader).
func inviteRole(db *engine.Database, self string, asked string) (accesscontrol.Role, error) {
	dyn, dynamic := db.Access().(*accesscontrol.DynamicController)
	if !dynamic && !db.Sealed() {
		if asked != "" {
			return "", errorf(http.StatusBadRequest, "bad_request", "role: database %s has a %q controller, whose members an invite cannot change", db.Name(), db.Access().Type())
		}
		return "", nil
	}
	if dynamic {
		admin := false
		for _, a := range dyn.Admins() {
			admin = admin || a.String() == self
		}
		if !admin {
			return "", errorf(http.StatusForbidden, "forbidden", "only an admin of %s can invite new members", db.Name())
		}
	}
	role := accesscontrol.Role(asked)
	switch {
	case role == "" && dynamic:
		role = accesscontrol.RoleWriter
	case role == "":
		role = accesscontrol.RoleReader
	case role != accesscontrol.RoleReader && role != accesscontrol.RoleWriter && role != accesscontrol.RoleAdmin:
		return "", errorf(http.StatusBadRequest, "bad_request", "role %q: want reader, writer or admin", asked)
	case !dynamic && role != accesscontrol.RoleReader:
		return "", errorf(http.StatusBadRequest, "bad_request", "role %q: database %s has a %q controller; an invite can only make readers", asked, db.Name(), db.Access().Type())
	}
	return role, nil
}

// serveGrants answers InviteGrantProtocol on h.
func (n *Node) serveGrants(h host.Host) {
	h.SetStreamHandler(InviteGrantProtocol, func(st network.Stream) {
		defer st.Close()
		ctx, cancel := context.WithTimeout(n.ctx, invitegrant.Timeout)
		defer cancel()
		d, _ := ctx.Deadline()
		_ = st.SetDeadline(d)
		var req invitegrant.Request
		if err := json.NewDecoder(io.LimitReader(st, invitegrant.MaxMessage)).Decode(&req); err != nil {
			_ = st.Reset()
			return
		}
		ans := invitegrant.Answer{}
		role, err := n.redeem(ctx, req, st.Conn().RemotePeer().String())
		if err != nil {
			ans.Error = err.Error()
		} else {
			ans.Role = string(role)
		}
		_ = json.NewEncoder(st).Encode(ans)
	})
}

// redeem grants the role of req's invite to peer p.
func (n *Node) redeem(ctx context.Context, req invitegrant.Request, p string) (accesscontrol.Role, error) {
	if len(req.Key) != inviteKeyLen {
		return "", fmt.Errorf("%w: a malformed invite key", ErrInviteRefused)
	}
	inv, err := n.keys.take(req.Key, req.Database)
	if err != nil {
		return "", err
	}
	db, err := n.database(ctx, req.Database)
	if err == nil {
		err = grantTo(ctx, db, p, inv.Role)
	}
	if err != nil {
		n.keys.give(req.Key, inv) // the key stays good: the grant did not happen
		n.log.Warn("invite grant failed", "database", req.Database, "error", err)
		return "", fmt.Errorf("the inviter could not make you a member: %v", err)
	}
	return inv.Role, nil
}

// grantTo gives peer p (an encoded peer ID) role in db: a dynamic
// controller's grant and, on a sealed database, the current epoch.
func grantTo(ctx context.Context, db *engine.Database, p string, role accesscontrol.Role) error {
	id, err := peer.Decode(p)
	if err != nil {
		return err
	}
	return db.GrantMember(ctx, id, role)
}

// claimInvite redeems inv's key for database address with the inviter
// (connected).
func (n *Node) claimInvite(ctx context.Context, inv Invite, address string) error {
	_, err := invitegrant.Claim(ctx, n.e.Host(), inv.Peer, inv.Key, address)
	switch {
	case errors.Is(err, invitegrant.ErrRefused):
		return errorf(http.StatusForbidden, "forbidden", "%s", strings.TrimPrefix(err.Error(), invitegrant.ErrRefused.Error()+": "))
	case err != nil:
		return errorf(http.StatusBadGateway, "unreachable", "%v", err)
	}
	return nil
}

// holds tells whether this node already has the database at address
// (open, or stored from an earlier join): a member re-following its link
// need not redeem the key again.
func (n *Node) holds(ctx context.Context, address string) bool {
	n.mu.Lock()
	_, open := n.dbs[address]
	n.mu.Unlock()
	if open {
		return true
	}
	infos, err := n.e.Databases(ctx)
	if err != nil {
		return false
	}
	for _, info := range infos {
		if info.Address == address {
			return true
		}
	}
	return false
}
