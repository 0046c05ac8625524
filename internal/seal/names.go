package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
)

// Names seals key components (collection names, document ids, field
// names, ...) deterministically: equal components in the same role give
// equal ciphertexts, so CRDT keys built from them merge, and a prefix of
// sealed components is the sealed prefix. The construction is SIV-style:
// the tag, HMAC-SHA256 over the role and the padded component truncated to
// 16 bytes, is both the IV of AES-256-CTR and the key commitment. Sealed
// components are base64url without padding: always a valid escaped
// component of a datastore key.
//
// A Names is safe for concurrent use.
type Names struct {
	mac []byte
	enc cipher.Block
}

// NewNames derives the name keys of a database from its genesis epoch key
// (HKDF-SHA256).
func NewNames(genesis Key) (*Names, error) {
	m, err := hkdf.Key(sha256.New, genesis[:], nil, "lattice-seal-names-mac", 32)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	e, err := hkdf.Key(sha256.New, genesis[:], nil, "lattice-seal-names-enc", 32)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	block, err := aes.NewCipher(e)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return &Names{mac: m, enc: block}, nil
}

const tagSize = 16

var b64 = base64.RawURLEncoding.Strict() // one encoding per component: no two strings open to one

func (n *Names) tag(role string, padded []byte) []byte {
	return mac(n.mac, []byte(role), []byte{0}, padded)[:tagSize]
}

// Seal seals component s in role (for example "coll", "id", "field").
func (n *Names) Seal(role, s string) string {
	p := pad([]byte(s))
	tag := n.tag(role, p)
	out := make([]byte, tagSize+len(p))
	copy(out, tag)
	cipher.NewCTR(n.enc, tag).XORKeyStream(out[tagSize:], p)
	return b64.EncodeToString(out)
}

// Open opens a component sealed by Seal in the same role.
func (n *Names) Open(role, sealed string) (string, error) {
	raw, err := b64.DecodeString(sealed)
	if err != nil || len(raw) < tagSize+padBlock || (len(raw)-tagSize)%padBlock != 0 {
		return "", fmt.Errorf("%w: not a sealed component", ErrDoesNotOpen)
	}
	tag := raw[:tagSize]
	p := make([]byte, len(raw)-tagSize)
	cipher.NewCTR(n.enc, tag).XORKeyStream(p, raw[tagSize:])
	if !hmac.Equal(tag, n.tag(role, p)) {
		return "", fmt.Errorf("%w: component tag does not match", ErrDoesNotOpen)
	}
	s, ok := unpad(p)
	if !ok {
		return "", fmt.Errorf("%w: bad padding", ErrDoesNotOpen)
	}
	return string(s), nil
}
