package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
)

// KeySize is the size of an epoch key.
const KeySize = 32

// Key is an epoch key: 32 random bytes.
type Key [KeySize]byte

// EpochID names an epoch: the first 16 bytes of SHA-256 over a domain and
// the epoch's key, so whoever holds a key can check which epoch it opens.
type EpochID [16]byte

// String is the id in hex.
func (id EpochID) String() string { return hex.EncodeToString(id[:]) }

// NewKey returns a fresh random epoch key.
func NewKey() (Key, error) {
	var k Key
	if _, err := rand.Read(k[:]); err != nil {
		return Key{}, fmt.Errorf("seal: random key: %w", err)
	}
	return k, nil
}

// ID returns the epoch id of k.
func (k Key) ID() EpochID {
	h := sha256.New()
	h.Write([]byte("lattice-seal-epoch\x00"))
	h.Write(k[:])
	var id EpochID
	copy(id[:], h.Sum(nil))
	return id
}

const (
	valueVersion = 1
	nonceSize    = 16
	commitSize   = 32
	// ValueOverhead is what SealValue adds to a value, padding aside.
	ValueOverhead = 1 + len(EpochID{}) + nonceSize + commitSize + 16
	padBlock      = 16
)

func mac(k []byte, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, k)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

var (
	domMessage = []byte("lattice-seal-message\x00")
	zeroNonce  = make([]byte, 12)
)

// derive returns a message's key commitment and its one-time AEAD key:
// the two halves of HMAC-SHA512(k, domain || nonce).
func derive(k Key, nonce []byte) (commit, key []byte) {
	m := hmac.New(sha512.New, k[:])
	m.Write(domMessage)
	m.Write(nonce)
	out := m.Sum(nil)
	return out[:commitSize], out[commitSize:]
}

// pad appends 0x80 and zeros up to a multiple of padBlock (ISO/IEC
// 7816-4), so sizes show in steps of padBlock.
func pad(p []byte) []byte {
	n := (len(p)/padBlock + 1) * padBlock
	out := make([]byte, n)
	copy(out, p)
	out[len(p)] = 0x80
	return out
}

func unpad(p []byte) ([]byte, bool) {
	if len(p) == 0 || len(p)%padBlock != 0 {
		return nil, false
	}
	i := len(p) - 1
	for i >= 0 && p[i] == 0 {
		i--
	}
	if i < 0 || p[i] != 0x80 || len(p)-i > padBlock {
		return nil, false
	}
	return p[:i], true
}

// SealValue seals value under the epoch key k, bound to aad. The result
// opens only under k (the construction commits to its key) and only with
// the same aad. Sealing the same value twice gives different ciphertexts.
func SealValue(k Key, value, aad []byte) ([]byte, error) {
	var nonce [nonceSize]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, fmt.Errorf("seal: random nonce: %w", err)
	}
	return sealValue(k, nonce, value, aad)
}

func sealValue(k Key, nonce [nonceSize]byte, value, aad []byte) ([]byte, error) {
	id := k.ID()
	out := make([]byte, 0, ValueOverhead+len(value)+padBlock)
	out = append(out, valueVersion)
	out = append(out, id[:]...)
	out = append(out, nonce[:]...)
	commit, mk := derive(k, nonce[:])
	out = append(out, commit...)
	gcm, err := messageAEAD(mk)
	if err != nil {
		return nil, err
	}
	return gcm.Seal(out, zeroNonce, pad(value), aad), nil
}

// messageAEAD is AES-256-GCM under a per-message key (derive): each such
// key seals one message, so GCM's nonce can be fixed.
func messageAEAD(mk []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(mk)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return cipher.NewGCM(block)
}

// ValueEpoch returns the epoch a sealed value names, without opening it.
func ValueEpoch(sealed []byte) (EpochID, error) {
	var id EpochID
	if len(sealed) < ValueOverhead+padBlock || sealed[0] != valueVersion {
		return id, fmt.Errorf("%w: not a sealed value", ErrDoesNotOpen)
	}
	copy(id[:], sealed[1:])
	return id, nil
}

// OpenValue opens a value sealed by SealValue. keyOf returns the key of an
// epoch, false when it is not held: the error then wraps ErrNoEpochKey.
func OpenValue(keyOf func(EpochID) (Key, bool), sealed, aad []byte) ([]byte, error) {
	id, err := ValueEpoch(sealed)
	if err != nil {
		return nil, err
	}
	k, ok := keyOf(id)
	if !ok {
		return nil, fmt.Errorf("%w: epoch %s", ErrNoEpochKey, id)
	}
	return OpenValueWith(k, sealed, aad)
}

// OpenValueWith opens a value sealed by SealValue under k.
func OpenValueWith(k Key, sealed, aad []byte) ([]byte, error) {
	id, err := ValueEpoch(sealed)
	if err != nil {
		return nil, err
	}
	if id != k.ID() {
		return nil, fmt.Errorf("%w: sealed under another epoch", ErrDoesNotOpen)
	}
	rest := sealed[1+len(id):]
	nonce, commit, ct := rest[:nonceSize], rest[nonceSize:nonceSize+commitSize], rest[nonceSize+commitSize:]
	want, mk := derive(k, nonce)
	if subtle.ConstantTimeCompare(commit, want) != 1 {
		return nil, fmt.Errorf("%w: key commitment does not match", ErrDoesNotOpen)
	}
	gcm, err := messageAEAD(mk)
	if err != nil {
		return nil, err
	}
	p, err := gcm.Open(nil, zeroNonce, ct, aad)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDoesNotOpen, err)
	}
	v, ok := unpad(p)
	if !ok {
		return nil, fmt.Errorf("%w: bad padding", ErrDoesNotOpen)
	}
	return v, nil
}
