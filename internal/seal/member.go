package seal

import (
	"crypto/hpke"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Suite is an HPKE KEM a member key may use; the KDF is HKDF-SHA256 and
// the AEAD ChaCha20-Poly1305 for both.
type Suite uint16

// The suites. X25519 is the default: a wrap costs 32 bytes of
// encapsulation per reader, against 1,120 for the post-quantum hybrid.
const (
	SuiteX25519         Suite = 0x0020 // DHKEM(X25519, HKDF-SHA256)
	SuiteMLKEM768X25519 Suite = 0x647a // ML-KEM-768 + X25519 hybrid
)

func (s Suite) kem() (hpke.KEM, error) {
	switch s {
	case SuiteX25519, SuiteMLKEM768X25519:
		return hpke.NewKEM(uint16(s))
	}
	return nil, fmt.Errorf("unknown suite %#x", uint16(s))
}

var (
	hpkeKDF  = hpke.HKDFSHA256()
	hpkeAEAD = hpke.ChaCha20Poly1305()
)

// MemberKey is a peer's HPKE key pair for sealed databases: key packages
// wrap epoch keys to its public half. It is separate from the libp2p
// identity, so it can be replaced without changing the peer ID.
type MemberKey struct {
	suite Suite
	priv  hpke.PrivateKey
}

// NewMemberKey generates a member key of the given suite.
func NewMemberKey(s Suite) (*MemberKey, error) {
	kem, err := s.kem()
	if err != nil {
		return nil, fmt.Errorf("seal: member key: %w", err)
	}
	priv, err := kem.GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("seal: member key: %w", err)
	}
	return &MemberKey{suite: s, priv: priv}, nil
}

// Marshal encodes the private key for local storage (never send it).
func (m *MemberKey) Marshal() ([]byte, error) {
	b, err := m.priv.Bytes()
	if err != nil {
		return nil, fmt.Errorf("seal: member key: %w", err)
	}
	var w writer
	w.byte(1)
	w.uvarint(uint64(m.suite))
	w.bytes(b)
	return w.b, nil
}

// UnmarshalMemberKey decodes what Marshal encoded.
func UnmarshalMemberKey(data []byte) (*MemberKey, error) {
	r := reader{b: data}
	v := r.byte()
	s := Suite(r.uvarint())
	b := r.bytes(8 << 10)
	if err := r.end(); err != nil || v != 1 {
		return nil, fmt.Errorf("seal: member key: malformed")
	}
	kem, err := s.kem()
	if err != nil {
		return nil, fmt.Errorf("seal: member key: %w", err)
	}
	priv, err := kem.NewPrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("seal: member key: %w", err)
	}
	return &MemberKey{suite: s, priv: priv}, nil
}

// Suite returns the key's suite.
func (m *MemberKey) Suite() Suite { return m.suite }

// PublicKey returns the encoded public key.
func (m *MemberKey) PublicKey() []byte { return m.priv.PublicKey().Bytes() }

// MemberRecord is the public half of a member key, signed by the peer's
// libp2p identity: anyone can check whose key it is, nobody can put
// another key in a peer's name.
type MemberRecord struct {
	Peer      peer.ID
	Suite     Suite
	PublicKey []byte
	Created   time.Time // milliseconds
	Sig       []byte
}

const recordDomain = "lattice-seal-member-v1\x00"

func (r *MemberRecord) signedBytes() []byte {
	var w writer
	w.raw([]byte(recordDomain))
	w.bytes([]byte(r.Peer))
	w.uvarint(uint64(r.Suite))
	w.bytes(r.PublicKey)
	w.uvarint(uint64(r.Created.UnixMilli()))
	return w.b
}

// NewMemberRecord signs the public half of mk with id, the libp2p key of
// the peer it belongs to.
func NewMemberRecord(id crypto.PrivKey, mk *MemberKey, now time.Time) (*MemberRecord, error) {
	p, err := peer.IDFromPrivateKey(id)
	if err != nil {
		return nil, fmt.Errorf("seal: member record: %w", err)
	}
	r := &MemberRecord{Peer: p, Suite: mk.suite, PublicKey: mk.PublicKey(), Created: time.UnixMilli(now.UnixMilli())}
	r.Sig, err = id.Sign(r.signedBytes())
	if err != nil {
		return nil, fmt.Errorf("seal: member record: %w", err)
	}
	return r, nil
}

// Encode returns the record's wire form.
func (r *MemberRecord) Encode() []byte {
	var w writer
	w.raw(r.signedBytes()[len(recordDomain):])
	w.bytes(r.Sig)
	return w.b
}

const (
	maxPeerID    = 128
	maxPublicKey = 4 << 10
	maxSig       = 1 << 10
)

// DecodeMemberRecord decodes a record and verifies its signature against
// the public key its peer ID embeds (Ed25519, secp256k1 and ECDSA IDs
// embed theirs; an RSA peer ID does not, and is refused).
func DecodeMemberRecord(data []byte) (*MemberRecord, error) {
	rd := reader{b: data}
	pid := rd.bytes(maxPeerID)
	s := Suite(rd.uvarint())
	pub := rd.bytes(maxPublicKey)
	created := rd.uvarint()
	sig := rd.bytes(maxSig)
	if err := rd.end(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadRecord, err)
	}
	if created > 1<<62 {
		return nil, fmt.Errorf("%w: bad time", ErrBadRecord)
	}
	r := &MemberRecord{Peer: peer.ID(pid), Suite: s, PublicKey: pub, Created: time.UnixMilli(int64(created)), Sig: sig}
	if err := r.verify(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *MemberRecord) verify() error {
	kem, err := r.Suite.kem()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadRecord, err)
	}
	if _, err := kem.NewPublicKey(r.PublicKey); err != nil {
		return fmt.Errorf("%w: public key: %v", ErrBadRecord, err)
	}
	ok, err := verifyBy(r.Peer, r.signedBytes(), r.Sig)
	if err != nil || !ok {
		return fmt.Errorf("%w: signature does not verify", ErrBadRecord)
	}
	return nil
}

// verifyBy checks sig over data by the key peer ID p embeds.
func verifyBy(p peer.ID, data, sig []byte) (bool, error) {
	if err := p.Validate(); err != nil {
		return false, err
	}
	pk, err := p.ExtractPublicKey()
	if err != nil {
		return false, err
	}
	return pk.Verify(data, sig)
}

// Tag is the 8-byte recipient tag of a peer in key packages: enough to
// find one's own wrap, shorter than a peer ID.
type Tag [8]byte

// TagOf returns p's recipient tag.
func TagOf(p peer.ID) Tag {
	h := sha256.Sum256(append([]byte("lattice-seal-tag\x00"), p...))
	var t Tag
	copy(t[:], h[:])
	return t
}
