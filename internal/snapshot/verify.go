package snapshot

import (
	"context"
	"fmt"
	"time"

	dshelp "github.com/ipfs/boxo/datastore/dshelp"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/latticedb/lattice/accesscontrol"
)

// Producers is the question a snapshot adds to an access controller: may
// p produce snapshots of the database? A controller answers it by
// implementing this interface (found by type assertion); ProducerRule
// gives the rule for those that do not.
type Producers interface {
	CanSnapshot(ctx context.Context, p peer.ID) error
}

// ProducerRule is who may produce a snapshot under ac, at time at:
//
//   - a controller implementing Producers answers itself;
//   - static: a writer (CanWrite of a write by p);
//   - dynamic: an admin (CanWrite of an access-control write by p, which
//     only admins may make);
//   - token, open and any other type: nobody. A token right for snapshots
//     and k-of-n attestations for open databases are the documented next
//     steps (docs/snapshots.md); until then such databases join by the
//     catch-up stream alone.
func ProducerRule(ac accesscontrol.Controller, db string, at time.Time) func(ctx context.Context, p peer.ID) error {
	if pr, ok := ac.(Producers); ok {
		return pr.CanSnapshot
	}
	return func(ctx context.Context, p peer.ID) error {
		switch ac.Type() {
		case accesscontrol.TypeStatic:
			return ac.CanWrite(ctx, accesscontrol.Write{Database: db, Author: p, Time: at})
		case accesscontrol.TypeDynamic:
			return ac.CanWrite(ctx, accesscontrol.Write{Database: db, Author: p, ACL: true, Time: at})
		}
		return fmt.Errorf("no snapshot producers under a %q controller", ac.Type())
	}
}

// Verifier judges a snapshot received from the network.
type Verifier struct {
	// Database is the address the snapshot must be of.
	Database string
	// MayProduce returns nil if p may produce snapshots (ProducerRule).
	MayProduce func(ctx context.Context, p peer.ID) error
	// Judge judges one carried block as any remote delta is judged
	// (signature, height, access controller, validator); nil error to
	// admit it.
	Judge func(ctx context.Context, nd ipld.Node) error
}

// Verify checks a bundle without the history it stands for: the
// producer's signature and right, that the coverage holds every block the
// bundle shows to be in its past (heads, live elements' blocks, the
// links of every carried block) and at least as many blocks as the
// highest head's height, that every listed live element is in a carried
// block at its height, and every carried block's judgment. Errors wrap
// ErrRefused and one of the named reasons.
//
// What it cannot see without the history: an authorised producer that
// leaves out a live element of a block it does not carry, or covers a
// block outside its past. The producer's signature makes that a provable
// lie by a known peer; Audit, on a replica with the history, proves it.
func (v Verifier) Verify(ctx context.Context, b *Bundle) error {
	s := &b.Snapshot
	refuse := func(reason error, format string, args ...any) error {
		return fmt.Errorf("%w: %w: %s", ErrRefused, reason, fmt.Sprintf(format, args...))
	}
	if s.Database != v.Database {
		return refuse(ErrWrongDatabase, "snapshot of %q", s.Database)
	}
	pub, err := s.Producer.ExtractPublicKey()
	if err != nil {
		return refuse(ErrBadSignature, "producer %s: %v", s.Producer, err)
	}
	if ok, err := pub.Verify(s.signedBytes(), s.Sig); err != nil || !ok {
		return refuse(ErrBadSignature, "by %s", s.Producer)
	}
	if v.MayProduce == nil {
		return refuse(ErrUnauthorizedProducer, "no producer rule")
	}
	if err := v.MayProduce(ctx, s.Producer); err != nil {
		return refuse(ErrUnauthorizedProducer, "%s: %v", s.Producer, err)
	}
	if len(s.Heads) == 0 {
		return refuse(ErrMalformed, "no heads")
	}
	carried := make(map[cid.Cid]blocks.Block, len(b.Blocks))
	for _, blk := range b.Blocks {
		carried[keyCID(blk.Cid())] = blk
	}
	nodes := make(map[cid.Cid]ipld.Node, len(carried))
	node := func(c cid.Cid) (ipld.Node, uint64, map[string]bool, error) {
		blk, ok := carried[keyCID(c)]
		if !ok {
			return nil, 0, nil, fmt.Errorf("block %s not carried", c)
		}
		pn, d, err := decodeDelta(blk)
		if err != nil {
			return nil, 0, nil, err
		}
		nodes[keyCID(c)] = pn
		keys := map[string]bool{}
		for _, e := range d.GetElements() {
			keys[e.GetKey()] = true
		}
		return pn, d.GetPriority(), keys, nil
	}
	var maxHeight uint64
	for _, h := range s.Heads {
		if !s.Coverage.Has(h.CID.Hash()) {
			return refuse(ErrFalseCoverage, "head %s not covered", h.CID)
		}
		_, prio, _, err := node(h.CID)
		if err != nil {
			return refuse(ErrMalformed, "head: %v", err)
		}
		if prio != h.Height {
			return refuse(ErrMalformed, "head %s at height %d, listed at %d", h.CID, prio, h.Height)
		}
		maxHeight = max(maxHeight, h.Height)
	}
	if uint64(s.Coverage.Len()) < maxHeight {
		return refuse(ErrFalseCoverage, "%d blocks covered below a head at height %d", s.Coverage.Len(), maxHeight)
	}
	for _, e := range s.Live {
		if !s.Coverage.Has(e.Block.Hash()) {
			return refuse(ErrFalseCoverage, "the block of live %q, %s, not covered", e.Key, e.Block)
		}
		_, prio, keys, err := node(e.Block)
		if err != nil {
			return refuse(ErrMissingLiveElement, "%q: %v", e.Key, err)
		}
		if !keys[e.Key] {
			return refuse(ErrMissingLiveElement, "%q: block %s does not write it", e.Key, e.Block)
		}
		if prio != e.Height || prio > maxHeight {
			return refuse(ErrMissingLiveElement, "%q: block %s at height %d, listed at %d (heads up to %d)", e.Key, e.Block, prio, e.Height, maxHeight)
		}
	}
	for _, blk := range b.Blocks {
		nd, ok := nodes[keyCID(blk.Cid())]
		if !ok {
			continue // carried for nothing: never installed
		}
		for _, l := range nd.Links() {
			if !s.Coverage.Has(l.Cid.Hash()) {
				return refuse(ErrFalseCoverage, "%s links to %s, not covered", blk.Cid(), l.Cid)
			}
		}
		if v.Judge != nil {
			if err := v.Judge(ctx, nd); err != nil {
				return refuse(ErrBlockRefused, "%s: %v", blk.Cid(), err)
			}
		}
	}
	return nil
}

// keyCID is the CID go-ds-crdt gives the block with c's multihash.
func keyCID(c cid.Cid) cid.Cid { return cid.NewCidV1(cid.DagProtobuf, c.Hash()) }

// elemID is go-ds-crdt's element id of the block c.
func elemID(c cid.Cid) string { return dshelp.MultihashToDsKey(c.Hash()).String() }
