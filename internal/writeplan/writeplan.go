// Package writeplan plans a database's updates and deletes before they
// take its write path, which every writer of the database shares.
//
// An update or delete acts on the documents a filter matches. Matching
// them, reading each one's state from the store and planning its
// mutations all grow with the documents; a Plan does that against the
// read model's view first (Make), with no lock every writer shares.
// Inside the write path (Apply) it asks the view what changed since:
// a planned document whose view entry moved, or that an earlier write of
// the same commit group touched, is matched and planned again against
// its state there; a document of the collection changed since the plan
// (inserted, or changed to match) is matched and planned there too. Only
// those cost work in the path; nothing is half-applied, since Apply
// stages into the caller's transaction, which commits or fails whole.
//
// The caller (package engine) owns the transaction (Txn) and the write
// path (Run's write); this package owns the order of the steps.
package writeplan

import (
	"context"
	"errors"
	"fmt"

	"github.com/latticedb/lattice/crdt"
	"github.com/latticedb/lattice/internal/readmodel"
	"github.com/latticedb/lattice/query"
)

// ErrReplan is returned by Apply when the view no longer remembers the
// changes since the plan was made: the plan must be made again. Run does
// so.
var ErrReplan = errors.New("writeplan: plan again")

// maxReplans bounds the plans Run makes outside the write path before it
// makes one inside it, where nothing can move it.
const maxReplans = 3

// Txn is the part of a commit group's transaction a plan stages into.
// Its methods run inside the write path, on the caller's goroutine.
type Txn interface {
	// Shown is the document as the group sees it, materialised, from its
	// own state when it read or wrote it, else from the view; nil when it
	// does not exist.
	Shown(r readmodel.Ref) map[string]any
	// Has tells whether the group read or wrote the document.
	Has(r readmodel.Ref) bool
	// Doc reads the document's state as the group sees it (the store's,
	// with the group's writes applied).
	Doc(r readmodel.Ref) (*crdt.Doc, error)
	// Adopt gives the group cur as the document's state in the store,
	// read outside the write path at view sequence seq (still current).
	Adopt(r readmodel.Ref, seq uint64, cur *crdt.Doc)
	// Stage records the plan of one document made against cur.
	Stage(r readmodel.Ref, cur *crdt.Doc, p crdt.Plan)
	// Touched lists the documents the group has written so far.
	Touched() []readmodel.Ref
}

// Staged is one document a plan acted on: its state before, and the plan
// staged.
type Staged struct {
	Ref  readmodel.Ref
	Cur  *crdt.Doc
	Plan crdt.Plan
}

// Plan is an update or delete of the documents of one collection that a
// filter matches. Fill in the exported fields; a Plan is used by one
// call at a time.
type Plan struct {
	View   *readmodel.Model
	Coll   string
	Filter *query.Filter
	Sort   []query.SortKey
	Many   bool // every match; else the first in Sort (then id) order
	Limit  int  // with Many, at most Limit documents (0: all)
	// Op plans the write of one matched document from its state. It must
	// be pure: it runs outside the write path, and again inside for a
	// document that changed.
	Op func(cur *crdt.Doc) (crdt.Plan, error)
	// Check, when set, judges the number of documents matched before any
	// is planned (a bound on the write's size).
	Check func(n int) error
	// Each, when set, runs before each document is planned outside the
	// write path (a test hook).
	Each func(ctx context.Context)

	mark uint64 // the view's change counter before matching
	docs []planned
	rest []readmodel.Hit // without Many: the other matches, in order
}

// planned is one matched document planned against its state at seq.
type planned struct {
	ref  readmodel.Ref
	seq  uint64 // 0: it changed while planned; plan it again inside
	doc  map[string]any
	cur  *crdt.Doc
	plan crdt.Plan
}

// Run makes the plan, then applies it in the write path: write runs its
// function there (as one atomic write), and do, in the same function,
// stages whatever depends on what Apply staged (results, an upsert when
// nothing matched). A plan the view has forgotten the changes since is
// made again, after maxReplans attempts inside the write path.
func (p *Plan) Run(ctx context.Context, write func(fn func(Txn) error) error, do func(t Txn, acts []Staged) error) error {
	for attempt := 1; ; attempt++ {
		inside := attempt > maxReplans
		if !inside {
			if err := p.Make(ctx); err != nil {
				return err
			}
		}
		err := write(func(t Txn) error {
			if inside {
				if err := p.Make(ctx); err != nil {
					return err
				}
			}
			acts, err := p.Apply(t)
			if err != nil {
				return err
			}
			return do(t, acts)
		})
		if !errors.Is(err, ErrReplan) || attempt > maxReplans+2 {
			return err
		}
	}
}

// Make matches the view and plans each document matched against its
// state in the store, outside the write path.
func (p *Plan) Make(ctx context.Context) error {
	p.mark, p.docs, p.rest = p.View.Mark(), nil, nil
	hits, err := p.View.Matches(p.Coll, p.Filter, p.Sort, p.Limit, nil)
	if err != nil {
		return err
	}
	if !p.Many && len(hits) > 1 {
		hits, p.rest = hits[:1], hits[1:]
	}
	if p.Check != nil {
		if err := p.Check(len(hits)); err != nil {
			return err // refused before planning
		}
	}
	p.docs = make([]planned, 0, len(hits))
	for _, h := range hits {
		if p.Each != nil {
			p.Each(ctx)
		}
		pd := planned{ref: h.Ref, doc: h.Doc}
		cur, err := p.View.Load(ctx, h.Ref)
		if err != nil {
			return fmt.Errorf("writeplan: read %s in collection %q: %w", h.Ref.ID, h.Ref.Coll, err)
		}
		if p.View.Current(h.Ref, h.Seq) {
			if pd.plan, err = p.Op(cur); err != nil {
				return err
			}
			pd.seq, pd.cur = h.Seq, cur
		}
		p.docs = append(p.docs, pd)
	}
	return nil
}

// Apply stages the plan in t, inside the write path: each planned
// document as planned when its view entry has not changed since (and the
// group has not touched it); every other document that may match
// (changed since the plan, written by the group, or, for one document,
// the next ones matched) is matched again and planned against its state
// in the store. It returns what it staged, in write order.
func (p *Plan) Apply(t Txn) ([]Staged, error) {
	changed, ok := p.View.ChangedSince(p.Coll, p.mark)
	if !ok {
		return nil, ErrReplan
	}
	var acts []Staged
	var hits []readmodel.Hit
	seen := map[readmodel.Ref]bool{}
	consider := func(r readmodel.Ref) {
		if !seen[r] && r.Coll == p.Coll {
			seen[r] = true
			if doc := t.Shown(r); doc != nil && p.Filter.Match(doc) {
				hits = append(hits, readmodel.Hit{Ref: r, Doc: doc})
			}
		}
	}
	kept := make(map[readmodel.Ref]*planned, len(p.docs))
	for i := range p.docs {
		pd := &p.docs[i]
		if pd.seq == 0 || t.Has(pd.ref) || !p.View.Current(pd.ref, pd.seq) {
			consider(pd.ref)
			continue
		}
		seen[pd.ref] = true
		if p.Many {
			t.Adopt(pd.ref, pd.seq, pd.cur)
			t.Stage(pd.ref, pd.cur, pd.plan)
			acts = append(acts, Staged{pd.ref, pd.cur, pd.plan})
			continue
		}
		kept[pd.ref] = pd
		hits = append(hits, readmodel.Hit{Ref: pd.ref, Doc: pd.doc})
	}
	for _, id := range changed {
		consider(readmodel.Ref{Coll: p.Coll, ID: id})
	}
	for _, r := range t.Touched() {
		consider(r)
	}
	for _, h := range p.rest {
		if t.Has(h.Ref) {
			consider(h.Ref)
		} else if !seen[h.Ref] {
			seen[h.Ref] = true
			hits = append(hits, h) // checked against the store below
		}
	}
	if err := p.Filter.Err(); err != nil {
		return nil, err // a regex match stopped: act on nothing
	}
	hits, err := readmodel.OrderHits(hits, p.Sort, 0)
	if err != nil {
		return nil, err
	}
	for _, h := range hits {
		if (!p.Many && len(acts) == 1) || (p.Limit > 0 && len(acts) >= p.Limit) {
			break
		}
		if pd := kept[h.Ref]; pd != nil {
			t.Adopt(pd.ref, pd.seq, pd.cur)
			t.Stage(pd.ref, pd.cur, pd.plan)
			acts = append(acts, Staged{pd.ref, pd.cur, pd.plan})
			continue
		}
		cur, err := t.Doc(h.Ref)
		if err != nil {
			return nil, err
		}
		if !cur.Exists || !p.Filter.Match(cur.Materialize()) {
			continue // the view was behind the store
		}
		pl, err := p.Op(cur)
		if err != nil {
			return nil, err
		}
		t.Stage(h.Ref, cur, pl)
		acts = append(acts, Staged{h.Ref, cur, pl})
	}
	return acts, p.Filter.Err()
}
