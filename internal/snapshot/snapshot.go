package snapshot

import (
	"errors"
	"time"

	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// The errors of this package. A refused snapshot's error wraps ErrRefused
// and the named reason.
var (
	// ErrRefused marks every snapshot Verify refuses.
	ErrRefused = errors.New("snapshot: refused")
	// ErrMalformed: the encoding is not a snapshot (Decode).
	ErrMalformed = errors.New("snapshot: malformed")
	// ErrBadSignature: the producer's signature does not verify.
	ErrBadSignature = errors.New("snapshot: bad signature")
	// ErrWrongDatabase: the snapshot is of another database.
	ErrWrongDatabase = errors.New("snapshot: another database")
	// ErrUnauthorizedProducer: the access controller does not let the
	// producer make snapshots of this database.
	ErrUnauthorizedProducer = errors.New("snapshot: producer not authorised")
	// ErrFalseCoverage: the coverage leaves out a block the snapshot
	// itself shows to be in its past (a head, a live element's block, a
	// link of a carried block).
	ErrFalseCoverage = errors.New("snapshot: false coverage")
	// ErrMissingLiveElement: a live element the snapshot lists is not in
	// the blocks it carries (or sits at another height), or a carried
	// block holds a version of a listed key the list leaves out.
	ErrMissingLiveElement = errors.New("snapshot: live element missing")
	// ErrBlockRefused: a carried block failed the judgment every remote
	// delta passes (signature, height, access controller).
	ErrBlockRefused = errors.New("snapshot: block refused")
	// ErrNoHistory: Produce was asked for a snapshot of a replica with
	// no heads.
	ErrNoHistory = errors.New("snapshot: no history to snapshot")
	// ErrNotEmpty: Install was asked to install over a replica that
	// already has history.
	ErrNotEmpty = errors.New("snapshot: replica not empty")
)

// Head is one block of the snapshot's frontier and its height (its
// go-ds-crdt priority).
type Head struct {
	CID    cid.Cid
	Height uint64
}

// Element is one live version of a CRDT key: the block that wrote it
// (whose multihash is go-ds-crdt's element id) and that block's height.
// The value is not repeated here: it is in the block, which the snapshot
// carries.
type Element struct {
	Key    string
	Block  cid.Cid
	Height uint64
}

// Snapshot is the signed part of a snapshot: what it claims.
type Snapshot struct {
	// Database is the database's address (signed: a snapshot cannot be
	// replayed into another database).
	Database string
	// Producer signed the snapshot; Time is when, by its clock.
	Producer peer.ID
	Time     time.Time
	// Heads is the frontier, sorted by CID.
	Heads []Head
	// Coverage is the set of blocks in the frontier's past (heads
	// included).
	Coverage Coverage
	// Live is every live version of every key but delta signatures
	// (sorted by key, then block).
	Live []Element
	// Sig is the producer's signature over everything above.
	Sig []byte
}

// Bundle is a snapshot with the blocks it carries: every block that holds
// a live element, and the heads' blocks. It is what a joiner receives and
// what Install writes.
type Bundle struct {
	Snapshot Snapshot
	Blocks   []blocks.Block
}
