package engine

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	ds "github.com/ipfs/go-datastore"
	dsq "github.com/ipfs/go-datastore/query"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/crdt"
	"github.com/latticedb/lattice/internal/readmodel"
	"github.com/latticedb/lattice/internal/seal"
)

// Sealed databases (docs/sealed.md): only members read them. The manifest
// pins the genesis epoch; a sealer per open database seals every document,
// collection and index key and value just before it enters go-ds-crdt's
// batch (sealMutation, from commit) and opens them for the read model
// (it is the model's readmodel.Codec). Key packages and member records are
// entries under /k/, applied by onMeta like access-control entries.

// SealedConfig is the manifest's sealed flag: present means sealed. It
// names the genesis epoch (seal.EpochID in hex), so the address pins the
// key every other key of the database descends from.
type SealedConfig struct {
	Genesis string `json:"genesis"`
}

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
var ErrNotReader = fmt.Errorf("engine: %w", seal.ErrNotReader)

func (c *SealedConfig) validate() error {
	if len(c.Genesis) != 2*len(seal.EpochID{}) {
		return fmt.Errorf("%w: sealed: genesis is not an epoch id", ErrBadManifest)
	}
	if _, err := hex.DecodeString(c.Genesis); err != nil || strings.ToLower(c.Genesis) != c.Genesis {
		return fmt.Errorf("%w: sealed: genesis is not lower-case hex", ErrBadManifest)
	}
	return nil
}

func (c *SealedConfig) genesis() seal.EpochID {
	var id seal.EpochID
	b, _ := hex.DecodeString(c.Genesis) // validated
	copy(id[:], b)
	return id
}

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

const memberKeyKey = "/lattice/seal/member-key"

// memberKey returns the engine's member key, made and stored on first use.
func (e *Engine) memberKey(ctx context.Context) (*seal.MemberKey, *seal.MemberRecord, error) {
	e.sealMu.Lock()
	defer e.sealMu.Unlock()
	if e.sealKey != nil {
		return e.sealKey, e.sealRec, nil
	}
	var mk *seal.MemberKey
	b, err := e.store.Get(ctx, ds.NewKey(memberKeyKey))
	switch {
	case err == nil:
		if mk, err = seal.UnmarshalMemberKey(b); err != nil {
			return nil, nil, err
		}
	case errors.Is(err, ds.ErrNotFound):
		if mk, err = seal.NewMemberKey(seal.SuiteX25519); err != nil {
			return nil, nil, err
		}
		b, err := mk.Marshal()
		if err != nil {
			return nil, nil, err
		}
		if err := e.store.Put(ctx, ds.NewKey(memberKeyKey), b); err != nil {
			return nil, nil, fmt.Errorf("engine: store member key: %w", err)
		}
		if err := e.store.SyncWAL(); err != nil {
			return nil, nil, err
		}
	default:
		return nil, nil, err
	}
	rec, err := seal.NewMemberRecord(e.key, mk, e.cfg.clock())
	if err != nil {
		return nil, nil, err
	}
	e.sealKey, e.sealRec = mk, rec
	return mk, rec, nil
}

// MemberRecord returns this engine's member key record: what a writer of a
// sealed database needs to make this peer a reader (Database.Share).
func (e *Engine) MemberRecord(ctx context.Context) ([]byte, error) {
	_, rec, err := e.memberKey(ctx)
	if err != nil {
		return nil, err
	}
	return rec.Encode(), nil
}

// sealer seals and opens one sealed database's keys and values.
type sealer struct {
	db   *Database
	ring *seal.Keyring
	self *seal.MemberRecord

	mu      sync.Mutex
	records map[seal.Tag]*seal.MemberRecord // known member records
}

var _ readmodel.Codec = (*sealer)(nil)

func newSealer(ctx context.Context, db *Database) (*sealer, error) {
	mk, rec, err := db.e.memberKey(ctx)
	if err != nil {
		return nil, err
	}
	s := &sealer{db: db, self: rec, records: map[seal.Tag]*seal.MemberRecord{},
		ring: seal.NewKeyring(db.addr.String(), db.manifest.Sealed.genesis(), db.e.ID(), mk)}
	// Load what the store holds before the view is built, so documents
	// open on the first read.
	layout := crdt.NewStoreLayout(db.ns.String())
	res, err := db.e.store.Query(ctx, dsq.Query{Prefix: layout.ValuesPrefix() + crdt.SealPrefix()})
	if err != nil {
		return nil, err
	}
	entries, err := res.Rest()
	if err != nil {
		return nil, err
	}
	for _, en := range entries {
		if k, ok := layout.CRDTKey(en.Key); ok {
			s.apply(k, en.Value)
		}
	}
	return s, nil
}

// sealable reports whether a CRDT key of a sealed database is sealed:
// documents, collection markers and index definitions.
func sealable(k string) bool {
	for _, p := range []string{crdt.AllDocsPrefix(), crdt.CollectionsPrefix(), crdt.IndexesPrefix()} {
		if k == p || strings.HasPrefix(k, p+"/") {
			return true
		}
	}
	return false
}

func (s *sealer) aad(storedKey string) []byte {
	return []byte(s.db.addr.String() + "\x00" + storedKey)
}

// SealKey seals the components of a clear key or prefix.
func (s *sealer) SealKey(k string) (string, error) {
	if !sealable(k) {
		return k, nil
	}
	names, err := s.ring.Names()
	if err != nil {
		return "", err
	}
	return crdt.MapComponents(k, func(role, c string) (string, error) { return names.Seal(role, c), nil })
}

// OpenKey opens the components of a stored key.
func (s *sealer) OpenKey(k string) (string, error) {
	if !sealable(k) {
		return k, nil
	}
	names, err := s.ring.Names()
	if err != nil {
		return "", err
	}
	return crdt.MapComponents(k, names.Open)
}

// OpenValue opens the value stored under stored key k.
func (s *sealer) OpenValue(k string, v []byte) ([]byte, error) {
	if !sealable(k) {
		return v, nil
	}
	return seal.OpenValue(s.ring.Key, v, s.aad(k))
}

// isReader says whether the peer a recipient tag names may read: a peer
// whose member record is known and whom the controller admits as a reader.
// Without a ReadGate the controller says nothing about reads: then the
// readers are the peers some writer shared the database with (an epoch
// is wrapped to them: readers checks that), and nobody becomes one by
// publishing a record. The keyring calls it under its lock: it must not
// call the keyring.
func (s *sealer) isReader(t seal.Tag) bool {
	s.mu.Lock()
	rec := s.records[t]
	s.mu.Unlock()
	if rec == nil {
		return false
	}
	if g, ok := s.gate(); ok {
		return g.CanRead(s.db.ctx, rec.Peer) == nil
	}
	return true
}

func (s *sealer) gate() (accesscontrol.ReadGate, bool) {
	g, ok := s.db.access.(accesscontrol.ReadGate)
	return g, ok
}

// readers returns the records of every known member that may read, by
// peer ID.
func (s *sealer) readers() []*seal.MemberRecord {
	s.mu.Lock()
	var out []*seal.MemberRecord
	for _, r := range s.records {
		out = append(out, r)
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Peer < out[j].Peer })
	_, gated := s.gate()
	kept := out[:0]
	for _, r := range out {
		t := seal.TagOf(r.Peer)
		if s.isReader(t) && (gated || s.ring.Wrapped(t)) {
			kept = append(kept, r)
		}
	}
	return kept
}

// apply folds one /k/ entry into the sealer; true when it taught the
// keyring a key it lacked.
func (s *sealer) apply(k string, v []byte) bool {
	pk, err := crdt.ParseKey(k)
	if err != nil || pk.Kind != crdt.KindSeal {
		return false
	}
	switch pk.Epoch {
	case "m":
		rec, err := seal.DecodeMemberRecord(v)
		if err != nil || rec.Peer.String() != pk.Sub {
			s.db.log.Debug("member record refused", "key", k, "error", err)
			return false
		}
		s.addRecord(rec)
	case "p":
		p, err := seal.DecodeKeyPackage(s.db.addr.String(), v)
		if err != nil {
			s.db.log.Debug("key package refused", "key", k, "error", err)
			return false
		}
		before := s.ring.Known()
		if err := s.ring.Add(p); err != nil {
			s.db.log.Debug("key package", "key", k, "error", err)
		}
		return s.ring.Known() > before
	}
	return false
}

func (s *sealer) addRecord(rec *seal.MemberRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := seal.TagOf(rec.Peer)
	if old := s.records[t]; old == nil || old.Created.Before(rec.Created) {
		s.records[t] = rec
	}
}

func (s *sealer) hasRecord(p peer.ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.records[seal.TagOf(p)] != nil
}

// readable is nil when this replica holds the database's name key: it is
// or was a reader. Reads of a replica that is not fail with ErrNotReader.
func (s *sealer) readable() error {
	_, err := s.ring.Names()
	switch {
	case err == nil:
		return nil
	case errors.Is(err, seal.ErrNotReader):
		return fmt.Errorf("%w: database %s", ErrNotReader, s.db.addr.Name)
	}
	return fmt.Errorf("%w: database %s: %w", ErrNotReader, s.db.addr.Name, err)
}

// stage adds an entry to a commit group about to be written.
func stageEntry(t *txn, m crdt.Mutation) {
	if _, seen := t.muts[m.Key]; !seen {
		t.order = append(t.order, m.Key)
	}
	t.muts[m.Key] = m
	t.meta = append(t.meta, m.Key)
}

func (s *sealer) stagePackage(t *txn, p *seal.KeyPackage) error {
	if err := s.ring.Add(p); err != nil {
		return err
	}
	stageEntry(t, packageMutation(p))
	return nil
}

// packageMutation is the entry that stores key package p.
func packageMutation(p *seal.KeyPackage) crdt.Mutation {
	h := p.Hash()
	return crdt.Mutation{Key: crdt.KeyPackageKey(hex.EncodeToString(h[:16])), Value: p.Encode()}
}

// prepare runs before a commit group is sealed: it publishes this
// writer's member record, starts a new epoch when the current one is
// wrapped to a peer that no longer reads (a removal), wraps the current
// epoch to readers it misses, and checks that the group can be sealed.
func (s *sealer) prepare(t *txn) error {
	e := s.db.e
	if !s.hasRecord(e.ID()) {
		s.addRecord(s.self)
		stageEntry(t, crdt.Mutation{Key: crdt.MemberRecordKey(e.ID().String()), Value: s.self.Encode()})
	}
	if s.ring.NeedsRotation(s.isReader) {
		if _, err := s.ring.Names(); err == nil {
			p, _, err := s.ring.Rotate(e.key, s.readers(), e.cfg.clock())
			if err != nil {
				return err
			}
			if err := s.stagePackage(t, p); err != nil {
				return err
			}
			s.db.log.Debug("sealed database: new epoch", "level", p.Level)
		}
	}
	// With a ReadGate the controller names the readers: wrap the current
	// epoch to those it misses (without one, Share wraps).
	var readers []peer.ID
	recs := s.readers()
	for _, r := range recs {
		readers = append(readers, r.Peer)
	}
	if _, gated := s.gate(); !gated {
		readers = nil
	}
	if missing := s.ring.Missing(s.isReader, readers); len(missing) > 0 {
		if k, cur, err := s.ring.SealingKey(s.isReader); err == nil {
			var to []*seal.MemberRecord
			for _, r := range recs {
				for _, p := range missing {
					if r.Peer == p {
						to = append(to, r)
					}
				}
			}
			p, err := seal.NewAddition(e.key, s.db.addr.String(), cur.Level, k, to, e.cfg.clock())
			if err != nil {
				return err
			}
			if err := s.stagePackage(t, p); err != nil {
				return err
			}
		}
	}
	for _, k := range t.order {
		if sealable(k) {
			if _, _, err := s.ring.SealingKey(s.isReader); err != nil {
				return fmt.Errorf("engine: database %s: %w", s.db.addr.Name, err)
			}
			break
		}
	}
	return nil
}

// sealMutation returns m as the store holds it: key components and value
// sealed for document, collection and index keys, unchanged otherwise.
func (s *sealer) sealMutation(m crdt.Mutation) (crdt.Mutation, error) {
	if !sealable(m.Key) {
		return m, nil
	}
	sk, err := s.SealKey(m.Key)
	if err != nil {
		return m, err
	}
	if m.Delete {
		return crdt.Mutation{Key: sk, Delete: true}, nil
	}
	k, _, err := s.ring.SealingKey(s.isReader)
	if err != nil {
		return m, err
	}
	v, err := seal.SealValue(k, m.Value, s.aad(sk))
	if err != nil {
		return m, err
	}
	return crdt.Mutation{Key: sk, Value: v}, nil
}

// writeGenesis stores a new sealed database's genesis epoch, wrapped to
// its creator, and the creator's member record.
func (db *Database) writeGenesis(ctx context.Context, k seal.Key) error {
	s := db.sealer
	p, err := seal.NewRotation(db.e.key, db.addr.String(), 0, k, []*seal.MemberRecord{s.self}, nil, db.e.cfg.clock())
	if err != nil {
		return err
	}
	if err := s.ring.Add(p); err != nil {
		return err
	}
	return db.write(ctx, func(t *txn) error {
		t.stageMeta(packageMutation(p))
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
	rec, err := seal.DecodeMemberRecord(record)
	if err != nil {
		return err
	}
	var add *seal.KeyPackage
	if g, ok := s.gate(); ok {
		if err := g.CanRead(ctx, rec.Peer); err != nil {
			return fmt.Errorf("%w: %w", ErrNotReader, err)
		}
	} else {
		// No ReadGate: sharing is what makes a reader, so wrap the
		// current epoch to it here (made once: the write's function may
		// run more than once).
		k, cur, err := s.ring.SealingKey(s.isReader)
		if err != nil {
			return fmt.Errorf("engine: share %s: %w", db.addr.Name, err)
		}
		if add, err = seal.NewAddition(db.e.key, db.addr.String(), cur.Level, k, []*seal.MemberRecord{rec}, db.e.cfg.clock()); err != nil {
			return err
		}
	}
	return db.write(ctx, func(t *txn) error {
		s.addRecord(rec)
		t.stageMeta(crdt.Mutation{Key: crdt.MemberRecordKey(rec.Peer.String()), Value: record})
		if add != nil {
			t.stageMeta(packageMutation(add))
			return s.ring.Add(add)
		}
		return nil
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
	cur, ok := db.sealer.ring.Current(db.sealer.isReader)
	if !ok {
		return ""
	}
	return fmt.Sprintf("%d/%s", cur.Level, cur.ID)
}
