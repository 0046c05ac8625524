package accesscontrol

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Role is what a dynamic controller's entry grants or revokes.
type Role string

// Roles. An admin may also write.
const (
	// RoleWriter may write documents.
	RoleWriter Role = "writer"
	// RoleAdmin may write documents and sign grants and revocations.
	RoleAdmin Role = "admin"
	// RoleReader may read a sealed database (see ReadGate), not write.
	// Writers and admins read too.
	RoleReader Role = "reader"
)

// Op is a dynamic controller entry's operation.
type Op string

// Operations.
const (
	// OpGrant gives a role to a peer.
	OpGrant Op = "grant"
	// OpRevoke takes a role from a peer.
	OpRevoke Op = "revoke"
)

// MaxLamport is the largest Lamport timestamp an entry may carry, so that
// entries survive a round trip through JavaScript's JSON numbers.
const MaxLamport = 1<<53 - 1

// maxEntrySize bounds an encoded entry.
const maxEntrySize = 4096

// entryDomain separates entry signatures from every other use of a key.
const entryDomain = "lattice/accesscontrol/entry/v1\x00"

// Entry is one signed grant or revocation of a dynamic controller.
//
// Its JSON form, as stored in the database, is
//
//	{"op":"grant","role":"writer","target":"12D3...","issuer":"12D3...","lamport":7,"db":"/lattice/bafy.../name","sig":"<base64>"}
//
// The signature is the issuer's libp2p signature over a length-prefixed
// binary encoding of every other field (see Entry.SigningBytes), so any
// JSON spelling of the same fields verifies.
type Entry struct {
	Op       Op      `json:"op"`
	Role     Role    `json:"role"`
	Target   peer.ID `json:"target"`
	Issuer   peer.ID `json:"issuer"`
	Lamport  uint64  `json:"lamport"`
	Database string  `json:"db"`
	Sig      []byte  `json:"sig"`
}

// NewGrant returns an encoded entry, signed by priv, giving role to target
// in database db. lamport should come from DynamicController.NextLamport so
// the grant orders after every entry the issuer has seen. priv must be an
// Ed25519 or secp256k1 key, whose peer ID embeds the public key.
func NewGrant(priv crypto.PrivKey, db string, target peer.ID, role Role, lamport uint64) ([]byte, error) {
	return newEntry(priv, OpGrant, db, target, role, lamport)
}

// NewRevoke returns an encoded entry, signed by priv, taking role from
// target in database db. See NewGrant.
func NewRevoke(priv crypto.PrivKey, db string, target peer.ID, role Role, lamport uint64) ([]byte, error) {
	return newEntry(priv, OpRevoke, db, target, role, lamport)
}

func newEntry(priv crypto.PrivKey, op Op, db string, target peer.ID, role Role, lamport uint64) ([]byte, error) {
	if priv == nil {
		return nil, fmt.Errorf("accesscontrol: nil issuer key")
	}
	issuer, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("accesscontrol: issuer key: %w", err)
	}
	e := Entry{Op: op, Role: role, Target: target, Issuer: issuer, Lamport: lamport, Database: db}
	if err := e.checkFields(); err != nil {
		return nil, err
	}
	if _, err := issuer.ExtractPublicKey(); err != nil {
		return nil, invalidEntry("issuer %s does not embed its public key (use an Ed25519 or secp256k1 key)", issuer)
	}
	e.Sig, err = priv.Sign(e.SigningBytes())
	if err != nil {
		return nil, fmt.Errorf("accesscontrol: sign entry: %w", err)
	}
	b, err := e.Marshal()
	if err != nil {
		return nil, err
	}
	if len(b) > maxEntrySize {
		return nil, invalidEntry("entry is %d bytes, limit %d", len(b), maxEntrySize)
	}
	return b, nil
}

// ParseEntry decodes an entry and verifies its signature against the public
// key embedded in its issuer's peer ID. It does not check the database: a
// controller does.
func ParseEntry(b []byte) (Entry, error) {
	var e Entry
	if len(b) > maxEntrySize {
		return e, invalidEntry("entry is %d bytes, limit %d", len(b), maxEntrySize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return Entry{}, invalidEntry("decode: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Entry{}, invalidEntry("trailing data")
	}
	if err := e.checkFields(); err != nil {
		return Entry{}, err
	}
	pub, err := e.Issuer.ExtractPublicKey()
	if err != nil {
		return Entry{}, invalidEntry("issuer %s does not embed a public key: %v", e.Issuer, err)
	}
	ok, err := pub.Verify(e.SigningBytes(), e.Sig)
	if err != nil || !ok {
		return Entry{}, invalidEntry("signature by %s does not verify", e.Issuer)
	}
	return e, nil
}

// checkFields validates everything but the signature.
func (e Entry) checkFields() error {
	switch {
	case e.Op != OpGrant && e.Op != OpRevoke:
		return invalidEntry("unknown op %.32q", e.Op)
	case e.Role != RoleWriter && e.Role != RoleAdmin && e.Role != RoleReader:
		return invalidEntry("unknown role %.32q", e.Role)
	case e.Target == "":
		return invalidEntry("missing target")
	case e.Issuer == "":
		return invalidEntry("missing issuer")
	case e.Lamport == 0 || e.Lamport > MaxLamport:
		return invalidEntry("lamport %d outside [1, %d]", e.Lamport, uint64(MaxLamport))
	case e.Database == "":
		return invalidEntry("missing database")
	}
	if _, err := peer.IDFromBytes([]byte(e.Target)); err != nil {
		return invalidEntry("target: %v", err)
	}
	return nil
}

// SigningBytes returns the bytes the issuer signs: a domain tag followed by
// every field but the signature, each length-prefixed.
func (e Entry) SigningBytes() []byte {
	b := make([]byte, 0, len(entryDomain)+len(e.Target)+len(e.Issuer)+len(e.Database)+48)
	b = append(b, entryDomain...)
	for _, f := range []string{string(e.Op), string(e.Role), string(e.Target), string(e.Issuer), e.Database} {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	return binary.BigEndian.AppendUint64(b, e.Lamport)
}

// Marshal returns the entry's canonical JSON encoding.
func (e Entry) Marshal() ([]byte, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("accesscontrol: encode entry: %w", err)
	}
	return b, nil
}

// String describes the entry for logs.
func (e Entry) String() string {
	return fmt.Sprintf("%s %s to %s by %s at %d", e.Op, e.Role, e.Target, e.Issuer, e.Lamport)
}

// entryKey identifies an entry by its signed fields (the database is the
// controller's own): two encodings or two signatures of the same fields are
// the same entry.
type entryKey struct {
	lamport uint64
	op      Op
	role    Role
	target  peer.ID
	issuer  peer.ID
}

func (e Entry) key() entryKey {
	return entryKey{lamport: e.Lamport, op: e.Op, role: e.Role, target: e.Target, issuer: e.Issuer}
}

// opRank orders operations at equal Lamport time: revocations replay first
// and outrank grants.
func opRank(op Op) int {
	if op == OpRevoke {
		return 0
	}
	return 1
}

// compareKeys is the replay order: Lamport time, then revocations before
// grants, then role, target and issuer.
func compareKeys(a, b entryKey) int {
	switch {
	case a.lamport != b.lamport:
		if a.lamport < b.lamport {
			return -1
		}
		return 1
	case a.op != b.op:
		return opRank(a.op) - opRank(b.op)
	case a.role != b.role:
		return strings.Compare(string(a.role), string(b.role))
	case a.target != b.target:
		return strings.Compare(string(a.target), string(b.target))
	}
	return strings.Compare(string(a.issuer), string(b.issuer))
}
