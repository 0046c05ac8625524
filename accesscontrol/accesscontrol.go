package accesscontrol

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"slices"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Config is what a database manifest stores about its controller. It is
// JSON-encoded inside the manifest, so the database address pins it: two
// manifests with equal Configs (byte for byte) give the same address.
type Config struct {
	// Type names the controller: "open", "static", "dynamic", "token" or a
	// custom type registered with a plugins.Registry.
	Type string `json:"type"`
	// Params are the controller's parameters, interpreted by its factory.
	Params json.RawMessage `json:"params,omitempty"`
}

// Equal reports whether two configs name the same type with byte-identical
// parameters.
func (c Config) Equal(o Config) bool {
	return c.Type == o.Type && bytes.Equal(c.Params, o.Params)
}

// Write is one write to authorise: a local write before it is stored, or a
// remote delta before it is merged.
type Write struct {
	// Database is the database address, "/lattice/<cid>/<name>".
	Database string
	// Author is the peer that signed the write (from the signature on the
	// delta, never from an unsigned field).
	Author peer.ID
	// Collections lists the collections the write touches, sorted and
	// deduplicated.
	Collections []string
	// ACL is true when the write carries access-control entries
	// (grants and revocations of a Replicated controller) or other
	// entries only admins may write (schema changes).
	ACL bool
	// Token is the capability token carried with the write, if any. It must
	// be covered by the author's signature.
	Token []byte
	// Time is when the author signed the write. It is claimed by the author,
	// not attested: see the package documentation's threat model.
	Time time.Time
	// After is the latest Time claimed by the writes this one builds on
	// (the deltas it links to, as far as the judging replica holds them;
	// for a local write, every write the replica has merged); zero when
	// unknown. A write whose Time is more than MaxClockSkew before After was
	// backdated: its author saw writes made later than it claims. Time-bound
	// controllers judge such a write at After − MaxClockSkew instead (see
	// EffectiveTime).
	After time.Time
}

// MaxClockSkew is how far apart honest replicas' clocks may be: a write may
// claim a time up to this much before the writes it builds on.
const MaxClockSkew = 5 * time.Minute

// EffectiveTime is the time a time-bound controller judges w at: its
// claimed Time, or After − MaxClockSkew when that is later (the write was
// backdated below what its author had already seen).
func EffectiveTime(w Write) time.Time {
	if a := w.After.Add(-MaxClockSkew); !w.After.IsZero() && a.After(w.Time) {
		return a
	}
	return w.Time
}

// Controller decides who may write to a database.
//
// Implementations must be safe for concurrent use and cheap: CanWrite runs
// for every local write and every remote delta. CanWrite must not block on
// I/O, must not panic on any input (remote peers choose every field of
// Write), and must return either nil or an error wrapping ErrUnauthorized
// that says why.
type Controller interface {
	// Type returns the controller's type, as stored in Config.Type.
	Type() string
	// CanWrite returns nil if w may be stored or merged.
	CanWrite(ctx context.Context, w Write) error
}

// Replicated is implemented by controllers whose state is replicated inside
// the database, like the dynamic controller's grants and revocations.
//
// The engine stores every entry under a reserved key and feeds each entry it
// sees, local or remote, in any order and possibly more than once, to Apply.
// The resulting state must be identical on every replica that has seen the
// same set of entries: Apply is order-independent and idempotent.
type Replicated interface {
	Controller
	// Apply validates entry (signature, form, database) and folds it into
	// the state. An invalid entry leaves the state unchanged and returns an
	// error wrapping ErrInvalidEntry. A valid entry whose issuer has no
	// authority (yet) is kept: it may take effect once other entries arrive.
	Apply(entry []byte) error
	// Entries returns every valid entry held, in a deterministic order.
	Entries() [][]byte
}

// AnnounceGate is implemented by controllers that can tell from the peer
// alone whether it may announce new heads: the broadcast gate, applied to
// the signed author of every pubsub announcement before any of its heads is
// fetched. A peer the gate refuses also stays silent itself. Controllers
// that need a per-write credential (tokens) do not implement it; the engine
// then admits every signed announcement and judges each delta on its own.
type AnnounceGate interface {
	CanAnnounce(ctx context.Context, p peer.ID) error
}

// Env is what a factory receives when a database is opened.
type Env struct {
	// Database is the database address.
	Database string
	// Self is the local peer.
	Self peer.ID
	// Logger is never nil when the factory is called through a
	// plugins.Registry.
	Logger hclog.Logger
}

// logger returns env's logger, or a null logger.
func (e Env) logger() hclog.Logger {
	if e.Logger == nil {
		return hclog.NewNullLogger()
	}
	return e.Logger
}

// sortedIDs returns ids sorted by their string form and deduplicated, with
// empty IDs removed.
func sortedIDs(ids []peer.ID) []peer.ID {
	out := make([]peer.ID, 0, len(ids))
	for _, id := range ids {
		if id != "" {
			out = append(out, id)
		}
	}
	slices.SortFunc(out, func(a, b peer.ID) int {
		as, bs := a.String(), b.String()
		switch {
		case as < bs:
			return -1
		case as > bs:
			return 1
		}
		return 0
	})
	return slices.Compact(out)
}

// mustJSON marshals v, which must be a plain struct of strings.
func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic("accesscontrol: marshal params: " + err.Error()) // unreachable: v holds strings only
	}
	return b
}

// decodeParams strictly decodes JSON params into v: unknown fields and
// trailing data are configuration errors, so a typo in a manifest fails
// loudly instead of silently granting or denying.
func decodeParams(typ string, params json.RawMessage, v any) error {
	if len(bytes.TrimSpace(params)) == 0 {
		return badConfig("%s controller: missing params", typ)
	}
	dec := json.NewDecoder(bytes.NewReader(params))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badConfig("%s controller: params: %v", typ, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return badConfig("%s controller: params: trailing data", typ)
	}
	return nil
}
