package manifest

import (
	"bytes"
	"crypto/rand"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/validation"
)

// Errors of this package; match them with errors.Is (package engine
// returns the same values).
var (
	// ErrBadAddress is returned for a database address that does not parse.
	ErrBadAddress = errors.New("lattice: malformed database address")
	// ErrBadManifest is returned for a manifest that is invalid or does
	// not decode.
	ErrBadManifest = errors.New("lattice: malformed manifest")
	// ErrBadName is returned for an invalid database, collection or index
	// name.
	ErrBadName = errors.New("lattice: invalid name")
)

// Type is the only database type so far: collections of documents.
const Type = "docstore"

// MaxSize bounds a manifest block: larger ones are neither made nor
// accepted from the network.
const MaxSize = 64 << 10

// Manifest is the immutable description of a database. Its content address
// is the database's identity, so the address pins the rules: the access
// controller and its parameters travel with it.
type Manifest struct {
	Name   string               `json:"name"`
	Type   string               `json:"type"`
	Access accesscontrol.Config `json:"access"`
	// Validator, if set, names what the database's documents may hold
	// (see package validation). Absent in manifests made before it, and
	// in those of databases without one: their address is unchanged.
	Validator *validation.Config `json:"validator,omitempty"`
	// Meta is free-form creation metadata (creator, creation time, ...).
	// Two Creates with identical manifests give the same address.
	Meta map[string]string `json:"meta,omitempty"`
	// Nonce makes the address unique and unguessable: Create fills it with
	// 128 random bits (26 characters of lower-case base32) unless asked for
	// a deterministic address (engine.WithDeterministicAddress). Manifests made
	// before nonces existed have none and keep their addresses.
	Nonce string `json:"nonce,omitempty"`
	// Sealed, if set, makes the database readable by its members only
	// (engine.WithSealed). Absent in databases that are not sealed:
	// their address is unchanged.
	Sealed *Sealed `json:"sealed,omitempty"`
}

// nonceLen is the length of a generated nonce; maxNonceLen bounds one from
// the network.
const (
	nonceLen    = 26
	maxNonceLen = 64
)

// NewNonce returns 128 random bits in lower-case base32 without padding.
func NewNonce() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("manifest: nonce: %w", err)
	}
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:])), nil
}

// Validate checks a manifest: its name, type, access controller, nonce,
// validator and sealed flag, wrapping ErrBadManifest or ErrBadName.
func (m *Manifest) Validate() error {
	if err := ValidateName("database", m.Name); err != nil {
		return err
	}
	if m.Type != Type {
		return fmt.Errorf("%w: unknown type %q", ErrBadManifest, m.Type)
	}
	if m.Access.Type == "" {
		return fmt.Errorf("%w: no access controller", ErrBadManifest)
	}
	if len(m.Nonce) > maxNonceLen {
		return fmt.Errorf("%w: nonce of %d bytes, the limit is %d", ErrBadManifest, len(m.Nonce), maxNonceLen)
	}
	for _, r := range m.Nonce {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return fmt.Errorf("%w: nonce holds characters other than a-z and 0-9", ErrBadManifest)
		}
	}
	if m.Validator != nil && m.Validator.Type == "" {
		return fmt.Errorf("%w: validator has no type", ErrBadManifest)
	}
	if m.Sealed != nil {
		if m.Validator != nil {
			return fmt.Errorf("%w: a sealed database cannot have a validator", ErrBadManifest)
		}
		if err := m.Sealed.validate(); err != nil {
			return err
		}
	}
	return nil
}

// Encode validates a manifest and encodes it as a dag-json block, whose
// CID is the database's address. encoding/json writes struct fields in
// declaration order and map keys sorted, so equal manifests give equal
// bytes and equal CIDs.
func Encode(m *Manifest) (blocks.Block, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadManifest, err)
	}
	data := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if len(data) > MaxSize {
		// Peers refuse a larger manifest: the database could not be opened.
		return nil, fmt.Errorf("%w: %d bytes (at most %d)", ErrBadManifest, len(data), MaxSize)
	}
	c, err := cid.Prefix{Version: 1, Codec: cid.DagJSON, MhType: mh.SHA2_256, MhLength: -1}.Sum(data)
	if err != nil {
		return nil, err
	}
	return blocks.NewBlockWithCid(data, c)
}

// Decode decodes and validates a manifest block's bytes, refusing unknown
// fields and blocks over MaxSize.
func Decode(data []byte) (*Manifest, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrBadManifest, len(data))
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadManifest, err)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Address is a parsed database address, /lattice/<manifest CID>/<name>.
type Address struct {
	Manifest cid.Cid
	Name     string
}

// String formats the address.
func (a Address) String() string { return "/lattice/" + a.Manifest.String() + "/" + a.Name }

// ParseAddress parses /lattice/<manifest CID>/<name>. The name must match the
// one inside the manifest, which Open checks once the manifest is fetched.
func ParseAddress(s string) (Address, error) {
	rest, ok := strings.CutPrefix(s, "/lattice/")
	if !ok {
		return Address{}, fmt.Errorf("%w: %q does not start with /lattice/", ErrBadAddress, s)
	}
	cs, name, ok := strings.Cut(rest, "/")
	if !ok || name == "" {
		return Address{}, fmt.Errorf("%w: %q has no database name", ErrBadAddress, s)
	}
	c, err := cid.Decode(cs)
	if err != nil {
		return Address{}, fmt.Errorf("%w: %q: bad manifest CID: %v", ErrBadAddress, s, err)
	}
	if c.Type() != cid.DagJSON {
		return Address{}, fmt.Errorf("%w: %q: the CID is not a manifest (dag-json) CID", ErrBadAddress, s)
	}
	if err := ValidateName("database", name); err != nil {
		return Address{}, fmt.Errorf("%w: %q: %v", ErrBadAddress, s, err)
	}
	return Address{Manifest: c, Name: name}, nil
}

// ValidateName checks a database, collection or index name (what names
// which, for the error): 1 to 128 bytes of UTF-8, no '/', no control
// characters, not starting with '$' or '_' (reserved for Lattice's own
// collections). It wraps ErrBadName.
func ValidateName(what, s string) error {
	switch {
	case s == "" || len(s) > 128:
		return fmt.Errorf("%w: %s name must be 1 to 128 bytes, got %d", ErrBadName, what, len(s))
	case !utf8.ValidString(s):
		return fmt.Errorf("%w: %s name is not valid UTF-8", ErrBadName, what)
	case strings.ContainsAny(s, "/\x00"):
		return fmt.Errorf("%w: %s name %q contains '/' or NUL", ErrBadName, what, s)
	case s[0] == '$' || s[0] == '_':
		return fmt.Errorf("%w: %s name %q starts with a reserved character", ErrBadName, what, s)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: %s name %q contains a control character", ErrBadName, what, s)
		}
	}
	return nil
}

// Sealed is the manifest's sealed flag: present means sealed. It names
// the genesis epoch (16 bytes in lower-case hex), so the address pins the
// key every other key of the database descends from.
type Sealed struct {
	Genesis string `json:"genesis"`
}

// genesisLen is the length of a genesis epoch id in hex.
const genesisLen = 32

func (c *Sealed) validate() error {
	if len(c.Genesis) != genesisLen {
		return fmt.Errorf("%w: sealed: genesis is not an epoch id", ErrBadManifest)
	}
	if _, err := hex.DecodeString(c.Genesis); err != nil || strings.ToLower(c.Genesis) != c.Genesis {
		return fmt.Errorf("%w: sealed: genesis is not lower-case hex", ErrBadManifest)
	}
	return nil
}
