package engine

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/latticedb/lattice/crdt"
	"github.com/latticedb/lattice/internal/replication"
	"github.com/latticedb/lattice/internal/writeplan"
	"github.com/latticedb/lattice/validation"
)

// Write path. Every write is a function run against a txn. Writes are group
// committed: callers queue their functions; whichever caller finds no commit
// running becomes the leader, runs every queued function in order against
// one txn and commits them together as one or a few deltas, then wakes the
// others and hands leadership to the first caller queued since. Under load many writes share a delta, which is what makes
// concurrent InsertOne fast; a lone writer pays one delta per write, as it
// must to be durable when the call returns.
//
// Each function is atomic: it stages its mutations in the txn, and if it
// returns an error its staged mutations are discarded and the rest of the
// group commits without it.

// maxGroupOps bounds how many write functions share one commit group.
const maxGroupOps = 1024

type writeReq struct {
	ctx  context.Context // its caller's: a write whose caller has gone is dropped
	fn   func(*txn) error
	done chan error
	lead chan struct{} // closed when its caller is to commit the next group
}

type writeQueue struct {
	mu      sync.Mutex
	pending []*writeReq
	active  bool
	// deltaKeys, when set (by tests only, see export_test.go), replaces
	// replication.MaxDeltaMutations: a peer that makes deltas past the receivers'
	// bounds.
	deltaKeys int
}

// txn accumulates the mutations of a commit group.
type txn struct {
	db     *Database
	docs   map[docRef]*crdt.Doc // state after the group's staged mutations
	base   map[docRef]uint64    // view sequence of the state each document was read at
	read   map[docRef]*crdt.Doc // states read from the store, as they were before the group
	muts   map[string]crdt.Mutation
	order  []string
	meta   []string // non-document keys written
	events []docRef // documents written, for refresh after commit
	// the current function's staging area
	opDocs  map[docRef]*crdt.Doc
	opMuts  []crdt.Mutation
	opMeta  []string
	written map[docRef]bool
	colls   map[string]bool // collections written by the whole group
	opColls map[string]bool
}

func newTxn(db *Database) *txn {
	return &txn{
		db:      db,
		docs:    make(map[docRef]*crdt.Doc),
		base:    make(map[docRef]uint64),
		muts:    make(map[string]crdt.Mutation),
		written: make(map[docRef]bool),
		colls:   make(map[string]bool),
	}
}

// Doc returns a document's state as the running function sees it: with
// every earlier staged mutation of the group applied. A document the group
// has not written is read from the store (the view keeps no CRDT state),
// once per group, and the view's sequence is taken first, so that a newer
// read installed meanwhile makes the commit re-read rather than be
// overwritten. A document the view has no entry for is planned against
// the empty state without a read, as when the view kept states: a store
// change the view has not shown yet is dirty, and the commit then re-reads.
func (t *txn) Doc(r docRef) (*crdt.Doc, error) {
	if d := t.state(r); d != nil {
		return d, nil
	}
	e := t.db.mat.Entry(r)
	if _, read := t.base[r]; !read {
		t.base[r] = 0
		if e != nil {
			t.base[r] = e.Seq
		}
	}
	var d *crdt.Doc
	if e == nil {
		d, _ = crdt.Assemble(r.Coll, r.ID, nil)
	} else {
		var err error
		d, err = t.db.mat.Load(t.db.ctx, r) // the database's context: one caller's cancellation must not fail the group
		if err != nil {
			return nil, fmt.Errorf("engine: read %s in collection %q: %w", r.ID, r.Coll, err)
		}
	}
	if t.read == nil {
		t.read = make(map[docRef]*crdt.Doc)
	}
	t.read[r] = d
	return d, nil
}

// Shown returns a document as the running function sees it, materialised
// (nil when it does not exist): from the group's state when the group read
// or wrote it, else from the view, without reading the store. Matching a
// filter uses it; only the documents matched are read with doc.
func (t *txn) Shown(r docRef) map[string]any {
	if d := t.state(r); d != nil {
		return d.Materialize()
	}
	if e := t.db.mat.Entry(r); e != nil {
		return e.Doc
	}
	return nil
}

// state is the group's state of a document it read or wrote, else nil.
func (t *txn) state(r docRef) *crdt.Doc {
	for _, m := range []map[docRef]*crdt.Doc{t.opDocs, t.docs, t.read} {
		if d := m[r]; d != nil {
			return d
		}
	}
	return nil
}

// Has tells whether the group read or wrote the document.
func (t *txn) Has(r docRef) bool { return t.state(r) != nil }

// Touched lists the documents the group and the running function wrote.
func (t *txn) Touched() []docRef {
	out := slices.Clone(t.events)
	for r := range t.opDocs {
		out = append(out, r)
	}
	return out
}

var _ writeplan.Txn = (*txn)(nil)

// plannedWrite runs p in the write path (see writeplan.Plan.Run).
func (db *Database) plannedWrite(ctx context.Context, p *writeplan.Plan, do func(t *txn, acts []writeplan.Staged) error) error {
	p.View = db.mat
	write := func(fn func(writeplan.Txn) error) error {
		return db.write(ctx, func(t *txn) error { return fn(t) })
	}
	return p.Run(ctx, write, func(t writeplan.Txn, acts []writeplan.Staged) error { return do(t.(*txn), acts) })
}

// Adopt gives the group cur as the document's state in the store, read
// outside the write path at view sequence seq (still current), as doc
// would have read it.
func (t *txn) Adopt(r docRef, seq uint64, cur *crdt.Doc) {
	if t.read == nil {
		t.read = make(map[docRef]*crdt.Doc)
	}
	t.base[r], t.read[r] = seq, cur
}

// Stage records a planned write of one document; cur is its state the
// plan was made against (from Doc).
func (t *txn) Stage(r docRef, cur *crdt.Doc, p crdt.Plan) {
	muts := p.Mutations
	if len(muts) == 0 {
		return
	}
	if t.opDocs == nil {
		t.opDocs = make(map[docRef]*crdt.Doc)
		t.opColls = make(map[string]bool)
	}
	if p.State != nil && len(cur.Raw) == 0 {
		t.opDocs[r] = p.State // a fresh insert: nothing to merge with
	} else {
		t.opDocs[r] = cur.With(muts)
	}
	t.opMuts = append(t.opMuts, muts...)
	t.opColls[r.Coll] = true
}

// stageMeta records a write of a non-document key (index, collection, ACL).
// stageEntry adds an entry to a commit group about to be written.
func stageEntry(t *txn, m crdt.Mutation) {
	if _, seen := t.muts[m.Key]; !seen {
		t.order = append(t.order, m.Key)
	}
	t.muts[m.Key] = m
	t.meta = append(t.meta, m.Key)
}

func (t *txn) stageMeta(m crdt.Mutation) {
	t.opMuts = append(t.opMuts, m)
	t.opMeta = append(t.opMeta, m.Key)
}

func (t *txn) commitOp() {
	for r, d := range t.opDocs {
		t.docs[r] = d
		if !t.written[r] {
			t.written[r] = true
			t.events = append(t.events, r)
		}
	}
	for c := range t.opColls {
		t.colls[c] = true
	}
	if len(t.muts) == 0 && len(t.opMuts) > 8 {
		t.muts = make(map[string]crdt.Mutation, len(t.opMuts))
		t.order = make([]string, 0, len(t.opMuts))
	}
	for _, m := range t.opMuts {
		if _, seen := t.muts[m.Key]; !seen {
			t.order = append(t.order, m.Key)
		}
		t.muts[m.Key] = m // the last write of a key in the group wins
	}
	t.meta = append(t.meta, t.opMeta...)
	t.abortOp()
}

// validateOp asks the database's validator about every document the
// running function leaves existing, as it would stand after the group so
// far and the function's own writes. The function fails whole on the
// first refusal (ErrBadDocument wrapping validation.ErrInvalid).
func (t *txn) validateOp() error {
	v := t.db.validator
	if validation.AcceptsAll(v) {
		return nil
	}
	for r, d := range t.opDocs {
		if !d.Exists {
			continue
		}
		doc := d.Materialize()
		if err := v.Validate(r.Coll, doc); err != nil {
			return fmt.Errorf("%w: _id %v: %w", ErrBadDocument, doc["_id"], err)
		}
	}
	return nil
}

func (t *txn) abortOp() {
	t.opDocs, t.opMuts, t.opMeta, t.opColls = nil, nil, nil, nil
}

// write runs fn as part of a commit group and returns once the group is
// committed and the view shows it. fn may run more than once (on a fresh
// txn, when the group commits what came before it first, see
// commitGroup): it must reset whatever it reports. A write over the
// bounds of limits.go fails with ErrWriteTooLarge; a write whose ctx is
// done before it runs is dropped and fails with ctx.Err().
func (db *Database) write(ctx context.Context, fn func(*txn) error) error {
	db.writing.RLock()
	defer db.writing.RUnlock()
	if err := db.checkOpen(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	req := &writeReq{ctx: ctx, fn: fn, done: make(chan error, 1), lead: make(chan struct{})}
	q := &db.wq
	q.mu.Lock()
	q.pending = append(q.pending, req)
	lead := !q.active
	if lead {
		q.active = true
	}
	q.mu.Unlock()
	if !lead {
		select {
		case err := <-req.done:
			return err
		case <-req.lead:
		case <-ctx.Done():
			if db.withdraw(req) {
				return ctx.Err()
			}
			// A leader took it into its group: the group drops it if it
			// has not run yet, and reports either way.
			select {
			case err := <-req.done:
				return err
			case <-req.lead:
			}
		}
	}
	db.lead(ctx)
	return <-req.done
}

// withdraw takes req out of the queue when no group has taken it yet, and
// reports whether it did. A request withdrawn after leadership was handed
// to it hands leadership on, so the queue never waits on a caller that
// has gone.
func (db *Database) withdraw(req *writeReq) bool {
	q := &db.wq
	q.mu.Lock()
	defer q.mu.Unlock()
	i := slices.Index(q.pending, req)
	if i < 0 {
		return false
	}
	q.pending = slices.Delete(q.pending, i, i+1)
	select {
	case <-req.lead:
		// It was to lead the next group: hand that on.
		if len(q.pending) == 0 {
			q.active = false
		} else {
			close(q.pending[0].lead)
		}
	default:
	}
	return true
}

// lead commits the next group, which holds the leader's own request, then
// hands leadership to the first request still queued: each caller commits
// at most one group, so none waits on a stream of later writers.
func (db *Database) lead(ctx context.Context) {
	q := &db.wq
	q.mu.Lock()
	n := min(len(q.pending), maxGroupOps)
	group := q.pending[:n:n]
	q.pending = q.pending[n:]
	q.mu.Unlock()
	db.commitGroup(ctx, group)
	q.mu.Lock()
	if len(q.pending) == 0 {
		q.active = false
	} else {
		close(q.pending[0].lead)
	}
	q.mu.Unlock()
}

// commitGroup runs the group's write functions in order against one txn
// and commits them. A function whose staged keys are over the write bound
// is refused alone; when the group as a whole would pass the bound, what
// it holds so far is committed first and the function runs again on a
// fresh txn, so a group never holds more than one bound's worth of keys.
func (db *Database) commitGroup(ctx context.Context, group []*writeReq) {
	results := make([]error, len(group))
	t := newTxn(db)
	cost, from := 0, 0
	// settle commits t and reports for the requests from from to to.
	settle := func(to int) {
		var commitErr error
		if len(t.order) > 0 {
			// The leader's own cancellation must not fail the others' writes.
			commitErr = db.authorizeLocal(context.WithoutCancel(ctx), t)
			if commitErr == nil {
				commitErr = db.commit(ctx, t)
			}
		}
		for i := from; i < to; i++ {
			if results[i] == nil && commitErr != nil {
				results[i] = commitErr
			}
			group[i].done <- results[i]
		}
		t, cost, from = newTxn(db), 0, to
	}
	for i := 0; i < len(group); i++ {
		req := group[i]
		// A caller that went away before its write ran is told so, and its
		// write is dropped: it must not land after the caller saw a failure
		// (a retried insert without _id would duplicate it).
		if err := req.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		if err := req.fn(t); err != nil {
			t.abortOp()
			results[i] = err
			continue
		}
		c := writeCost(t.opMuts)
		err := db.checkWriteCost(c, len(t.opMuts))
		if err == nil {
			err = t.validateOp()
		}
		if err != nil {
			t.abortOp()
			results[i] = err
			continue
		}
		if cost > 0 && db.checkWriteCost(cost+c, 0) != nil {
			// Commit the writes before this one, then run it again alone.
			t.abortOp()
			settle(i)
			i--
			continue
		}
		t.commitOp()
		cost += c
	}
	settle(len(group))
}

// commit writes the group's mutations as deltas, then refreshes the view of
// every document written so the writers read their own writes.
func (db *Database) commit(ctx context.Context, t *txn) error {
	store := db.store()
	if store == nil {
		return ErrClosed
	}
	// Use a context that outlives a caller's cancellation: half a group must
	// not be abandoned between deltas.
	cctx := context.WithoutCancel(ctx)
	c := replication.Commit{Identity: db.e.key, Author: db.e.ID(), Token: db.token(), Clock: db.e.cfg.clock,
		DeltaKeys: db.wq.deltaKeys, BeforeCommit: db.beforeCommit, Commits: &db.stats.Commits, Resigned: &db.stats.Resigned}
	if db.sealer != nil {
		ms, err := db.sealer.Prepare(t.order)
		if err != nil {
			return err
		}
		for _, m := range ms {
			stageEntry(t, m)
		}
		c.Seal = db.sealer.SealMutation
	}
	db.mat.BeginLocal(t.muts)
	muts := make([]crdt.Mutation, len(t.order))
	for i, k := range t.order {
		muts[i] = t.muts[k]
	}
	err := store.Commit(cctx, c, muts)
	if err == nil {
		// One fsync for the whole group, before any caller is told.
		err = db.e.store.SyncWAL()
	}
	// Install even after an error: some deltas may have been committed.
	reread := db.mat.EndLocal()
	for _, r := range t.events {
		if rerr := db.mat.Install(cctx, r, t.docs[r], t.base[r], reread[r] || err != nil); rerr != nil && err == nil {
			err = rerr
		}
	}
	if len(t.meta) > 0 {
		sort.Strings(t.meta)
		for _, k := range t.meta {
			db.onMeta(k)
		}
	}
	if err != nil {
		return fmt.Errorf("engine: commit: %w", err)
	}
	return nil
}
