// Package ethsig is an example of a custom access controller registered from
// outside the framework: a "Web 3.0 style" controller whose manifest names
// wallet addresses, and whose writers carry a wallet's signature over the
// database address and their own peer ID.
//
// A wallet holder allows a peer to write with Sign(wallet, database, peerID)
// and hands it the resulting token; the peer attaches it to its writes
// (accesscontrol.Write.Token). Nobody needs to know the peer in advance, and
// the manifest pins only addresses.
//
//	r := plugins.NewDefaultRegistry()
//	if err := ethsig.Register(r); err != nil { ... }
//	db, _ := e.Create(ctx, "Votes", engine.WithAccess(ethsig.Config(addr)))
//
// # Not Ethereum-compatible
//
// The shapes are Ethereum's, the primitives are not: addresses are "0x" and
// the hex of the last 20 bytes of SHA-256 (Ethereum uses Keccak-256) of the
// 64-byte uncompressed secp256k1 public key, and signatures are libp2p's
// DER-encoded ECDSA over SHA-256 (Ethereum wallets sign EIP-191 messages with
// recoverable signatures). The module has no Keccak implementation, and this
// example uses only libp2p's core/crypto. An address derived here is
// therefore not the wallet's Ethereum address. A production controller
// would hash with Keccak-256, verify EIP-191 personal_sign signatures and
// recover the key from the signature instead of carrying it.
//
// Signatures do not expire: removing an address needs a new manifest.
package ethsig

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strings"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/plugins"
)

// Type is the controller's type in manifests.
const Type = "ethsig"

const (
	compressedKeyLen = 33
	maxSigLen        = 80 // DER ECDSA secp256k1 signatures are at most 72 bytes
	domain           = "lattice/ethsig/v1\x00"
)

// params is the JSON form of the controller's params.
type params struct {
	Addresses []string `json:"addresses"`
}

// Register adds the "ethsig" controller to r.
func Register(r *plugins.Registry) error {
	return r.RegisterAccess(Type, New)
}

// Config returns the manifest config of a database writable by peers holding
// a signature from one of addresses ("0x" and 40 hex digits, any case).
// Addresses are lower-cased, sorted and deduplicated, so equal sets give
// equal manifests.
func Config(addresses ...string) accesscontrol.Config {
	b, _ := json.Marshal(params{Addresses: normalize(addresses)})
	return accesscontrol.Config{Type: Type, Params: b}
}

func normalize(addrs []string) []string {
	out := make([]string, 0, len(addrs))
	for _, a := range addrs {
		out = append(out, strings.ToLower(strings.TrimSpace(a)))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Address returns the address of a secp256k1 public key: "0x" and the hex of
// the last 20 bytes of SHA-256 over the uncompressed point (X || Y). See the
// package documentation for why this is not an Ethereum address.
func Address(pub crypto.PubKey) (string, error) {
	if pub == nil || pub.Type() != crypto.Secp256k1 {
		return "", fmt.Errorf("ethsig: need a secp256k1 public key")
	}
	raw, err := pub.Raw()
	if err != nil {
		return "", fmt.Errorf("ethsig: %w", err)
	}
	xy, err := uncompress(raw)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(xy)
	return "0x" + hex.EncodeToString(sum[12:]), nil
}

// Sign returns the token that lets holder write to database db: the wallet's
// compressed public key followed by its signature over db and holder.
func Sign(wallet crypto.PrivKey, db string, holder peer.ID) ([]byte, error) {
	if wallet == nil || wallet.Type() != crypto.Secp256k1 {
		return nil, fmt.Errorf("ethsig: need a secp256k1 wallet key")
	}
	pub, err := wallet.GetPublic().Raw()
	if err != nil {
		return nil, fmt.Errorf("ethsig: %w", err)
	}
	sig, err := wallet.Sign(message(db, holder))
	if err != nil {
		return nil, fmt.Errorf("ethsig: sign: %w", err)
	}
	return append(pub, sig...), nil
}

// message is what a wallet signs: a domain tag, the length-prefixed
// database address and the holder's peer ID.
func message(db string, holder peer.ID) []byte {
	b := append([]byte(domain), binary.AppendUvarint(nil, uint64(len(db)))...)
	b = append(b, db...)
	return append(b, holder...)
}

// Controller admits writes whose token is a signature, by an allowed
// address, over the database and the write's author. It refuses writes
// carrying access-control entries.
type Controller struct {
	db      string
	allowed map[string]struct{}
}

var _ accesscontrol.Controller = (*Controller)(nil)

// New is the controller's factory: params are {"addresses": ["0x...", ...]}
// with at least one address.
func New(raw json.RawMessage, env accesscontrol.Env) (accesscontrol.Controller, error) {
	var p params
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("%w: ethsig: params: %v", accesscontrol.ErrBadConfig, err)
	}
	addrs := normalize(p.Addresses)
	if len(addrs) == 0 {
		return nil, fmt.Errorf("%w: ethsig: at least one address is required", accesscontrol.ErrBadConfig)
	}
	c := &Controller{db: env.Database, allowed: make(map[string]struct{}, len(addrs))}
	for _, a := range addrs {
		if len(a) != 42 || !strings.HasPrefix(a, "0x") {
			return nil, fmt.Errorf("%w: ethsig: address %.64q is not 0x and 40 hex digits", accesscontrol.ErrBadConfig, a)
		}
		if _, err := hex.DecodeString(a[2:]); err != nil {
			return nil, fmt.Errorf("%w: ethsig: address %.64q: %v", accesscontrol.ErrBadConfig, a, err)
		}
		c.allowed[a] = struct{}{}
	}
	return c, nil
}

// Type returns "ethsig".
func (c *Controller) Type() string { return Type }

// CanWrite checks the write's token: an allowed address's signature over
// the write's database and author.
func (c *Controller) CanWrite(_ context.Context, w accesscontrol.Write) error {
	deny := func(format string, args ...any) error {
		return fmt.Errorf("%w: ethsig: %s", accesscontrol.ErrUnauthorized, fmt.Sprintf(format, args...))
	}
	switch {
	case w.ACL:
		return deny("no access-control entries; allowed addresses are fixed by the manifest")
	case c.db != "" && w.Database != c.db:
		return deny("write for another database")
	case w.Author == "":
		return deny("write has no author")
	case len(w.Token) == 0:
		return deny("no wallet signature")
	case len(w.Token) <= compressedKeyLen || len(w.Token) > compressedKeyLen+maxSigLen:
		return deny("malformed token (%d bytes)", len(w.Token))
	}
	pub, err := crypto.UnmarshalSecp256k1PublicKey(w.Token[:compressedKeyLen])
	if err != nil {
		return deny("malformed wallet key: %v", err)
	}
	addr, err := Address(pub)
	if err != nil {
		return deny("%v", err)
	}
	if _, ok := c.allowed[addr]; !ok {
		return deny("address %s is not allowed to write", addr)
	}
	ok, err := pub.Verify(message(w.Database, w.Author), w.Token[compressedKeyLen:])
	if err != nil || !ok {
		return deny("signature by %s does not cover this database and author %s", addr, w.Author)
	}
	return nil
}

// secp256k1 field prime p = 2^256 - 2^32 - 977.
var fieldP, _ = new(big.Int).SetString("fffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2f", 16)

// uncompress turns a 33-byte compressed secp256k1 point into X || Y.
func uncompress(c []byte) ([]byte, error) {
	if len(c) != compressedKeyLen || (c[0] != 2 && c[0] != 3) {
		return nil, fmt.Errorf("ethsig: not a compressed secp256k1 key")
	}
	x := new(big.Int).SetBytes(c[1:])
	if x.Cmp(fieldP) >= 0 {
		return nil, fmt.Errorf("ethsig: x out of range")
	}
	// y^2 = x^3 + 7; p = 3 mod 4, so y = (y^2)^((p+1)/4).
	y2 := new(big.Int).Exp(x, big.NewInt(3), fieldP)
	y2.Add(y2, big.NewInt(7)).Mod(y2, fieldP)
	e := new(big.Int).Add(fieldP, big.NewInt(1))
	e.Rsh(e, 2)
	y := new(big.Int).Exp(y2, e, fieldP)
	if new(big.Int).Exp(y, big.NewInt(2), fieldP).Cmp(y2) != 0 {
		return nil, fmt.Errorf("ethsig: point not on the curve")
	}
	if y.Bit(0) != uint(c[0]&1) {
		y.Sub(fieldP, y)
	}
	out := make([]byte, 64)
	x.FillBytes(out[:32])
	y.FillBytes(out[32:])
	return out, nil
}
