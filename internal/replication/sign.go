package replication

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	crdtpb "github.com/ipfs/go-ds-crdt/pb"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/crdt"
	"github.com/latticedb/lattice/validation"
)

// Every delta a Lattice engine writes carries one extra element, at
// crdt.SigKey(author), whose value is a signed envelope: the author, the time
// it claims, its capability token if any, a digest of every other element of
// the delta and the list of keys it may tombstone. Receivers verify it before
// go-ds-crdt merges the delta (see ValidatingDAG), and only then ask the
// access controller. The signature covers the database address, so a delta
// cannot be replayed into another database.
//
// The signature also covers the delta's height (its go-ds-crdt priority,
// which decides registers): a receiver refuses a delta found at another
// height than the one signed, so a party that copies a signed envelope
// into a block of its own cannot raise an old write above newer ones (a
// rollback). The writer predicts the height its block will get (one above
// the highest head) and, should heads move before go-ds-crdt builds the
// block, ValidatingDAG.Add refuses the block and the writer signs again
// (ErrHeightMoved). Not covered: the delta's links (they do not change
// what a delta's puts win against), which versions of a signed key a
// tombstone names, and deltas signed before heights were (envelopes
// without a height, under sigDomainV1): those stay replayable at any
// height.

const (
	sigDomainV1 = "lattice-delta-v1\x00" // no height
	sigDomain   = "lattice-delta-v2\x00" // the height follows the time
)

// maxEnvelopeSize bounds a signature element from the network.
const maxEnvelopeSize = 256 << 10

type envelope struct {
	Author  string   `json:"a"`
	Time    int64    `json:"t"`           // Unix milliseconds claimed by the author
	Height  uint64   `json:"h,omitempty"` // the delta's priority; 0 in envelopes signed before heights were
	Token   []byte   `json:"k,omitempty"` // capability token
	Digest  []byte   `json:"d"`           // sha256 of the delta's other elements
	Deletes []string `json:"x,omitempty"` // keys the delta may tombstone, sorted
	Sig     []byte   `json:"s"`
}

func (env *envelope) signedBytes(db string) []byte {
	var b bytes.Buffer
	if env.Height == 0 {
		b.WriteString(sigDomainV1)
	} else {
		b.WriteString(sigDomain)
	}
	writeField := func(p []byte) {
		var n [binary.MaxVarintLen64]byte
		b.Write(n[:binary.PutUvarint(n[:], uint64(len(p)))])
		b.Write(p)
	}
	writeField([]byte(db))
	writeField([]byte(env.Author))
	var t [8]byte
	binary.BigEndian.PutUint64(t[:], uint64(env.Time))
	b.Write(t[:])
	if env.Height != 0 {
		binary.BigEndian.PutUint64(t[:], env.Height)
		b.Write(t[:])
	}
	writeField(env.Token)
	writeField(env.Digest)
	for _, k := range env.Deletes {
		writeField([]byte(k))
	}
	return b.Bytes()
}

// putsDigest hashes the (key, value) pairs a delta puts, in key order.
func putsDigest(puts []crdt.Mutation) []byte {
	sort.Slice(puts, func(i, j int) bool {
		if puts[i].Key != puts[j].Key {
			return puts[i].Key < puts[j].Key
		}
		return bytes.Compare(puts[i].Value, puts[j].Value) < 0
	})
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	for _, p := range puts {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(p.Key)))])
		h.Write([]byte(p.Key))
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(p.Value)))])
		h.Write(p.Value)
	}
	return h.Sum(nil)
}

// SignChunk returns the signature element for a delta made of muts,
// written by author (whose key is key) into database db at now, with the
// author's capability token if any, for the delta to sit at height (its
// go-ds-crdt priority: one above the highest head when it is committed;
// must not be 0). The element's key is the delta's own (crdt.SigKeyFor).
// It sorts the puts of muts in place.
func SignChunk(key crypto.PrivKey, author peer.ID, db string, token []byte, now time.Time, height uint64, muts []crdt.Mutation) (crdt.Mutation, error) {
	if height == 0 {
		return crdt.Mutation{}, fmt.Errorf("%w: height 0", ErrBadDelta)
	}
	var puts []crdt.Mutation
	var dels []string
	for _, m := range muts {
		if m.Delete {
			dels = append(dels, m.Key)
		} else {
			puts = append(puts, m)
		}
	}
	sort.Strings(dels)
	env := &envelope{Author: author.String(), Time: now.UnixMilli(), Height: height, Token: token, Digest: putsDigest(puts), Deletes: dels}
	sig, err := key.Sign(env.signedBytes(db))
	if err != nil {
		return crdt.Mutation{}, err
	}
	env.Sig = sig
	v, err := json.Marshal(env)
	if err != nil {
		return crdt.Mutation{}, err
	}
	return crdt.Mutation{Key: crdt.SigKeyFor(author.String(), crdt.NewNonce()), Value: v}, nil
}

// ErrBadDelta marks a delta whose signature is missing, malformed or
// wrong, or whose elements it does not cover.
var ErrBadDelta = errors.New("replication: delta refused")

// Bounds on one delta. The engine's writer never makes a delta past them:
// it commits a write as deltas of at most MaxDeltaMutations keys, and no
// value is larger than a document (at most 1 MiB). A delta from the
// network is judged by the same bounds before its signature is checked or
// anything of it is merged, so a writer that bypasses its own engine's
// checks (a modified peer) cannot make every replica hold, sign-check and
// merge a delta of a million keys.
const (
	// MaxDeltaMutations is how many keys one delta puts or deletes.
	MaxDeltaMutations = 512
	// MaxDeltaElements bounds the elements (puts) of a delta: its
	// mutations and its signature.
	MaxDeltaElements = MaxDeltaMutations + 1
	// MaxDeltaTombstones bounds the tombstones of a delta: a delete names
	// every live version of its key, one per concurrent writer.
	MaxDeltaTombstones = 16 * MaxDeltaMutations
	// MaxDeltaValue bounds the value of one element: a document of the
	// largest size the engine accepts (1 MiB) and its encoding.
	MaxDeltaValue = 1<<20 + 16<<10
)

// ErrDeltaTooLarge marks a delta past MaxDeltaElements, MaxDeltaTombstones
// or MaxDeltaValue; it is refused (it wraps ErrBadDelta too).
var ErrDeltaTooLarge = errors.New("replication: delta over its bounds")

// checkDeltaBounds refuses a delta past the bounds, before any work that
// grows with it.
func checkDeltaBounds(d *crdtpb.Delta) error {
	if n := len(d.GetElements()); n > MaxDeltaElements {
		return fmt.Errorf("%w: %w: %d elements, the limit is %d (MaxDeltaElements)", ErrBadDelta, ErrDeltaTooLarge, n, MaxDeltaElements)
	}
	if n := len(d.GetTombstones()); n > MaxDeltaTombstones {
		return fmt.Errorf("%w: %w: %d tombstones, the limit is %d (MaxDeltaTombstones)", ErrBadDelta, ErrDeltaTooLarge, n, MaxDeltaTombstones)
	}
	for _, e := range d.GetElements() {
		if n := len(e.GetValue()); n > MaxDeltaValue {
			return fmt.Errorf("%w: %w: a value of %d bytes at %q, the limit is %d (MaxDeltaValue)", ErrBadDelta, ErrDeltaTooLarge, n, e.GetKey(), MaxDeltaValue)
		}
	}
	return nil
}

// VerifyDelta checks a delta's signature for database db and returns the
// write it stands for, ready for the access controller. Errors wrap
// ErrBadDelta (and ErrDeltaTooLarge for a delta past the bounds, checked
// first).
func VerifyDelta(db string, d *crdtpb.Delta) (accesscontrol.Write, error) {
	w := accesscontrol.Write{Database: db}
	if err := checkDeltaBounds(d); err != nil {
		return w, err
	}
	var env *envelope
	var puts []crdt.Mutation
	colls := map[string]bool{}
	for _, e := range d.GetElements() {
		k, err := crdt.ParseKey(e.GetKey())
		if err != nil {
			return w, fmt.Errorf("%w: %v", ErrBadDelta, err)
		}
		if k.Kind == crdt.KindSig {
			if env != nil {
				return w, fmt.Errorf("%w: two signatures", ErrBadDelta)
			}
			if len(e.GetValue()) > maxEnvelopeSize {
				return w, fmt.Errorf("%w: signature too large", ErrBadDelta)
			}
			env = &envelope{}
			if err := json.Unmarshal(e.GetValue(), env); err != nil {
				return w, fmt.Errorf("%w: signature: %v", ErrBadDelta, err)
			}
			if env.Author != k.Sub {
				return w, fmt.Errorf("%w: signature key names another author", ErrBadDelta)
			}
			continue
		}
		noteKey(k, colls, &w)
		puts = append(puts, crdt.Mutation{Key: e.GetKey(), Value: e.GetValue()})
	}
	if env == nil {
		return w, fmt.Errorf("%w: unsigned", ErrBadDelta)
	}
	if env.Height != 0 && env.Height != d.GetPriority() {
		return w, fmt.Errorf("%w: signed for height %d, found at height %d (a replay in another block)", ErrBadDelta, env.Height, d.GetPriority())
	}
	if !bytes.Equal(putsDigest(puts), env.Digest) {
		return w, fmt.Errorf("%w: elements do not match the signature", ErrBadDelta)
	}
	if !sort.StringsAreSorted(env.Deletes) {
		return w, fmt.Errorf("%w: delete list not sorted", ErrBadDelta)
	}
	for _, t := range d.GetTombstones() {
		i := sort.SearchStrings(env.Deletes, t.GetKey())
		if i == len(env.Deletes) || env.Deletes[i] != t.GetKey() {
			return w, fmt.Errorf("%w: tombstone of %q not signed", ErrBadDelta, t.GetKey())
		}
		k, err := crdt.ParseKey(t.GetKey())
		if err != nil {
			return w, fmt.Errorf("%w: %v", ErrBadDelta, err)
		}
		noteKey(k, colls, &w)
	}
	author, err := peer.Decode(env.Author)
	if err != nil {
		return w, fmt.Errorf("%w: author: %v", ErrBadDelta, err)
	}
	pub, err := author.ExtractPublicKey()
	if err != nil {
		return w, fmt.Errorf("%w: author %s does not embed its key", ErrBadDelta, author)
	}
	ok, err := pub.Verify(env.signedBytes(db), env.Sig)
	if err != nil || !ok {
		return w, fmt.Errorf("%w: bad signature by %s", ErrBadDelta, author)
	}
	w.Author, w.Token, w.Time = author, env.Token, time.UnixMilli(env.Time)
	for c := range colls {
		w.Collections = append(w.Collections, c)
	}
	sort.Strings(w.Collections)
	return w, nil
}

func noteKey(k crdt.Key, colls map[string]bool, w *accesscontrol.Write) {
	switch k.Kind {
	case crdt.KindDoc, crdt.KindBase, crdt.KindGrave, crdt.KindField, crdt.KindCounter, crdt.KindSetElem, crdt.KindCollection, crdt.KindIndex:
		colls[k.Coll] = true
	case crdt.KindACL, crdt.KindSchema:
		w.ACL = true // schema entries are admins' too
	}
}

// aclEntries returns the access-control entries a delta puts.
func aclEntries(d *crdtpb.Delta) [][]byte {
	return entriesUnder(d, crdt.ACLPrefix()+"/")
}

// entriesUnder returns the values a delta puts under prefix.
func entriesUnder(d *crdtpb.Delta, prefix string) [][]byte {
	var out [][]byte
	for _, e := range d.GetElements() {
		if strings.HasPrefix(e.GetKey(), prefix) {
			out = append(out, e.GetValue())
		}
	}
	return out
}

// applyEntries folds the replicated entries a delta carries into the
// controller and the validator that hold them (either may be nil): first
// access-control entries, then schema entries, whose effect depends on
// who is an admin. Invalid entries are refused by their holder.
func applyEntries(rep accesscontrol.Replicated, val validation.Replicated, d *crdtpb.Delta) {
	if rep != nil {
		for _, e := range aclEntries(d) {
			_ = rep.Apply(e)
		}
	}
	if val != nil {
		for _, e := range entriesUnder(d, crdt.SchemaPrefix()+"/") {
			_ = val.Apply(e)
		}
	}
}
