package seal

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Keyring is what one replica knows of a sealed database's keys: every key
// package it holds, the epochs they describe and the keys it could open.
// Packages are added in any order and any number of times; two replicas
// that hold the same packages (and agree on who reads) agree on the
// current epoch, whatever keys each could open.
//
// A Keyring is safe for concurrent use. It does no I/O: the engine stores
// and replicates the packages.
type Keyring struct {
	db      string
	genesis EpochID
	self    peer.ID
	mk      *MemberKey // nil on a replica that is no member (a relay)

	mu     sync.Mutex
	pkgs   map[[32]byte]bool
	epochs map[EpochID]*epochState
	names  *Names
}

type epochState struct {
	level   uint64
	started bool // a package for it is held: level is known
	rotated bool // its Rotation is held: level is the rotation's
	tags    map[Tag]bool
	key     *Key
	rots    []*KeyPackage
}

// NewKeyring returns the keyring of database db, whose genesis epoch (the
// level-0 epoch its manifest pins) is genesis, for peer self holding
// member key mk (nil for a replica that holds no member key).
func NewKeyring(db string, genesis EpochID, self peer.ID, mk *MemberKey) *Keyring {
	return &Keyring{db: db, genesis: genesis, self: self, mk: mk,
		pkgs: map[[32]byte]bool{}, epochs: map[EpochID]*epochState{}}
}

func (r *Keyring) epoch(id EpochID) *epochState {
	e := r.epochs[id]
	if e == nil {
		e = &epochState{tags: map[Tag]bool{}}
		r.epochs[id] = e
	}
	return e
}

// Add folds a package (decoded and verified by DecodeKeyPackage for this
// database) into the keyring and opens what it can. It returns an error
// wrapping ErrPackageDoesNotOpen for a package that contradicts the ones
// held (a second level-0 epoch, an epoch started at two levels), which is
// then ignored, and for a package whose wrap for us or whose links do not
// open, which is kept: its metadata still counts.
func (r *Keyring) Add(p *KeyPackage) error {
	h := p.Hash()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pkgs[h] {
		return nil
	}
	if (p.Level == 0) != (p.Epoch == r.genesis) {
		return fmt.Errorf("%w: epoch %s at level %d is not the database's genesis", ErrPackageDoesNotOpen, p.Epoch, p.Level)
	}
	if e := r.epochs[p.Epoch]; p.Kind == Rotation && e != nil && e.rotated && e.level != p.Level {
		return fmt.Errorf("%w: epoch %s started at two levels", ErrPackageDoesNotOpen, p.Epoch)
	}
	r.pkgs[h] = true
	e := r.epoch(p.Epoch)
	for _, x := range p.Wraps {
		e.tags[x.Tag] = true
	}
	// An epoch's level is its rotation's; until that arrives (deltas
	// reach a replica newest first), the lowest an addition claims.
	switch {
	case p.Kind == Rotation:
		e.started, e.rotated, e.level = true, true, p.Level
		e.rots = append(e.rots, p)
	case !e.rotated && (!e.started || p.Level < e.level):
		e.started, e.level = true, p.Level
	}
	var err error
	if e.key == nil && r.mk != nil && p.Recipient(TagOf(r.self)) {
		k, oerr := p.Open(r.db, r.self, r.mk)
		if oerr != nil {
			err = oerr
		} else {
			r.learn(p.Epoch, k)
		}
	} else if e.key != nil && p.Kind == Rotation {
		r.learn(p.Epoch, *e.key)
	}
	return err
}

// learn records key k of epoch id and follows the links of every rotation
// of the epochs it opens, down the chain.
func (r *Keyring) learn(id EpochID, k Key) {
	work := []Key{k}
	for len(work) > 0 {
		k := work[len(work)-1]
		work = work[:len(work)-1]
		id := k.ID()
		e := r.epoch(id)
		if e.key == nil {
			kk := k
			e.key = &kk
			if id == r.genesis {
				r.names, _ = NewNames(k) // cannot fail: HKDF and AES with fixed sizes
			}
		}
		for _, p := range e.rots {
			lower, err := p.OpenLinks(r.db, k)
			if err != nil {
				continue // a forged link: the other links of other packages may still open
			}
			for _, lk := range lower {
				if le := r.epoch(lk.ID()); le.key == nil {
					work = append(work, lk)
				}
			}
		}
	}
}

// Key returns the key of epoch id, if held.
func (r *Keyring) Key(id EpochID) (Key, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e := r.epochs[id]; e != nil && e.key != nil {
		return *e.key, true
	}
	return Key{}, false
}

// Names returns the database's name sealer, which needs the genesis key:
// ErrNotReader when this replica holds no key at all, ErrNoEpochKey when
// it holds later keys but not (yet) the genesis.
func (r *Keyring) Names() (*Names, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.names != nil {
		return r.names, nil
	}
	for _, e := range r.epochs {
		if e.key != nil {
			return nil, fmt.Errorf("%w: genesis epoch %s", ErrNoEpochKey, r.genesis)
		}
	}
	return nil, fmt.Errorf("%w: no key package opens for %s", ErrNotReader, r.self)
}

// Epoch describes an epoch.
type Epoch struct {
	ID    EpochID
	Level uint64
}

// Current returns the current epoch: among the started epochs every
// recipient of which is a reader (isReader, asked about each recipient
// tag), the one with the highest level, ties to the smallest id. It is the
// same on every replica that holds the same packages and answers isReader
// the same way. false when no epoch is eligible.
func (r *Keyring) Current(isReader func(Tag) bool) (Epoch, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.current(isReader)
}

func (r *Keyring) current(isReader func(Tag) bool) (Epoch, bool) {
	var best Epoch
	found := false
	for id, e := range r.epochs {
		if !e.started || !eligible(e, isReader) {
			continue
		}
		if !found || e.level > best.Level || e.level == best.Level && compareIDs(id, best.ID) < 0 {
			best, found = Epoch{ID: id, Level: e.level}, true
		}
	}
	return best, found
}

func eligible(e *epochState, isReader func(Tag) bool) bool {
	for t := range e.tags {
		if !isReader(t) {
			return false
		}
	}
	return true
}

// SealingKey returns the key writes are sealed under: the current epoch's.
// ErrNotReader when the current epoch is not wrapped to this replica (or
// there is none), ErrNoEpochKey when it is but the wrap has not opened.
func (r *Keyring) SealingKey(isReader func(Tag) bool) (Key, Epoch, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur, ok := r.current(isReader)
	if !ok {
		return Key{}, Epoch{}, fmt.Errorf("%w: no eligible epoch%s", ErrNotReader, r.describe(isReader))
	}
	e := r.epochs[cur.ID]
	if e.key != nil {
		return *e.key, cur, nil
	}
	if e.tags[TagOf(r.self)] {
		return Key{}, cur, fmt.Errorf("%w: epoch %s", ErrNoEpochKey, cur.ID)
	}
	return Key{}, cur, fmt.Errorf("%w: epoch %s is not wrapped to %s", ErrNotReader, cur.ID, r.self)
}

// NeedsRotation reports whether a started epoch above the current one is
// no longer eligible (it was wrapped to a peer that is no reader now, or
// no epoch is eligible at all): a writer should rotate before it writes.
func (r *Keyring) NeedsRotation(isReader func(Tag) bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur, ok := r.current(isReader)
	for _, e := range r.epochs {
		if e.started && (!ok || e.level >= cur.Level) && !eligible(e, isReader) {
			return true
		}
	}
	return false
}

// Missing returns which of readers the current epoch is not wrapped to.
func (r *Keyring) Missing(isReader func(Tag) bool, readers []peer.ID) []peer.ID {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur, ok := r.current(isReader)
	var out []peer.ID
	for _, p := range readers {
		if !ok || !r.epochs[cur.ID].tags[TagOf(p)] {
			out = append(out, p)
		}
	}
	return out
}

// Rotate starts a new epoch one level above the highest this replica
// holds, wrapped to readers (their member key records), linking every key
// held at that highest level and every held key no other link reaches, so
// the new epoch leads to all history this replica can read.
func (r *Keyring) Rotate(issuer crypto.PrivKey, readers []*MemberRecord, now time.Time) (*KeyPackage, Key, error) {
	k, err := NewKey()
	if err != nil {
		return nil, Key{}, err
	}
	r.mu.Lock()
	var top uint64
	for _, e := range r.epochs {
		if e.started && e.level > top {
			top = e.level
		}
	}
	linked := map[EpochID]bool{}
	for _, e := range r.epochs {
		for _, p := range e.rots {
			for _, l := range p.Links {
				linked[l.Epoch] = true
			}
		}
	}
	var lower []Key
	for id, e := range r.epochs {
		if e.key != nil && (e.started && e.level == top || !linked[id]) {
			lower = append(lower, *e.key)
		}
	}
	r.mu.Unlock()
	slices.SortFunc(lower, func(a, b Key) int { return compareIDs(a.ID(), b.ID()) })
	p, err := NewRotation(issuer, r.db, top+1, k, readers, lower, now)
	if err != nil {
		return nil, Key{}, err
	}
	return p, k, nil
}

// Known returns how many epoch keys the keyring holds.
func (r *Keyring) Known() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.epochs {
		if e.key != nil {
			n++
		}
	}
	return n
}

// describe says, for an error, which epochs are held and which of their
// recipients are not readers.
func (r *Keyring) describe(isReader func(Tag) bool) string {
	var b strings.Builder
	for id, e := range r.epochs {
		if !e.started {
			continue
		}
		n := 0
		for t := range e.tags {
			if !isReader(t) {
				n++
			}
		}
		fmt.Fprintf(&b, "; epoch %s level %d: %d of %d recipients not readers", id, e.level, n, len(e.tags))
	}
	return b.String()
}

// Wrapped reports whether any package held wraps an epoch to the peer
// with tag t: whether some writer shared the database with it.
func (r *Keyring) Wrapped(t Tag) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.epochs {
		if e.tags[t] {
			return true
		}
	}
	return false
}
