package validation

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Authority says who may change a database's schemas: its dynamic access
// controller (accesscontrol.DynamicController) implements it. Both methods
// must be safe for concurrent use and must not call back into Dynamic.
type Authority interface {
	// AdminAt reports whether p was an admin at Lamport time lamport,
	// as far as the entries held tell.
	AdminAt(p peer.ID, lamport uint64) bool
	// Generation changes whenever answers of AdminAt may have changed.
	Generation() uint64
}

// Replicated is implemented by validators whose rules are replicated
// inside the database (Dynamic). The engine stores every entry under a
// reserved key and feeds each entry it sees, local or remote, in any
// order and possibly more than once, to Apply; the replication layer also
// applies the entries of a remote delta's causal past before judging the
// delta. The resulting rules must be identical on every replica that holds
// the same entries.
type Replicated interface {
	Validator
	// Apply checks an entry (signature, form, database, schema) and holds
	// it. An invalid entry changes nothing and returns an error wrapping
	// ErrBadEntry.
	Apply(entry []byte) error
}

// Dynamic is the validator of a database whose admins may change schemas
// (databases with a dynamic access controller): the manifest's validator,
// and over it, per collection, the schema entries admins sign (SchemaEntry,
// stored in the database and replicated like access-control entries).
//
// # Which schema judges
//
//   - An entry takes effect if its issuer was an admin at its version
//     (Authority.AdminAt: versions are Lamport times of the controller).
//   - Per collection, the effective entry with the greatest version is the
//     collection's schema; at equal versions the greater issuer (by peer
//     ID), then the greater schema digest wins. So concurrent changes
//     resolve alike on every replica, whatever order entries arrive in.
//     A collection without an effective entry keeps the manifest's rules.
//     An entry replaces those rules for its collection; the schema true
//     takes any document.
//   - Local writes (Validate) are judged by the collection's schema.
//     Documents already stored stay as they are, even those the new schema
//     refuses; a write that leaves such a document invalid (even one that
//     does not touch the offending field) is refused, so fix the field in
//     the same write or delete the document.
//   - A change of a remote delta (ValidateChange) passes if the merge-safe
//     rules of any version this replica holds admit it: the collection's
//     schema, every earlier effective entry, or the manifest's rules. An
//     honest writer judged its write by the newest version it held, which
//     lies in the delta's causal past, and replicas apply the entries of a
//     delta's causal past before judging it; so a write made concurrently
//     with a schema change is admitted by every replica, whichever version
//     reached it first, and replicas never disagree about an honest delta.
//     The price: a modified peer that skips its local check can still
//     write values some earlier version admitted. Values no version
//     admits are refused everywhere.
type Dynamic struct {
	base Validator
	db   string
	auth Authority

	any atomic.Bool // an entry is held

	mu      sync.RWMutex
	held    map[string]*schemaVersion // by entry ID
	byColl  map[string][]*schemaVersion
	maxVer  uint64
	gen     uint64                      // auth.Generation() when eff was computed
	stale   bool                        // eff must be computed again
	eff     map[string][]*schemaVersion // effective, newest first
	entries [][]byte
}

var (
	_ Validator  = (*Dynamic)(nil)
	_ Replicated = (*Dynamic)(nil)
)

// schemaVersion is one held entry, compiled.
type schemaVersion struct {
	e      SchemaEntry
	raw    []byte
	digest [32]byte
	cs     *collSchema
}

// NewDynamic returns the validator of database db whose admins auth tells,
// over base (the manifest's validator; Open when it names none).
func NewDynamic(base Validator, db string, auth Authority) *Dynamic {
	if base == nil {
		base = Open{}
	}
	return &Dynamic{base: base, db: db, auth: auth, held: map[string]*schemaVersion{}, byColl: map[string][]*schemaVersion{}}
}

// Type returns the manifest validator's type.
func (d *Dynamic) Type() string { return d.base.Type() }

// Apply checks a schema entry and holds it. Entries for another database,
// badly signed, malformed or with an unusable schema return an error
// wrapping ErrBadEntry (and ErrBadSchema for the schema). Applying a held
// entry again is a no-op.
func (d *Dynamic) Apply(b []byte) error {
	e, err := ParseSchemaEntry(b)
	if err != nil {
		return err
	}
	if e.Database != d.db {
		return fmt.Errorf("%w: entry for database %.128q, not %q", ErrBadEntry, e.Database, d.db)
	}
	id := e.ID()
	d.mu.RLock()
	old := d.held[id]
	d.mu.RUnlock()
	if old != nil && bytes.Compare(e.Sig, old.e.Sig) >= 0 {
		return nil
	}
	cs, err := compileCollection(e.Collection, e.Schema)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadEntry, err)
	}
	raw, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("%w: encode: %v", ErrBadEntry, err)
	}
	v := &schemaVersion{e: e, raw: raw, digest: sha256.Sum256(e.Schema), cs: cs}
	d.mu.Lock()
	defer d.mu.Unlock()
	if old := d.held[id]; old != nil {
		// Same fields, other signature (malleable signatures): keep one
		// deterministically.
		if bytes.Compare(e.Sig, old.e.Sig) >= 0 {
			return nil
		}
		i := slices.Index(d.byColl[e.Collection], old)
		d.byColl[e.Collection][i] = v
	} else {
		d.byColl[e.Collection] = append(d.byColl[e.Collection], v)
	}
	d.held[id] = v
	d.maxVer = max(d.maxVer, e.Version)
	d.stale, d.entries = true, nil
	d.any.Store(true)
	return nil
}

// Entries returns every valid entry held, encoded, in a deterministic
// order.
func (d *Dynamic) Entries() [][]byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.entries == nil {
		all := make([]*schemaVersion, 0, len(d.held))
		for _, v := range d.held {
			all = append(all, v)
		}
		slices.SortFunc(all, func(a, b *schemaVersion) int {
			if c := strings.Compare(a.e.Collection, b.e.Collection); c != 0 {
				return c
			}
			return newer(b, a)
		})
		d.entries = make([][]byte, len(all))
		for i, v := range all {
			d.entries[i] = v.raw
		}
	}
	return d.entries
}

// NextVersion is one above the greatest version held.
func (d *Dynamic) NextVersion() uint64 {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return min(d.maxVer+1, MaxVersion)
}

// Current returns the entry that is coll's schema, if one is.
func (d *Dynamic) Current(coll string) (SchemaEntry, bool) {
	if eff := d.effective(coll); len(eff) > 0 {
		return eff[0].e, true
	}
	return SchemaEntry{}, false
}

// AcceptsAll reports whether the validator takes every document: no entry
// is held and the manifest's validator takes everything.
func (d *Dynamic) AcceptsAll() bool { return !d.any.Load() && AcceptsAll(d.base) }

// Validate judges a whole document by its collection's schema.
func (d *Dynamic) Validate(coll string, doc map[string]any) error {
	if eff := d.effective(coll); len(eff) > 0 {
		return eff[0].cs.validate(coll, doc)
	}
	return d.base.Validate(coll, doc)
}

// ValidateChange admits a change that the merge-safe rules of any version
// held admit (see Dynamic); otherwise it returns the refusal of the
// collection's schema.
func (d *Dynamic) ValidateChange(c Change) error {
	eff := d.effective(c.Collection)
	if len(eff) == 0 {
		return d.base.ValidateChange(c)
	}
	first := eff[0].cs.validateChange(c)
	if first == nil {
		return nil
	}
	for _, v := range eff[1:] {
		if v.cs.validateChange(c) == nil {
			return nil
		}
	}
	if d.base.ValidateChange(c) == nil {
		return nil
	}
	return first
}

// effective returns coll's effective entries, newest first.
func (d *Dynamic) effective(coll string) []*schemaVersion {
	if !d.any.Load() {
		return nil
	}
	gen := d.auth.Generation()
	d.mu.RLock()
	if !d.stale && d.gen == gen {
		defer d.mu.RUnlock()
		return d.eff[coll]
	}
	d.mu.RUnlock()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stale || d.gen != gen {
		d.eff = make(map[string][]*schemaVersion, len(d.byColl))
		for c, vs := range d.byColl {
			var out []*schemaVersion
			for _, v := range vs {
				if d.auth.AdminAt(v.e.Issuer, v.e.Version) {
					out = append(out, v)
				}
			}
			slices.SortFunc(out, func(a, b *schemaVersion) int { return newer(b, a) })
			if len(out) > 0 {
				d.eff[c] = out
			}
		}
		d.stale, d.gen = false, gen
	}
	return d.eff[coll]
}

// newer compares two versions of one collection's schema: positive when a
// wins over b (greater version, then greater issuer, then greater schema
// digest).
func newer(a, b *schemaVersion) int {
	switch {
	case a.e.Version != b.e.Version:
		if a.e.Version > b.e.Version {
			return 1
		}
		return -1
	case a.e.Issuer != b.e.Issuer:
		return strings.Compare(string(a.e.Issuer), string(b.e.Issuer))
	}
	return bytes.Compare(a.digest[:], b.digest[:])
}

// AcceptsAll reports whether v takes every document and every change
// without looking (Open, or a Dynamic with nothing over Open): callers
// skip materialising documents for it.
func AcceptsAll(v Validator) bool {
	switch x := v.(type) {
	case nil, Open:
		return true
	case interface{ AcceptsAll() bool }:
		return x.AcceptsAll()
	}
	return false
}
