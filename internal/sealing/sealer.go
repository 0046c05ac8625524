package sealing

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	ds "github.com/ipfs/go-datastore"
	dsq "github.com/ipfs/go-datastore/query"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/crdt"
	"github.com/latticedb/lattice/internal/readmodel"
	"github.com/latticedb/lattice/internal/seal"
)

// ErrNotReader is returned by reads (and writes) of a sealed database on a
// replica that holds no key for it; it wraps seal.ErrNotReader.
var ErrNotReader = fmt.Errorf("engine: %w", seal.ErrNotReader)

// Config is what a Sealer needs of its database and engine.
type Config struct {
	// Database is the database's address, bound into every sealed value
	// and key package; Name is its name, for errors.
	Database, Name string
	// Genesis is the epoch the manifest pins.
	Genesis seal.EpochID
	// Self is this peer; Identity its libp2p key, which signs the key
	// packages it issues; Member its member key and Record the record of
	// it (Records.Key).
	Self     peer.ID
	Identity crypto.PrivKey
	Member   *seal.MemberKey
	Record   *seal.MemberRecord
	// Access is the database's controller: an accesscontrol.ReadGate
	// names the readers.
	Access accesscontrol.Controller
	// Clock dates key packages.
	Clock func() time.Time
	Log   hclog.Logger
}

// Sealer seals and opens one sealed database's keys and values and keeps
// its keyring and member records.
type Sealer struct {
	cfg  Config
	ctx  context.Context // the database's: asks of the ReadGate end with it
	ring *seal.Keyring

	mu      sync.Mutex
	records map[seal.Tag]*seal.MemberRecord // known member records

	// own holds the values this replica sealed, by stored key, with
	// their clear text: the store reports a local write back at once
	// (and the writer reads it again), and opening what we just sealed
	// would cost as much as sealing it. Bounded by maxOwn entries and
	// maxOwnBytes: cleared when full.
	ownMu    sync.Mutex
	own      map[string]ownValue
	ownBytes int
}

// ownValue is one value this replica sealed: the stored bytes and the
// clear ones.
type ownValue struct{ sealed, clear []byte }

// maxOwn and maxOwnBytes bound the values a Sealer keeps in clear
// (Sealer.own): their number and their bytes, sealed and clear.
const (
	maxOwn      = 4096
	maxOwnBytes = 8 << 20
)

var _ readmodel.Codec = (*Sealer)(nil)

// New returns the sealer of a database living in ctx, loaded with the key
// packages and member records store holds under the database's layout, so
// that documents open on the first read.
func New(ctx context.Context, cfg Config, store ds.Read, layout crdt.StoreLayout) (*Sealer, error) {
	s := &Sealer{cfg: cfg, ctx: ctx, records: map[seal.Tag]*seal.MemberRecord{},
		ring: seal.NewKeyring(cfg.Database, cfg.Genesis, cfg.Self, cfg.Member)}
	res, err := store.Query(ctx, dsq.Query{Prefix: layout.ValuesPrefix() + crdt.SealPrefix()})
	if err != nil {
		return nil, err
	}
	entries, err := res.Rest()
	if err != nil {
		return nil, err
	}
	for _, en := range entries {
		if k, ok := layout.CRDTKey(en.Key); ok {
			s.Apply(k, en.Value)
		}
	}
	return s, nil
}

// ParseGenesis returns the epoch id a manifest's (validated) genesis
// names; the zero id when it does not parse.
func ParseGenesis(genesis string) seal.EpochID {
	var id seal.EpochID
	b, _ := hex.DecodeString(genesis)
	copy(id[:], b)
	return id
}

// Sealable reports whether a CRDT key of a sealed database is sealed:
// documents, collection markers and index definitions.
func Sealable(k string) bool {
	for _, p := range []string{crdt.AllDocsPrefix(), crdt.CollectionsPrefix(), crdt.IndexesPrefix()} {
		if k == p || strings.HasPrefix(k, p+"/") {
			return true
		}
	}
	return false
}

func (s *Sealer) aad(storedKey string) []byte {
	return []byte(s.cfg.Database + "\x00" + storedKey)
}

// SealKey seals the components of a clear key or prefix.
func (s *Sealer) SealKey(k string) (string, error) {
	if !Sealable(k) {
		return k, nil
	}
	names, err := s.ring.Names()
	if err != nil {
		return "", err
	}
	return crdt.MapComponents(k, func(role, c string) (string, error) { return names.Seal(role, c), nil })
}

// OpenKey opens the components of a stored key.
func (s *Sealer) OpenKey(k string) (string, error) {
	if !Sealable(k) {
		return k, nil
	}
	names, err := s.ring.Names()
	if err != nil {
		return "", err
	}
	return crdt.MapComponents(k, names.Open)
}

// OpenValue opens the value stored under stored key k.
func (s *Sealer) OpenValue(k string, v []byte) ([]byte, error) {
	if !Sealable(k) {
		return v, nil
	}
	s.ownMu.Lock()
	o, ok := s.own[k]
	s.ownMu.Unlock()
	if ok && bytes.Equal(o.sealed, v) {
		return o.clear, nil
	}
	return seal.OpenValue(s.ring.Key, v, s.aad(k))
}

// remember keeps the clear text of a value this replica sealed under
// stored key k, so that OpenValue need not open it again.
func (s *Sealer) remember(k string, sealed, clear []byte) {
	size := len(sealed) + len(clear)
	if size > maxOwnBytes/64 {
		return // a large value: opening it again costs little beside storing it
	}
	s.ownMu.Lock()
	defer s.ownMu.Unlock()
	if old, ok := s.own[k]; ok {
		s.ownBytes -= len(old.sealed) + len(old.clear)
	}
	if s.own == nil || len(s.own) >= maxOwn || s.ownBytes+size > maxOwnBytes {
		s.own, s.ownBytes = make(map[string]ownValue, 64), 0
	}
	s.own[k] = ownValue{sealed: bytes.Clone(sealed), clear: bytes.Clone(clear)}
	s.ownBytes += size
}

// isReader says whether the peer a recipient tag names may read: a peer
// whose member record is known and whom the controller admits as a reader.
// Without a ReadGate the controller says nothing about reads: then the
// readers are the peers some writer shared the database with (an epoch
// is wrapped to them: Readers checks that), and nobody becomes one by
// publishing a record. The keyring calls it under its lock: it must not
// call the keyring.
func (s *Sealer) isReader(t seal.Tag) bool {
	s.mu.Lock()
	rec := s.records[t]
	s.mu.Unlock()
	if rec == nil {
		return false
	}
	if g, ok := s.gate(); ok {
		return g.CanRead(s.ctx, rec.Peer) == nil
	}
	return true
}

func (s *Sealer) gate() (accesscontrol.ReadGate, bool) {
	g, ok := s.cfg.Access.(accesscontrol.ReadGate)
	return g, ok
}

// Readers returns the records of every known member that may read, by
// peer ID.
func (s *Sealer) Readers() []*seal.MemberRecord {
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

// Apply folds one /k/ entry (a member record or a key package) into the
// sealer; true when it taught the keyring a key it lacked, so values that
// did not open may open now. Entries that do not verify are ignored.
func (s *Sealer) Apply(k string, v []byte) bool {
	pk, err := crdt.ParseKey(k)
	if err != nil || pk.Kind != crdt.KindSeal {
		return false
	}
	switch pk.Epoch {
	case "m":
		rec, err := seal.DecodeMemberRecord(v)
		if err != nil || rec.Peer.String() != pk.Sub {
			s.cfg.Log.Debug("member record refused", "key", k, "error", err)
			return false
		}
		s.addRecord(rec)
	case "p":
		p, err := seal.DecodeKeyPackage(s.cfg.Database, v)
		if err != nil {
			s.cfg.Log.Debug("key package refused", "key", k, "error", err)
			return false
		}
		before := s.ring.Known()
		if err := s.ring.Add(p); err != nil {
			s.cfg.Log.Debug("key package", "key", k, "error", err)
		}
		return s.ring.Known() > before
	}
	return false
}

func (s *Sealer) addRecord(rec *seal.MemberRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := seal.TagOf(rec.Peer)
	if old := s.records[t]; old == nil || old.Created.Before(rec.Created) {
		s.records[t] = rec
	}
}

func (s *Sealer) hasRecord(p peer.ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.records[seal.TagOf(p)] != nil
}

// Readable is nil when this replica holds the database's name key: it is
// or was a reader. Reads of a replica that is not fail with ErrNotReader.
func (s *Sealer) Readable() error {
	_, err := s.ring.Names()
	switch {
	case err == nil:
		return nil
	case errors.Is(err, seal.ErrNotReader):
		return fmt.Errorf("%w: database %s", ErrNotReader, s.cfg.Name)
	}
	return fmt.Errorf("%w: database %s: %w", ErrNotReader, s.cfg.Name, err)
}

// PackageMutation is the entry that stores key package p.
func PackageMutation(p *seal.KeyPackage) crdt.Mutation {
	h := p.Hash()
	return crdt.Mutation{Key: crdt.KeyPackageKey(hex.EncodeToString(h[:16])), Value: p.Encode()}
}

// AddPackage adds a key package this peer issued to the keyring and
// returns the entry that stores it.
func (s *Sealer) AddPackage(p *seal.KeyPackage) (crdt.Mutation, error) {
	return PackageMutation(p), s.ring.Add(p)
}

// stage adds key package p, made with error err, to the keyring and its
// entry to out.
func (s *Sealer) stage(out []crdt.Mutation, p *seal.KeyPackage, err error) ([]crdt.Mutation, error) {
	if err != nil {
		return out, err
	}
	m, err := s.AddPackage(p)
	return append(out, m), err
}

// Prepare runs before a commit group whose keys are keys is sealed: it
// returns the entries the group must carry as well (this writer's member
// record when it was never published, a new epoch when the current one
// is wrapped to a peer that no longer reads (a removal), the current
// epoch wrapped to readers it misses) and checks that the group can be
// sealed.
func (s *Sealer) Prepare(keys []string) ([]crdt.Mutation, error) {
	var out []crdt.Mutation
	if !s.hasRecord(s.cfg.Self) {
		s.addRecord(s.cfg.Record)
		out = append(out, crdt.Mutation{Key: crdt.MemberRecordKey(s.cfg.Self.String()), Value: s.cfg.Record.Encode()})
	}
	if s.ring.NeedsRotation(s.isReader) {
		if _, err := s.ring.Names(); err == nil {
			p, _, err := s.ring.Rotate(s.cfg.Identity, s.Readers(), s.cfg.Clock())
			if out, err = s.stage(out, p, err); err != nil {
				return nil, err
			}
			s.cfg.Log.Debug("sealed database: new epoch", "level", p.Level)
		}
	}
	// With a ReadGate the controller names the readers: wrap the current
	// epoch to those it misses (without one, Share wraps).
	var readers []peer.ID
	recs := s.Readers()
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
			p, err := seal.NewAddition(s.cfg.Identity, s.cfg.Database, cur.Level, k, to, s.cfg.Clock())
			if out, err = s.stage(out, p, err); err != nil {
				return nil, err
			}
		}
	}
	for _, k := range keys {
		if Sealable(k) {
			if _, _, err := s.ring.SealingKey(s.isReader); err != nil {
				return nil, fmt.Errorf("engine: database %s: %w", s.cfg.Name, err)
			}
			break
		}
	}
	return out, nil
}

// SealMutation returns m as the store holds it: key components and value
// sealed for document, collection and index keys, unchanged otherwise.
func (s *Sealer) SealMutation(m crdt.Mutation) (crdt.Mutation, error) {
	if !Sealable(m.Key) {
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
	s.remember(sk, v, m.Value)
	return crdt.Mutation{Key: sk, Value: v}, nil
}

// Genesis returns the key package of a new sealed database's genesis
// epoch k, wrapped to its creator, added to the keyring.
func (s *Sealer) Genesis(k seal.Key) (*seal.KeyPackage, error) {
	p, err := seal.NewRotation(s.cfg.Identity, s.cfg.Database, 0, k, []*seal.MemberRecord{s.cfg.Record}, nil, s.cfg.Clock())
	if err != nil {
		return nil, err
	}
	return p, s.ring.Add(p)
}

// Share prepares making the peer whose encoded member record is given a
// reader: it returns the record and, when the controller is no ReadGate
// (sharing is then what makes a reader), the package wrapping the current
// epoch to it, made once (a write's function may run more than once).
// With a ReadGate the controller must already admit the peer.
func (s *Sealer) Share(ctx context.Context, record []byte) (*seal.MemberRecord, *seal.KeyPackage, error) {
	rec, err := seal.DecodeMemberRecord(record)
	if err != nil {
		return nil, nil, err
	}
	if g, ok := s.gate(); ok {
		if err := g.CanRead(ctx, rec.Peer); err != nil {
			return nil, nil, fmt.Errorf("%w: %w", ErrNotReader, err)
		}
		return rec, nil, nil
	}
	k, cur, err := s.ring.SealingKey(s.isReader)
	if err != nil {
		return nil, nil, fmt.Errorf("engine: share %s: %w", s.cfg.Name, err)
	}
	add, err := seal.NewAddition(s.cfg.Identity, s.cfg.Database, cur.Level, k, []*seal.MemberRecord{rec}, s.cfg.Clock())
	if err != nil {
		return nil, nil, err
	}
	return rec, add, nil
}

// Shared records a record Share returned once its write runs, and returns
// the entries the write stores: the record and the package, if any.
func (s *Sealer) Shared(rec *seal.MemberRecord, record []byte, add *seal.KeyPackage) ([]crdt.Mutation, error) {
	s.addRecord(rec)
	out := []crdt.Mutation{{Key: crdt.MemberRecordKey(rec.Peer.String()), Value: record}}
	if add == nil {
		return out, nil
	}
	m, err := s.AddPackage(add)
	return append(out, m), err
}

// Rotation returns a new epoch's key package, wrapped to every current
// reader whose record is known, or nil when force is false and the
// current epoch is wrapped to no peer that has stopped reading. Made
// before the write that stores it (AddPackage): a write's function may
// run more than once, and each run must stage the same epoch.
func (s *Sealer) Rotation(force bool) (*seal.KeyPackage, error) {
	if !force && !s.ring.NeedsRotation(s.isReader) {
		return nil, nil
	}
	p, _, err := s.ring.Rotate(s.cfg.Identity, s.Readers(), s.cfg.Clock())
	return p, err
}

// Epoch names the current epoch on this replica ("<level>/<id>"), "" when
// there is none. Replicas holding the same key packages and access
// entries agree on it.
func (s *Sealer) Epoch() string {
	cur, ok := s.ring.Current(s.isReader)
	if !ok {
		return ""
	}
	return fmt.Sprintf("%d/%s", cur.Level, cur.ID)
}
