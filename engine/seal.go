package engine

import (
	"context"
	"fmt"

	"github.com/latticedb/lattice/crdt"
	"github.com/latticedb/lattice/internal/seal"
	"github.com/latticedb/lattice/internal/sealing"
)

// Sealed databases (docs/sealed.md): only members read them. The manifest
// pins the genesis epoch; a sealing.Sealer per open database seals every
// document, collection and index key and value just before it enters
// go-ds-crdt's batch (from commit) and opens them for the read model. Key
// packages and member records are entries under /k/, applied by onMeta
// like access-control entries.

// WithSealed makes the database sealed: readable by its members only.
// Values and key components (collection names, document ids, field names)
// are encrypted before they leave the engine; relays and non-members carry
// and verify ciphertext. The manifest says so, so the address pins it. A
// sealed database cannot have a validator: its schema would show field
// names to anyone holding the address.
func WithSealed() DatabaseOption {
	return func(m *Manifest) error {
		m.Sealed = &SealedConfig{}
		return nil
	}
}

// ErrNotReader is returned by reads (and writes) of a sealed database on a
// replica that holds no key for it; it wraps seal.ErrNotReader.
var ErrNotReader = sealing.ErrNotReader

// prepareSealed fills a sealed manifest's genesis with a fresh key's id
// and returns the key (Create writes its package once the database is
// open); the zero key for a database that is not sealed.
func prepareSealed(m *Manifest) (seal.Key, error) {
	if m.Sealed == nil {
		return seal.Key{}, nil
	}
	if m.Validator != nil {
		return seal.Key{}, fmt.Errorf("%w: a sealed database cannot have a validator (its schema would show field names in clear text)", ErrBadManifest)
	}
	k, err := seal.NewKey()
	if err != nil {
		return seal.Key{}, err
	}
	m.Sealed.Genesis = k.ID().String()
	return k, nil
}

// MemberRecord returns this engine's member key record: what a writer of a
// sealed database needs to make this peer a reader (Database.Share).
func (e *Engine) MemberRecord(ctx context.Context) ([]byte, error) {
	return e.records.Record(ctx)
}

// newSealer returns the sealer of a sealed database being started.
func newSealer(ctx context.Context, db *Database) (*sealing.Sealer, error) {
	mk, rec, err := db.e.records.Key(ctx)
	if err != nil {
		return nil, err
	}
	return sealing.New(db.ctx, sealing.Config{
		Database: db.addr.String(), Name: db.addr.Name, Genesis: sealing.ParseGenesis(db.manifest.Sealed.Genesis),
		Self: db.e.ID(), Identity: db.e.key, Member: mk, Record: rec,
		Access: db.access, Clock: db.e.cfg.clock, Log: db.log.Named("seal"),
	}, db.e.store, crdt.NewStoreLayout(db.ns.String()))
}

// writeGenesis stores a new sealed database's genesis epoch, wrapped to
// its creator, and the creator's member record.
func (db *Database) writeGenesis(ctx context.Context, k seal.Key) error {
	p, err := db.sealer.Genesis(k)
	if err != nil {
		return err
	}
	return db.write(ctx, func(t *txn) error {
		t.stageMeta(sealing.PackageMutation(p))
		return nil
	})
}

// Share makes the peer whose member record (Engine.MemberRecord on that
// peer) is given a reader of this sealed database: the record is stored in
// the database and the next commit of any writer wraps the current epoch
// to it, which opens the whole history. The controller must already admit
// the peer as a reader (for a dynamic database: Grant it a role first).
func (db *Database) Share(ctx context.Context, record []byte) error {
	s := db.sealer
	if s == nil {
		return fmt.Errorf("%w: database %s is not sealed", ErrBadOption, db.addr.Name)
	}
	rec, add, err := s.Share(ctx, record)
	if err != nil {
		return err
	}
	return db.write(ctx, func(t *txn) error {
		ms, err := s.Shared(rec, record, add)
		for _, m := range ms {
			t.stageMeta(m)
		}
		return err
	})
}

// Sealed reports whether the database is sealed.
func (db *Database) Sealed() bool { return db.manifest.Sealed != nil }

// SealedEpoch names the current epoch of a sealed database on this
// replica ("<level>/<id>"), "" when there is none or it is not sealed.
// Replicas holding the same key packages and access entries agree on it.
func (db *Database) SealedEpoch() string {
	if db.sealer == nil {
		return ""
	}
	return db.sealer.Epoch()
}
