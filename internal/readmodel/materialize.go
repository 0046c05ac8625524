package readmodel

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"
	ds "github.com/ipfs/go-datastore"
	dsq "github.com/ipfs/go-datastore/query"

	"github.com/latticedb/lattice/crdt"
	"github.com/latticedb/lattice/value"
)

// Ref names a document in a database: its collection and its _id's key
// (IDKey).
type Ref struct{ Coll, ID string }

// refOf is the Ref of a parsed CRDT key, its strings copied: the view
// keeps a document's id for as long as it holds the document, and a
// substring would keep the whole key (go-ds-crdt's, or a query's) with it.
func refOf(pk crdt.Key) Ref {
	return Ref{strings.Clone(pk.Coll), strings.Clone(pk.ID)}
}

// Model keeps a database's view in step with its go-ds-crdt store.
// The store wrapper tells it which CRDT keys changed after each commit; it
// re-reads those documents from the store and installs them in the view.
// Every read takes a sequence number and a result is installed only if no
// later read of the same document was installed first, so a slow reader can
// never overwrite a newer state.
type Model struct {
	log      hclog.Logger
	store    ds.Datastore     // the raw store (reads bypass go-ds-crdt)
	layout   crdt.StoreLayout // where go-ds-crdt keeps visible values
	codec    Codec            // nil: the store is clear text (codec.go)
	OnChange func(ref Ref, old, new map[string]any, local bool)
	OnMeta   func(key string)
	// durable, if set, makes what the store holds survive the process
	// being killed; flush calls it before it shows remote changes, so
	// nothing a read or an event showed is lost to a crash.
	Durable func() error

	mu    sync.RWMutex // guards view, dirty, seq
	view  *view
	dirty map[Ref]struct{}
	meta  map[string]struct{} // dirty non-document keys (indexes, ACL, collections)
	seq   uint64
	busy  int // documents being re-read by flush
	// reading counts the store reads of a document in flight: a local
	// commit must not install its own result over a read that started
	// before it (that read may hold a remote change the commit never saw,
	// and it would then be discarded as older).
	reading map[Ref]int
	// expect holds the mutations of the running local commit that no
	// notification has confirmed yet.
	expect map[string]crdt.Mutation

	// changes counts replaced view entries; logs lists them per
	// collection since rebuilt (changes.go).
	changes, rebuilt uint64
	logs             map[string]*changeLog

	wake chan struct{}
	// beforeFlush, if set (by tests only), runs at the start of every
	// flush. Guarded by mu.
	beforeFlush func()
}

func New(log hclog.Logger, store ds.Datastore, ns ds.Key) *Model {
	return &Model{
		log:     log,
		store:   store,
		layout:  crdt.NewStoreLayout(ns.String()),
		view:    newView(),
		dirty:   make(map[Ref]struct{}),
		reading: make(map[Ref]int),
		meta:    make(map[string]struct{}),
		wake:    make(chan struct{}, 1),
	}
}

// SetBeforeFlush makes f run at the start of every flush (nil removes
// it): a test hook that holds remote changes back.
func (m *Model) SetBeforeFlush(f func()) {
	m.mu.Lock()
	m.beforeFlush = f
	m.mu.Unlock()
}

// Notify is the store wrapper's callback: CRDT keys whose visible value
// changed, already committed. A change that is exactly what the running
// local commit wrote is claimed by that commit (which installs its result
// itself); anything else is a remote change to re-read.
func (m *Model) Notify(changes []Change) {
	m.mu.Lock()
	for _, c := range changes {
		k := c.Key
		if m.codec != nil {
			ck, cv, ok := m.open(k, c.Value)
			if !ok && c.Deleted {
				ck, ok = m.openKey(k)
			}
			if !ok {
				continue // sealed under a key this replica lacks: nothing to show
			}
			k, c.Value = ck, cv
		}
		if exp, ok := m.expect[k]; ok && exp.Delete == c.Deleted && (c.Deleted || bytes.Equal(exp.Value, c.Value)) {
			delete(m.expect, k)
			continue
		}
		switch {
		case strings.HasPrefix(k, crdt.AllDocsPrefix()+"/"):
			pk, err := crdt.ParseKey(k)
			if err != nil {
				continue
			}
			m.dirty[refOf(pk)] = struct{}{}
		case strings.HasPrefix(k, crdt.SigPrefix()):
			// Delta signatures: nothing to show.
		default:
			m.meta[k] = struct{}{}
		}
	}
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// run processes dirty documents until ctx ends.
func (m *Model) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.wake:
		}
		m.flush(ctx)
	}
}

// flush re-reads every dirty document and meta key.
func (m *Model) flush(ctx context.Context) {
	m.mu.RLock()
	hold := m.beforeFlush
	m.mu.RUnlock()
	if hold != nil {
		hold()
	}
	m.mu.Lock()
	refs := make([]Ref, 0, len(m.dirty))
	for r := range m.dirty {
		refs = append(refs, r)
	}
	m.dirty = make(map[Ref]struct{})
	metas := make([]string, 0, len(m.meta))
	for k := range m.meta {
		metas = append(metas, k)
	}
	m.meta = make(map[string]struct{})
	m.busy += len(refs) + len(metas)
	m.mu.Unlock()
	if m.Durable != nil && len(refs)+len(metas) > 0 {
		if err := m.Durable(); err != nil {
			m.log.Error("make merged changes durable", "error", err)
		}
	}
	sort.Strings(metas)
	for _, k := range metas {
		m.OnMeta(k)
		m.done()
	}
	for _, r := range refs {
		if err := m.refresh(ctx, r, false); err != nil && ctx.Err() == nil {
			m.log.Warn("materialize document", "collection", r.Coll, "id", r.ID, "error", err)
		}
		m.done()
	}
}

func (m *Model) done() {
	m.mu.Lock()
	m.busy--
	m.mu.Unlock()
}

// pending counts changes committed to the store but not yet in the view.
func (m *Model) Pending() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.dirty) + len(m.meta) + m.busy
}

// beginLocal registers a local commit's mutations before it starts.
func (m *Model) BeginLocal(muts map[string]crdt.Mutation) {
	m.mu.Lock()
	m.expect = make(map[string]crdt.Mutation, len(muts))
	for k, mu := range muts {
		m.expect[k] = mu
	}
	m.mu.Unlock()
}

// endLocal ends a local commit and returns the documents whose mutations
// were not all confirmed: a concurrent remote change won, or the mutation
// was a no-op in the store. Those must be re-read.
func (m *Model) EndLocal() map[Ref]bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[Ref]bool{}
	for k := range m.expect {
		if pk, err := crdt.ParseKey(k); err == nil && pk.Kind != crdt.KindUnknown {
			out[Ref{pk.Coll, pk.ID}] = true
		}
	}
	m.expect = nil
	return out
}

// install puts the state a local commit computed for a document into the
// view, unless anything else changed the document since the commit read it
// (base is the sequence of the entry it read): then it re-reads the store.
func (m *Model) Install(ctx context.Context, r Ref, state *crdt.Doc, base uint64, reread bool) error {
	m.mu.Lock()
	cur := m.view.entry(r.Coll, r.ID)
	var curSeq uint64
	if cur != nil {
		curSeq = cur.Seq
	}
	_, dirty := m.dirty[r]
	if reread || dirty || m.reading[r] > 0 || curSeq != base || state == nil {
		m.mu.Unlock()
		return m.refresh(ctx, r, true)
	}
	m.seq++
	e := newEntry(state, m.seq)
	old := m.view.put(r.Coll, r.ID, e)
	m.noteChange(r)
	m.mu.Unlock()
	if m.OnChange != nil && !docEqual(old, e.Doc) {
		m.OnChange(r, old, e.Doc, true)
	}
	return nil
}

// refresh reads one document from the store and installs it. Local writers
// call it for the documents they wrote, after their commit.
func (m *Model) refresh(ctx context.Context, r Ref, local bool) error {
	m.mu.Lock()
	delete(m.dirty, r)
	m.seq++
	seq := m.seq
	m.reading[r]++
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		if m.reading[r]--; m.reading[r] == 0 {
			delete(m.reading, r)
		}
		m.mu.Unlock()
	}()

	state, err := m.Load(ctx, r)
	if err != nil {
		return err
	}
	e := newEntry(state, seq)

	m.mu.Lock()
	if cur := m.view.entry(r.Coll, r.ID); cur != nil && cur.Seq > seq {
		m.mu.Unlock()
		return nil
	}
	old := m.view.put(r.Coll, r.ID, e)
	m.noteChange(r)
	m.mu.Unlock()
	if m.OnChange != nil && !docEqual(old, e.Doc) {
		m.OnChange(r, old, e.Doc, local)
	}
	return nil
}

// load reads one document's CRDT state from the store.
func (m *Model) Load(ctx context.Context, r Ref) (*crdt.Doc, error) {
	raw, err := m.readDoc(ctx, r)
	if err != nil {
		return nil, err
	}
	state, bad := crdt.Assemble(r.Coll, r.ID, raw)
	if bad > 0 {
		m.log.Debug("undecodable keys in document", "collection", r.Coll, "id", r.ID, "count", bad)
	}
	return state, nil
}

// readDoc returns the live CRDT keys of one document and their values,
// straight from go-ds-crdt's value namespace.
func (m *Model) readDoc(ctx context.Context, r Ref) (map[string][]byte, error) {
	dp, err := m.sealed(crdt.DocPrefix(r.Coll, r.ID))
	if err != nil {
		return nil, err
	}
	prefix := m.layout.ValuesPrefix() + dp
	res, err := m.store.Query(ctx, dsq.Query{Prefix: prefix})
	if err != nil {
		return nil, err
	}
	defer res.Close()
	raw := make(map[string][]byte)
	for e := range res.Next() {
		if e.Error != nil {
			return nil, e.Error
		}
		if k, ok := m.crdtKey(e.Key); ok {
			if k, v, ok := m.open(k, e.Value); ok {
				raw[k] = v
			}
		}
	}
	// The marker's own value key is the prefix plus /v, which the prefix
	// query also returns; nothing else to read.
	return raw, nil
}

func (m *Model) crdtKey(storeKey string) (string, bool) {
	return m.layout.CRDTKey(storeKey)
}

// rebuild reads every document of the database into a fresh view.
func (m *Model) Rebuild(ctx context.Context) error {
	v, metas, sorted, err := m.scan(ctx, true)
	if err == nil && !sorted {
		// The store does not list keys in order (go-datastore does not
		// promise it): group them by document first.
		v, metas, _, err = m.scan(ctx, false)
	}
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.view = v
	m.noteRebuild()
	m.mu.Unlock()
	for _, k := range metas {
		m.OnMeta(k)
	}
	return nil
}

// scan reads every key of the database into a new view, off the view's
// lock. With streaming, a document is assembled as soon as its keys end
// (a sorted store lists them together), so only one document's raw keys
// are held at a time; it reports sorted false, and stops, when a document
// it has assembled shows up again. Without streaming every document's
// keys are grouped in one map first.
func (m *Model) scan(ctx context.Context, streaming bool) (v *view, metas []string, sorted bool, err error) {
	res, err := m.store.Query(ctx, dsq.Query{Prefix: m.layout.ValuesPrefix()})
	if err != nil {
		return nil, nil, false, err
	}
	defer res.Close()
	m.mu.Lock()
	m.seq++
	seq := m.seq
	m.mu.Unlock()
	v = newView()
	docs := map[Ref]map[string][]byte{}
	done := map[Ref]struct{}{}
	var cur Ref
	var raw map[string][]byte
	flush := func() {
		if raw != nil {
			state, _ := crdt.Assemble(cur.Coll, cur.ID, raw)
			v.put(cur.Coll, cur.ID, newEntry(state, seq))
			done[cur] = struct{}{}
			raw = nil
		}
	}
	for e := range res.Next() {
		if e.Error != nil {
			return nil, nil, false, e.Error
		}
		k, ok := m.crdtKey(e.Key)
		if !ok {
			continue
		}
		if m.codec != nil {
			var v []byte
			if k, v, ok = m.open(k, e.Value); !ok {
				continue
			}
			e.Value = v
		}
		if !strings.HasPrefix(k, crdt.AllDocsPrefix()+"/") {
			metas = append(metas, k)
			continue
		}
		pk, err := crdt.ParseKey(k)
		if err != nil {
			continue
		}
		r := refOf(pk)
		if !streaming {
			if docs[r] == nil {
				docs[r] = map[string][]byte{}
			}
			docs[r][k] = e.Value
			continue
		}
		if raw == nil || r != cur {
			flush()
			if _, again := done[r]; again {
				return nil, nil, false, nil
			}
			cur, raw = r, map[string][]byte{}
		}
		raw[k] = e.Value
	}
	flush()
	for r, raw := range docs {
		state, _ := crdt.Assemble(r.Coll, r.ID, raw)
		v.put(r.Coll, r.ID, newEntry(state, seq))
	}
	return v, metas, true, nil
}

// getMeta reads one non-document CRDT key's current value.
func (m *Model) GetMeta(ctx context.Context, key string) ([]byte, bool, error) {
	sk, err := m.sealed(key)
	if err != nil {
		return nil, false, err
	}
	v, err := m.store.Get(ctx, ds.NewKey(m.layout.ValueKey(sk)))
	if err == ds.ErrNotFound {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if m.codec != nil {
		if v, err = m.codec.OpenValue(sk, v); err != nil {
			return nil, false, err
		}
	}
	return v, true, nil
}

// IDKey is the string a document _id is keyed by: its type and value, so
// the string "1" and the number 1 are different documents.
func IDKey(id any) (string, error) {
	switch x := id.(type) {
	case string:
		return "s" + x, nil
	case int64:
		return "i" + strconv.FormatInt(x, 10), nil
	case float64:
		return "f" + strconv.FormatFloat(x, 'g', -1, 64), nil
	}
	return "", fmt.Errorf("%w, got %T", ErrBadID, id)
}

// docEqual compares two materialised documents (nil is "absent").
func docEqual(a, b map[string]any) bool {
	if (a == nil) != (b == nil) {
		return false
	}
	return a == nil || value.Equal(a, b)
}
