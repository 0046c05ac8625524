package validation

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// MaxVersion is the largest version a schema entry may carry: the largest
// Lamport time of the dynamic access controller (accesscontrol.MaxLamport),
// whose clock versions share.
const MaxVersion = 1<<53 - 1

// maxEntrySize bounds an encoded schema entry: one schema of at most
// MaxSchemaBytes and its signed fields.
const maxEntrySize = MaxSchemaBytes + 4096

// entryDomain separates schema entry signatures from every other use of a
// key.
const entryDomain = "lattice/validation/schema/v1\x00"

// SchemaEntry is one signed change of a collection's JSON Schema in a
// database whose admins may change schemas (see Dynamic). Its JSON form, as
// stored in the database, is
//
//	{"coll":"todos","schema":{...},"version":7,"issuer":"12D3...","db":"/lattice/bafy.../name","sig":"<base64>"}
//
// The signature is the issuer's libp2p signature over a length-prefixed
// encoding of every other field, the schema in compact JSON (see
// SigningBytes), so any spelling of the same schema verifies.
type SchemaEntry struct {
	Collection string          `json:"coll"`
	Schema     json.RawMessage `json:"schema"`
	Version    uint64          `json:"version"`
	Issuer     peer.ID         `json:"issuer"`
	Database   string          `json:"db"`
	Sig        []byte          `json:"sig"`
}

// NewSchemaEntry returns an encoded entry, signed by priv, that sets the
// schema of collection coll in database db. version must be above every
// version and access-control Lamport time the issuer has seen (the engine
// takes the greater of Dynamic.NextVersion and the controller's
// NextLamport). The schema is checked as the JSON Schema validator checks
// a manifest's: errors wrap ErrBadSchema and name the keyword and where;
// other errors wrap ErrBadEntry.
func NewSchemaEntry(priv crypto.PrivKey, db, coll string, schema json.RawMessage, version uint64) ([]byte, error) {
	if priv == nil {
		return nil, fmt.Errorf("%w: nil issuer key", ErrBadEntry)
	}
	issuer, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("%w: issuer key: %v", ErrBadEntry, err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, schema); err != nil {
		return nil, fmt.Errorf("%w: collection %q: %v", ErrBadSchema, coll, err)
	}
	e := SchemaEntry{Collection: coll, Schema: compact.Bytes(), Version: version, Issuer: issuer, Database: db}
	if err := e.checkFields(); err != nil {
		return nil, err
	}
	if _, err := compileCollection(coll, e.Schema); err != nil {
		return nil, err
	}
	if e.Sig, err = priv.Sign(e.SigningBytes()); err != nil {
		return nil, fmt.Errorf("%w: sign: %v", ErrBadEntry, err)
	}
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("%w: encode: %v", ErrBadEntry, err)
	}
	if len(b) > maxEntrySize {
		return nil, fmt.Errorf("%w: %d bytes (at most %d)", ErrBadEntry, len(b), maxEntrySize)
	}
	return b, nil
}

// ParseSchemaEntry decodes an entry and verifies its signature against the
// public key embedded in its issuer's peer ID. It neither checks the
// database nor compiles the schema: Dynamic.Apply does. Errors wrap
// ErrBadEntry and name the field.
func ParseSchemaEntry(b []byte) (SchemaEntry, error) {
	var e SchemaEntry
	if len(b) > maxEntrySize {
		return e, fmt.Errorf("%w: %d bytes (at most %d)", ErrBadEntry, len(b), maxEntrySize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return SchemaEntry{}, fmt.Errorf("%w: decode: %v", ErrBadEntry, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return SchemaEntry{}, fmt.Errorf("%w: trailing data", ErrBadEntry)
	}
	if err := e.checkFields(); err != nil {
		return SchemaEntry{}, err
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, e.Schema); err != nil {
		return SchemaEntry{}, fmt.Errorf("%w: schema: %v", ErrBadEntry, err)
	}
	e.Schema = compact.Bytes()
	pub, err := e.Issuer.ExtractPublicKey()
	if err != nil {
		return SchemaEntry{}, fmt.Errorf("%w: issuer %s does not embed a public key: %v", ErrBadEntry, e.Issuer, err)
	}
	if ok, err := pub.Verify(e.SigningBytes(), e.Sig); err != nil || !ok {
		return SchemaEntry{}, fmt.Errorf("%w: signature by %s does not verify", ErrBadEntry, e.Issuer)
	}
	return e, nil
}

// checkFields validates everything but the signature and the schema's
// rules.
func (e SchemaEntry) checkFields() error {
	switch {
	case e.Collection == "":
		return fmt.Errorf("%w: missing collection", ErrBadEntry)
	case len(e.Schema) == 0:
		return fmt.Errorf("%w: missing schema", ErrBadEntry)
	case e.Version == 0 || e.Version > MaxVersion:
		return fmt.Errorf("%w: version %d outside [1, %d]", ErrBadEntry, e.Version, uint64(MaxVersion))
	case e.Issuer == "":
		return fmt.Errorf("%w: missing issuer", ErrBadEntry)
	case e.Database == "":
		return fmt.Errorf("%w: missing database", ErrBadEntry)
	}
	if _, err := peer.IDFromBytes([]byte(e.Issuer)); err != nil {
		return fmt.Errorf("%w: issuer: %v", ErrBadEntry, err)
	}
	return nil
}

// SigningBytes returns the bytes the issuer signs: a domain tag followed
// by every field but the signature, each length-prefixed, and the version.
func (e SchemaEntry) SigningBytes() []byte {
	b := make([]byte, 0, len(entryDomain)+len(e.Collection)+len(e.Schema)+len(e.Issuer)+len(e.Database)+48)
	b = append(b, entryDomain...)
	for _, f := range []string{e.Collection, string(e.Schema), string(e.Issuer), e.Database} {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	return binary.BigEndian.AppendUint64(b, e.Version)
}

// ID names the entry by its signed fields (the signature aside: two
// signatures of the same change are the same entry); the engine stores the
// entry under a key made from it.
func (e SchemaEntry) ID() string {
	sum := sha256.Sum256(e.SigningBytes())
	return fmt.Sprintf("%x", sum[:16])
}
