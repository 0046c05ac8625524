package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash"
	"sync"
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
	// macs pools HMAC states keyed with mac: Reset restores the keyed
	// state, so a tag costs no key schedule nor allocation.
	macs sync.Pool

	// A small cache of both directions: the same collection and field
	// names are sealed and opened on every write and read. Reset when
	// full, so it stays bounded.
	mu     sync.Mutex
	sealed map[roleName]string
	opened map[roleName]string
}

type roleName struct{ role, s string }

// maxCached bounds each direction of a Names' cache.
const maxCached = 4096

func (n *Names) cached(m map[roleName]string, k roleName) (string, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	v, ok := m[k]
	return v, ok
}

func (n *Names) remember(seal, open roleName) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.sealed) >= maxCached {
		clear(n.sealed)
		clear(n.opened)
	}
	n.sealed[seal] = open.s
	n.opened[open] = seal.s
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
	n := &Names{mac: m, enc: block, sealed: map[roleName]string{}, opened: map[roleName]string{}}
	n.macs.New = func() any { return hmac.New(sha256.New, n.mac) }
	return n, nil
}

const tagSize = 16

var b64 = base64.RawURLEncoding.Strict() // one encoding per component: no two strings open to one

func (n *Names) tag(role string, padded []byte) []byte {
	h := n.macs.Get().(hash.Hash)
	h.Reset()
	h.Write([]byte(role))
	h.Write([]byte{0})
	h.Write(padded)
	var sum [sha256.Size]byte
	out := h.Sum(sum[:0])[:tagSize:tagSize]
	n.macs.Put(h)
	return out
}

// Seal seals component s in role (for example "coll", "id", "field").
func (n *Names) Seal(role, s string) string {
	if v, ok := n.cached(n.sealed, roleName{role, s}); ok {
		return v
	}
	p := pad([]byte(s))
	tag := n.tag(role, p)
	out := make([]byte, tagSize+len(p))
	copy(out, tag)
	cipher.NewCTR(n.enc, tag).XORKeyStream(out[tagSize:], p)
	sealed := b64.EncodeToString(out)
	n.remember(roleName{role, s}, roleName{role, sealed})
	return sealed
}

// Open opens a component sealed by Seal in the same role.
func (n *Names) Open(role, sealed string) (string, error) {
	if v, ok := n.cached(n.opened, roleName{role, sealed}); ok {
		return v, nil
	}
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
	n.remember(roleName{role, string(s)}, roleName{role, sealed})
	return string(s), nil
}
