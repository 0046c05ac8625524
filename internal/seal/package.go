package seal

import (
	"crypto/hpke"
	"crypto/sha256"
	"fmt"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// PackageKind says what a key package does.
type PackageKind byte

// The kinds of key package.
const (
	// Rotation starts an epoch: it carries the epoch's level and links to
	// the keys of the level below.
	Rotation PackageKind = 1
	// Addition wraps the key of an existing epoch to more readers.
	Addition PackageKind = 2
)

// Wrap is an epoch key sealed to one reader's member key with HPKE.
type Wrap struct {
	Tag    Tag    // TagOf(reader)
	Suite  Suite  // the reader's member key suite
	Sealed []byte // HPKE encapsulation || ciphertext
}

// Link is the key of an epoch of the level below, sealed under the
// package's epoch key.
type Link struct {
	Epoch  EpochID
	Sealed []byte
}

// KeyPackage is an entry replicated inside a sealed database that hands
// an epoch key to readers. It is signed by its issuer's libp2p key over
// the database address, so it is valid in one database only.
type KeyPackage struct {
	Kind   PackageKind
	Level  uint64
	Epoch  EpochID
	Issuer peer.ID
	Time   time.Time // milliseconds, claimed by the issuer
	Wraps  []Wrap
	Links  []Link // Rotation only
	Sig    []byte
}

const (
	packageVersion = 1
	packageDomain  = "lattice-seal-package-v1\x00"
	wrapDomain     = "lattice-seal-wrap-v1\x00"
	linkDomain     = "lattice-seal-link-v1\x00"
	maxWrap        = 2 << 10
	maxLink        = 256
	// MaxPackageSize bounds an encoded key package.
	MaxPackageSize = 4 << 20
)

func wrapInfo(db string, epoch EpochID, reader peer.ID) []byte {
	var w writer
	w.raw([]byte(wrapDomain))
	w.bytes([]byte(db))
	w.raw(epoch[:])
	w.bytes([]byte(reader))
	return w.b
}

func linkAAD(db string, upper, lower EpochID) []byte {
	var w writer
	w.raw([]byte(linkDomain))
	w.bytes([]byte(db))
	w.raw(upper[:])
	w.raw(lower[:])
	return w.b
}

// body encodes everything but the signature.
func (p *KeyPackage) body() []byte {
	var w writer
	w.byte(packageVersion)
	w.byte(byte(p.Kind))
	w.uvarint(p.Level)
	w.raw(p.Epoch[:])
	w.bytes([]byte(p.Issuer))
	w.uvarint(uint64(p.Time.UnixMilli()))
	w.uvarint(uint64(len(p.Wraps)))
	for _, x := range p.Wraps {
		w.raw(x.Tag[:])
		w.uvarint(uint64(x.Suite))
		w.bytes(x.Sealed)
	}
	w.uvarint(uint64(len(p.Links)))
	for _, l := range p.Links {
		w.raw(l.Epoch[:])
		w.bytes(l.Sealed)
	}
	return w.b
}

func signedPackage(db string, body []byte) []byte {
	var w writer
	w.raw([]byte(packageDomain))
	w.bytes([]byte(db))
	w.raw(body)
	return w.b
}

// Encode returns the package's wire form.
func (p *KeyPackage) Encode() []byte {
	var w writer
	w.raw(p.body())
	w.bytes(p.Sig)
	return w.b
}

// Hash is the package's entry id: SHA-256 of its wire form.
func (p *KeyPackage) Hash() [32]byte { return sha256.Sum256(p.Encode()) }

// NewRotation starts epoch k at level, wrapped to readers and linking the
// keys of the level below (lower), signed by issuer for database db.
func NewRotation(issuer crypto.PrivKey, db string, level uint64, k Key, readers []*MemberRecord, lower []Key, now time.Time) (*KeyPackage, error) {
	p, err := newPackage(issuer, Rotation, db, level, k, readers, now)
	if err != nil {
		return nil, err
	}
	for _, lk := range lower {
		lid := lk.ID()
		sealed, err := SealValue(k, lk[:], linkAAD(db, p.Epoch, lid))
		if err != nil {
			return nil, err
		}
		p.Links = append(p.Links, Link{Epoch: lid, Sealed: sealed})
	}
	slices.SortFunc(p.Links, func(a, b Link) int { return compareIDs(a.Epoch, b.Epoch) })
	return p, p.sign(issuer, db)
}

// NewAddition wraps the key k of an existing epoch at level to readers.
func NewAddition(issuer crypto.PrivKey, db string, level uint64, k Key, readers []*MemberRecord, now time.Time) (*KeyPackage, error) {
	p, err := newPackage(issuer, Addition, db, level, k, readers, now)
	if err != nil {
		return nil, err
	}
	return p, p.sign(issuer, db)
}

func newPackage(issuer crypto.PrivKey, kind PackageKind, db string, level uint64, k Key, readers []*MemberRecord, now time.Time) (*KeyPackage, error) {
	ip, err := peer.IDFromPrivateKey(issuer)
	if err != nil {
		return nil, fmt.Errorf("seal: key package: %w", err)
	}
	p := &KeyPackage{Kind: kind, Level: level, Epoch: k.ID(), Issuer: ip, Time: time.UnixMilli(now.UnixMilli())}
	for _, r := range readers {
		kem, err := r.Suite.kem()
		if err != nil {
			return nil, fmt.Errorf("seal: key package: %w", err)
		}
		pub, err := kem.NewPublicKey(r.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("seal: key package: reader %s: %w", r.Peer, err)
		}
		sealed, err := hpke.Seal(pub, hpkeKDF, hpkeAEAD, wrapInfo(db, p.Epoch, r.Peer), k[:])
		if err != nil {
			return nil, fmt.Errorf("seal: key package: %w", err)
		}
		p.Wraps = append(p.Wraps, Wrap{Tag: TagOf(r.Peer), Suite: r.Suite, Sealed: sealed})
	}
	return p, nil
}

func (p *KeyPackage) sign(issuer crypto.PrivKey, db string) error {
	sig, err := issuer.Sign(signedPackage(db, p.body()))
	if err != nil {
		return fmt.Errorf("seal: key package: %w", err)
	}
	p.Sig = sig
	return nil
}

func compareIDs(a, b EpochID) int {
	for i := range a {
		if a[i] != b[i] {
			return int(a[i]) - int(b[i])
		}
	}
	return 0
}

// DecodeKeyPackage decodes a package and verifies that its issuer signed
// it for database db. Every failure wraps ErrPackageDoesNotOpen.
func DecodeKeyPackage(db string, data []byte) (*KeyPackage, error) {
	bad := func(why string) (*KeyPackage, error) {
		return nil, fmt.Errorf("%w: %s", ErrPackageDoesNotOpen, why)
	}
	if len(data) > MaxPackageSize {
		return bad("too large")
	}
	r := reader{b: data}
	var p KeyPackage
	if r.byte() != packageVersion {
		return bad("unknown version")
	}
	p.Kind = PackageKind(r.byte())
	p.Level = r.uvarint()
	copy(p.Epoch[:], r.raw(len(p.Epoch)))
	p.Issuer = peer.ID(r.bytes(maxPeerID))
	t := r.uvarint()
	n := r.count(len(Tag{}) + 2)
	for i := 0; i < n && r.err == nil; i++ {
		var x Wrap
		copy(x.Tag[:], r.raw(len(x.Tag)))
		x.Suite = Suite(r.uvarint())
		x.Sealed = r.bytes(maxWrap)
		p.Wraps = append(p.Wraps, x)
	}
	n = r.count(len(EpochID{}) + 1)
	for i := 0; i < n && r.err == nil; i++ {
		var l Link
		copy(l.Epoch[:], r.raw(len(l.Epoch)))
		l.Sealed = r.bytes(maxLink)
		p.Links = append(p.Links, l)
	}
	bodyLen := len(data) - len(r.b)
	p.Sig = r.bytes(maxSig)
	if err := r.end(); err != nil {
		return bad(err.Error())
	}
	switch {
	case p.Kind != Rotation && p.Kind != Addition:
		return bad("unknown kind")
	case p.Kind == Addition && len(p.Links) > 0:
		return bad("an addition carries links")
	case t > 1<<62:
		return bad("bad time")
	}
	p.Time = time.UnixMilli(int64(t))
	ok, err := verifyBy(p.Issuer, signedPackage(db, data[:bodyLen]), p.Sig)
	if err != nil || !ok {
		return bad("signature does not verify for this database")
	}
	return &p, nil
}

// Recipient reports whether the package wraps its key to the peer with
// tag t.
func (p *KeyPackage) Recipient(t Tag) bool {
	for _, x := range p.Wraps {
		if x.Tag == t {
			return true
		}
	}
	return false
}

// Open unwraps the package's epoch key for self with its member key. It
// fails with ErrNotReader when no wrap is tagged for self, and with
// ErrPackageDoesNotOpen when the wrap does not open to the key the epoch
// names.
func (p *KeyPackage) Open(db string, self peer.ID, mk *MemberKey) (Key, error) {
	tag := TagOf(self)
	found := false
	for _, x := range p.Wraps {
		if x.Tag != tag || x.Suite != mk.suite {
			continue
		}
		found = true
		pt, err := hpke.Open(mk.priv, hpkeKDF, hpkeAEAD, wrapInfo(db, p.Epoch, self), x.Sealed)
		if err != nil || len(pt) != KeySize {
			continue
		}
		var k Key
		copy(k[:], pt)
		if k.ID() == p.Epoch {
			return k, nil
		}
	}
	if !found {
		return Key{}, fmt.Errorf("%w: epoch %s is not wrapped to %s", ErrNotReader, p.Epoch, self)
	}
	return Key{}, fmt.Errorf("%w: the wrap for %s does not open to epoch %s", ErrPackageDoesNotOpen, self, p.Epoch)
}

// OpenLinks opens the package's links with its epoch key k and returns
// the keys of the level below. A link that does not open to the epoch it
// names is an error wrapping ErrPackageDoesNotOpen.
func (p *KeyPackage) OpenLinks(db string, k Key) ([]Key, error) {
	if k.ID() != p.Epoch {
		return nil, fmt.Errorf("%w: key of another epoch", ErrPackageDoesNotOpen)
	}
	out := make([]Key, 0, len(p.Links))
	for _, l := range p.Links {
		pt, err := OpenValueWith(k, l.Sealed, linkAAD(db, p.Epoch, l.Epoch))
		if err != nil || len(pt) != KeySize {
			return nil, fmt.Errorf("%w: link to epoch %s", ErrPackageDoesNotOpen, l.Epoch)
		}
		var lk Key
		copy(lk[:], pt)
		if lk.ID() != l.Epoch {
			return nil, fmt.Errorf("%w: link to epoch %s opens to another key", ErrPackageDoesNotOpen, l.Epoch)
		}
		out = append(out, lk)
	}
	return out, nil
}
