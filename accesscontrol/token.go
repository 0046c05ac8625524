package accesscontrol

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/latticedb/lattice/internal/wire"
)

// TypeToken is the type of the token controller.
const TypeToken = "token"

// MaxTokenSize is the largest encoded token IssueToken produces and
// ParseToken accepts.
const MaxTokenSize = 4096

// tokenMagic starts every token: "LTK" and the format version.
const tokenMagic = "LTK\x01"

// tokenDomain separates token signatures from every other use of a key.
const tokenDomain = "lattice/accesscontrol/token/v1\x00"

// tokenCacheSize bounds the cache of verified tokens per controller.
const tokenCacheSize = 1024

// tokenParams is the JSON form of a token controller's params.
type tokenParams struct {
	Issuer string `json:"issuer"` // base64 of crypto.MarshalPublicKey
}

// Token returns the config of a database whose writers carry capability
// tokens signed by issuer (see IssueToken). A nil key gives a config that
// NewToken refuses.
func Token(issuer crypto.PubKey) Config {
	var p tokenParams
	if issuer != nil {
		if b, err := crypto.MarshalPublicKey(issuer); err == nil {
			p.Issuer = base64.StdEncoding.EncodeToString(b)
		}
	}
	return Config{Type: TypeToken, Params: mustJSON(p)}
}

// TokenClaims is what a capability token grants: its holder may write to
// Database (only to Collection, if set) with writes signed within
// [NotBefore, Expires].
//
// Tokens cannot be revoked; expiry is the only way to end one, so IssueToken
// requires Expires. Times are kept to the second: NotBefore is rounded up
// and Expires down, so encoding never widens a token. A zero NotBefore means
// "from the beginning".
type TokenClaims struct {
	Database   string    // database address the token is for
	Collection string    // the only collection it covers; "" = all
	Holder     peer.ID   // the peer that may use it
	NotBefore  time.Time // first valid signing time (inclusive); zero = no lower bound
	Expires    time.Time // last valid signing time (inclusive); required
}

// IssueToken returns a capability token for t, signed by issuer.
//
// Encoding (binary, at most MaxTokenSize bytes): "LTK\x01", then the
// issuer's marshalled public key, Database, Collection and Holder each as a
// uvarint length and bytes, NotBefore and Expires as varint Unix seconds,
// and the issuer's signature (uvarint length and bytes) over a domain tag
// followed by everything before it.
func IssueToken(issuer crypto.PrivKey, t TokenClaims) ([]byte, error) {
	switch {
	case issuer == nil:
		return nil, fmt.Errorf("accesscontrol: issue token: nil issuer key")
	case t.Database == "":
		return nil, fmt.Errorf("accesscontrol: issue token: Database is required")
	case t.Holder == "":
		return nil, fmt.Errorf("accesscontrol: issue token: Holder is required")
	case t.Expires.IsZero():
		return nil, fmt.Errorf("accesscontrol: issue token: Expires is required (tokens cannot be revoked)")
	}
	nb, exp := ceilSecond(t.NotBefore), t.Expires.Unix()
	if exp < nb {
		return nil, fmt.Errorf("accesscontrol: issue token: Expires %v is before NotBefore %v", t.Expires, t.NotBefore)
	}
	key, err := crypto.MarshalPublicKey(issuer.GetPublic())
	if err != nil {
		return nil, fmt.Errorf("accesscontrol: issue token: %w", err)
	}
	b := []byte(tokenMagic)
	for _, f := range []string{string(key), t.Database, t.Collection, string(t.Holder)} {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	b = binary.AppendVarint(b, nb)
	b = binary.AppendVarint(b, exp)
	sig, err := issuer.Sign(append([]byte(tokenDomain), b...))
	if err != nil {
		return nil, fmt.Errorf("accesscontrol: issue token: sign: %w", err)
	}
	b = binary.AppendUvarint(b, uint64(len(sig)))
	b = append(b, sig...)
	if len(b) > MaxTokenSize {
		return nil, fmt.Errorf("accesscontrol: issue token: %d bytes, limit %d", len(b), MaxTokenSize)
	}
	return b, nil
}

// ceilSecond returns t's Unix time rounded up to the second; zero stays zero.
func ceilSecond(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

// ParseToken decodes a token and verifies that issuer signed it. A malformed
// token returns an error wrapping ErrBadToken; one signed by another key, or
// whose signature does not verify, returns ErrTokenIssuer (which wraps
// ErrUnauthorized). Times come back in UTC.
func ParseToken(b []byte, issuer crypto.PubKey) (TokenClaims, error) {
	if issuer == nil {
		return TokenClaims{}, fmt.Errorf("%w: nil issuer key", ErrBadConfig)
	}
	raw, err := decodeToken(b)
	if err != nil {
		return TokenClaims{}, err
	}
	key, err := crypto.UnmarshalPublicKey(raw.key)
	if err != nil {
		return TokenClaims{}, badToken("issuer key: %v", err)
	}
	if !key.Equals(issuer) {
		return TokenClaims{}, fmt.Errorf("%w: signed by %s, want %s", ErrTokenIssuer, keyID(key), keyID(issuer))
	}
	ok, err := key.Verify(append([]byte(tokenDomain), raw.signed...), raw.sig)
	if err != nil || !ok {
		return TokenClaims{}, fmt.Errorf("%w: signature does not verify", ErrTokenIssuer)
	}
	return raw.claims, nil
}

// rawToken is a decoded, unverified token.
type rawToken struct {
	key    []byte
	claims TokenClaims
	signed []byte // the bytes the signature covers, minus the domain tag
	sig    []byte
}

// decodeToken parses the wire form without verifying anything.
func decodeToken(b []byte) (rawToken, error) {
	var t rawToken
	if len(b) > MaxTokenSize {
		return t, badToken("%d bytes, limit %d", len(b), MaxTokenSize)
	}
	if len(b) < len(tokenMagic) || string(b[:len(tokenMagic)]) != tokenMagic {
		return t, badToken("not a Lattice token (bad magic or version)")
	}
	r := tokenReader{b: b, off: len(tokenMagic)}
	t.key = r.bytes("issuer key")
	db := r.bytes("database")
	coll := r.bytes("collection")
	holder := r.bytes("holder")
	nb := r.varint("not-before")
	exp := r.varint("expires")
	signedEnd := r.off
	t.sig = r.bytes("signature")
	if r.err != nil {
		return rawToken{}, r.err
	}
	if r.off != len(b) {
		return rawToken{}, badToken("%d trailing bytes", len(b)-r.off)
	}
	id, err := peer.IDFromBytes(holder)
	if err != nil {
		return rawToken{}, badToken("holder: %v", err)
	}
	t.signed = b[:signedEnd]
	t.claims = TokenClaims{
		Database:   string(db),
		Collection: string(coll),
		Holder:     id,
		NotBefore:  time.Unix(nb, 0).UTC(),
		Expires:    time.Unix(exp, 0).UTC(),
	}
	return t, nil
}

// tokenReader reads length-prefixed fields, remembering the first error.
type tokenReader struct {
	b   []byte
	off int
	err error
}

func (r *tokenReader) bytes(what string) []byte {
	if r.err != nil {
		return nil
	}
	n, k := wire.Uvarint(r.b[r.off:])
	if k <= 0 || n > uint64(len(r.b)-r.off-k) {
		r.err = badToken("truncated %s", what)
		return nil
	}
	r.off += k
	v := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return v
}

func (r *tokenReader) varint(what string) int64 {
	if r.err != nil {
		return 0
	}
	v, k := wire.Varint(r.b[r.off:])
	if k <= 0 {
		r.err = badToken("truncated %s", what)
		return 0
	}
	r.off += k
	return v
}

// keyID names a public key by its peer ID, for errors.
func keyID(k crypto.PubKey) string {
	id, err := peer.IDFromPublicKey(k)
	if err != nil {
		return "<unknown key>"
	}
	return id.String()
}

// TokenController lets peers write while they hold a valid capability token
// signed by the issuer named in the manifest. It refuses writes carrying
// access-control entries: tokens are its only state, and they travel with
// the writes.
type TokenController struct {
	issuer crypto.PubKey
	db     string

	mu    sync.Mutex
	cache map[[sha256.Size]byte]TokenClaims // verified tokens
}

var _ Controller = (*TokenController)(nil)

// NewToken is the factory of the "token" controller. params are
// {"issuer": "<base64 of crypto.MarshalPublicKey>"}.
func NewToken(params json.RawMessage, env Env) (Controller, error) {
	var p tokenParams
	if err := decodeParams(TypeToken, params, &p); err != nil {
		return nil, err
	}
	raw, err := base64.StdEncoding.DecodeString(p.Issuer)
	if err != nil || len(raw) == 0 {
		return nil, badConfig("token controller: issuer must be a base64 marshalled public key")
	}
	key, err := crypto.UnmarshalPublicKey(raw)
	if err != nil {
		return nil, badConfig("token controller: issuer: %v", err)
	}
	return &TokenController{issuer: key, db: env.Database, cache: make(map[[sha256.Size]byte]TokenClaims)}, nil
}

// Type returns "token".
func (c *TokenController) Type() string { return TypeToken }

// Issuer returns the public key tokens must be signed with.
func (c *TokenController) Issuer() crypto.PubKey { return c.issuer }

// CanWrite allows a write whose token is signed by the issuer, names the
// write's database and author, covers every collection it touches and is
// valid at the write's signed time. The error names the failed check.
func (c *TokenController) CanWrite(_ context.Context, w Write) error {
	if w.ACL {
		return denied("a token database has no access-control entries; tokens travel with writes")
	}
	if c.db != "" && w.Database != c.db {
		return denied("write for database %.128q judged by the controller of %q", w.Database, c.db)
	}
	if len(w.Token) == 0 {
		return ErrTokenMissing
	}
	t, err := c.parse(w.Token)
	if err != nil {
		return err
	}
	switch {
	case t.Database != w.Database:
		return fmt.Errorf("%w: token is for %.128q, write is to %.128q", ErrTokenDatabase, t.Database, w.Database)
	case t.Holder != w.Author:
		return fmt.Errorf("%w: token held by %s, write authored by %s", ErrTokenHolder, t.Holder, authorString(w.Author))
	}
	if t.Collection != "" {
		if len(w.Collections) == 0 {
			return fmt.Errorf("%w: token covers only %.128q and the write names no collection", ErrTokenCollection, t.Collection)
		}
		for _, coll := range w.Collections {
			if coll != t.Collection {
				return fmt.Errorf("%w: token covers only %.128q, write touches %.128q", ErrTokenCollection, t.Collection, coll)
			}
		}
	}
	switch {
	case w.Time.IsZero():
		return denied("write carries no signed time")
	case w.Time.Before(t.NotBefore):
		return fmt.Errorf("%w: write signed at %s, token valid from %s", ErrTokenNotYetValid, w.Time.UTC().Format(time.RFC3339), t.NotBefore.Format(time.RFC3339))
	case w.Time.After(t.Expires):
		return fmt.Errorf("%w: write signed at %s, token expired at %s", ErrTokenExpired, w.Time.UTC().Format(time.RFC3339), t.Expires.Format(time.RFC3339))
	case EffectiveTime(w).After(t.Expires):
		return fmt.Errorf("%w: write claims %s but builds on writes made at %s, after the token expired at %s",
			ErrTokenExpired, w.Time.UTC().Format(time.RFC3339), w.After.UTC().Format(time.RFC3339), t.Expires.Format(time.RFC3339))
	}
	return nil
}

// parse verifies a token, remembering verified ones: the same token rides
// on every write of its holder, and a signature check is the costly part.
func (c *TokenController) parse(b []byte) (TokenClaims, error) {
	h := sha256.Sum256(b)
	c.mu.Lock()
	t, ok := c.cache[h]
	c.mu.Unlock()
	if ok {
		return t, nil
	}
	t, err := ParseToken(b, c.issuer)
	if err != nil {
		if !errorsIsUnauthorized(err) {
			err = fmt.Errorf("%w: %w", ErrUnauthorized, err)
		}
		return TokenClaims{}, err
	}
	c.mu.Lock()
	if len(c.cache) >= tokenCacheSize {
		clear(c.cache)
	}
	c.cache[h] = t
	c.mu.Unlock()
	return t, nil
}
