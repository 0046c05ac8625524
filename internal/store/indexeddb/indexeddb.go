//go:build js

package indexeddb

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall/js"

	ds "github.com/ipfs/go-datastore"
	dsq "github.com/ipfs/go-datastore/query"

	"github.com/latticedb/lattice/internal/store"
)

// Errors of package indexeddb.
var (
	// ErrUnavailable marks a runtime without IndexedDB.
	ErrUnavailable = errors.New("indexeddb: IndexedDB is not available")
	// ErrClosed marks use of a closed datastore.
	ErrClosed = errors.New("indexeddb: datastore closed")
)

// objectStore is the one object store of each database.
const objectStore = "kv"

// Options tune a datastore.
type Options struct {
	// Strict commits every transaction with IndexedDB's "strict"
	// durability (flushed to disk before it completes) instead of
	// "relaxed".
	Strict bool
}

// maxQueued bounds the bytes of writes waiting for IndexedDB: a writer
// faster than IndexedDB waits for a flush beyond it.
const maxQueued = 8 << 20

// Datastore is a go-datastore on one IndexedDB database, read from an
// in-memory mirror of it and written behind (see the package doc). It is
// safe for concurrent use.
type Datastore struct {
	db         js.Value
	durability string
	mem        ds.Batching // the mirror: everything stored, in memory

	// mu orders writes (held to write): each applies to the mirror and
	// joins the queue in one step, so readers (who hold it to read) see a
	// batch whole and IndexedDB receives writes in the mirror's order.
	mu     sync.RWMutex
	closed bool

	q        sync.Mutex
	queue    []op          // writes not handed to IndexedDB yet, in order
	bytes    int           // their keys' and values' bytes
	inflight int           // the bytes of the transaction under way
	seq      uint64        // writes queued since Open
	done     uint64        // writes IndexedDB committed (a prefix of seq)
	err      error         // the first failed flush: the datastore is unusable
	flush    chan struct{} // closed, and replaced, after each flush
	kick     chan struct{} // wakes the flusher
	stop     chan struct{} // closed by Close: flush what is queued, then end
	exited   chan struct{} // closed when the flusher ended
}

var _ ds.Batching = (*Datastore)(nil)

// Open opens (creating it if needed) the IndexedDB database called name.
func Open(ctx context.Context, name string, o Options) (*Datastore, error) {
	idb := js.Global().Get("indexedDB")
	if idb.IsUndefined() || idb.IsNull() {
		return nil, ErrUnavailable
	}
	var req js.Value
	if err := catch(func() { req = idb.Call("open", name, 1) }); err != nil {
		return nil, fmt.Errorf("indexeddb: open %q: %w", name, err)
	}
	upgrade := js.FuncOf(func(js.Value, []js.Value) any {
		db := req.Get("result")
		if !db.Get("objectStoreNames").Call("contains", objectStore).Bool() {
			db.Call("createObjectStore", objectStore)
		}
		return nil
	})
	defer upgrade.Release()
	req.Set("onupgradeneeded", upgrade)
	res, err := await(ctx, req, "success", "error", "blocked")
	if err != nil {
		return nil, fmt.Errorf("indexeddb: open %q: %w", name, err)
	}
	d := &Datastore{db: res, durability: "relaxed", mem: store.NewMemory(),
		flush: make(chan struct{}), kick: make(chan struct{}, 1), stop: make(chan struct{}), exited: make(chan struct{})}
	if o.Strict {
		d.durability = "strict"
	}
	if err := d.load(ctx); err != nil {
		_ = catch(func() { res.Call("close") })
		return nil, fmt.Errorf("indexeddb: open %q: %w", name, err)
	}
	go d.flusher()
	return d, nil
}

// load reads the whole database into the mirror, in one readonly
// transaction.
func (d *Datastore) load(ctx context.Context) error {
	txn, st, err := d.tx("readonly")
	if err != nil {
		return err
	}
	var keysReq, valsReq js.Value
	if err := catch(func() { keysReq, valsReq = st.Call("getAllKeys"), st.Call("getAll") }); err != nil {
		return err
	}
	if _, err := await(ctx, txn, "complete", "error", "abort"); err != nil {
		return err
	}
	keys, vals := keysReq.Get("result"), valsReq.Get("result")
	for i := range keys.Length() {
		if err := d.mem.Put(ctx, ds.RawKey(string(goBytes(keys.Index(i)))), goBytes(vals.Index(i))); err != nil {
			return err
		}
	}
	return nil
}

// Delete deletes the IndexedDB database called name, with all its data.
// Open datastores on it must be closed first.
func Delete(ctx context.Context, name string) error {
	idb := js.Global().Get("indexedDB")
	if idb.IsUndefined() || idb.IsNull() {
		return ErrUnavailable
	}
	var req js.Value
	if err := catch(func() { req = idb.Call("deleteDatabase", name) }); err != nil {
		return fmt.Errorf("indexeddb: delete %q: %w", name, err)
	}
	if _, err := await(ctx, req, "success", "error", "blocked"); err != nil {
		return fmt.Errorf("indexeddb: delete %q: %w", name, err)
	}
	return nil
}

// tx starts a transaction on the object store.
func (d *Datastore) tx(mode string) (txn, st js.Value, err error) {
	err = catch(func() {
		opts := js.Global().Get("Object").New()
		opts.Set("durability", d.durability)
		txn = d.db.Call("transaction", objectStore, mode, opts)
		st = txn.Call("objectStore", objectStore)
	})
	if err != nil {
		return js.Value{}, js.Value{}, fmt.Errorf("indexeddb: transaction: %w", err)
	}
	return txn, st, nil
}

// Get returns the value of key, or ds.ErrNotFound, from the mirror.
func (d *Datastore) Get(ctx context.Context, key ds.Key) ([]byte, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return nil, ErrClosed
	}
	return d.mem.Get(ctx, key)
}

// Has tells whether key is stored.
func (d *Datastore) Has(ctx context.Context, key ds.Key) (bool, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return false, ErrClosed
	}
	return d.mem.Has(ctx, key)
}

// GetSize returns the size of key's value, or ds.ErrNotFound.
func (d *Datastore) GetSize(ctx context.Context, key ds.Key) (int, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return -1, ErrClosed
	}
	return d.mem.GetSize(ctx, key)
}

// Put stores value under key.
func (d *Datastore) Put(ctx context.Context, key ds.Key, value []byte) error {
	return d.write(ctx, []op{{key: key.String(), value: append([]byte(nil), value...)}})
}

// Delete removes key; a missing key is no error.
func (d *Datastore) Delete(ctx context.Context, key ds.Key) error {
	return d.write(ctx, []op{{key: key.String(), del: true}})
}

// op is one write of a transaction.
type op struct {
	key   string
	value []byte
	del   bool
}

// write applies ops to the mirror, all at once for readers, and queues
// them for IndexedDB, where they commit in one transaction (with others
// queued beside them). It waits first while the queue is over maxQueued.
func (d *Datastore) write(ctx context.Context, ops []op) error {
	if len(ops) == 0 {
		return nil
	}
	n := 0
	for _, o := range ops {
		n += len(o.key) + len(o.value)
	}
	for {
		d.q.Lock()
		q := d.bytes + d.inflight
		full, err, flushed := q > 0 && q+n > maxQueued, d.err, d.flush
		d.q.Unlock()
		if err != nil {
			return err
		}
		if !full {
			break
		}
		select {
		case <-flushed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	for _, o := range ops {
		var err error
		if o.del {
			err = d.mem.Delete(ctx, ds.RawKey(o.key))
		} else {
			err = d.mem.Put(ctx, ds.RawKey(o.key), o.value)
		}
		if err != nil {
			return err // the memory store fails only on keys over 4 GiB
		}
	}
	d.q.Lock()
	d.queue = append(d.queue, ops...)
	d.bytes += n
	d.seq += uint64(len(ops))
	d.q.Unlock()
	select {
	case d.kick <- struct{}{}:
	default:
	}
	return nil
}

// flusher hands the queue to IndexedDB, one transaction at a time, until
// Close: it owns the writes from the queue on, and ends after flushing
// what Close left queued.
func (d *Datastore) flusher() {
	defer close(d.exited)
	for {
		d.q.Lock()
		ops := d.queue
		d.queue, d.inflight, d.bytes = nil, d.bytes, 0
		d.q.Unlock()
		var err error
		if len(ops) > 0 {
			err = d.commit(ops)
		}
		d.q.Lock()
		d.inflight = 0
		if err != nil && d.err == nil {
			d.err = fmt.Errorf("indexeddb: a write failed, and those after it are not stored; reopen the datastore: %w", err)
		}
		if err == nil {
			d.done += uint64(len(ops))
		}
		close(d.flush)
		d.flush = make(chan struct{})
		empty := len(d.queue) == 0
		d.q.Unlock()
		if err != nil {
			return
		}
		if !empty {
			continue
		}
		select {
		case <-d.kick:
		case <-d.stop:
			d.q.Lock()
			empty = len(d.queue) == 0
			d.q.Unlock()
			if empty {
				return
			}
		}
	}
}

// commit writes ops, the last one per key winning, in one readwrite
// transaction and waits until it completes (or fails, applying none).
func (d *Datastore) commit(ops []op) error {
	txn, st, err := d.tx("readwrite")
	if err != nil {
		return err
	}
	// All keys and values cross into JavaScript in one copy; each request
	// takes a slice of it (a copy: a view would store the whole buffer).
	// Every request is issued now, in this task: an IndexedDB transaction
	// commits once it has no request pending at the end of a task.
	n := 0
	for _, o := range ops {
		n += len(o.key) + len(o.value)
	}
	flat := make([]byte, 0, n)
	for _, o := range ops {
		flat = append(append(flat, o.key...), o.value...)
	}
	err = catch(func() {
		buf := jsBytes(flat)
		at := 0
		for _, o := range ops {
			k := buf.Call("slice", at, at+len(o.key))
			at += len(o.key)
			if o.del {
				st.Call("delete", k)
				continue
			}
			st.Call("put", buf.Call("slice", at, at+len(o.value)), k)
			at += len(o.value)
		}
	})
	if err != nil {
		_ = catch(func() { txn.Call("abort") })
		return fmt.Errorf("indexeddb: write: %w", err)
	}
	if _, err := await(context.Background(), txn, "complete", "error", "abort"); err != nil {
		return fmt.Errorf("indexeddb: write: %w", err)
	}
	return nil
}

// Sync waits until every write returned before it is committed to
// IndexedDB (all of them, whatever the prefix): what makes writes durable.
func (d *Datastore) Sync(ctx context.Context, _ ds.Key) error {
	d.q.Lock()
	target := d.seq
	d.q.Unlock()
	for {
		d.q.Lock()
		done, err, flushed := d.done, d.err, d.flush
		d.q.Unlock()
		if err != nil {
			return err
		}
		if done >= target {
			return nil
		}
		select {
		case <-flushed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Query answers from the mirror: a consistent snapshot of the keys under
// the query's prefix, then the rest of the query as go-datastore's naive
// query applies it.
func (d *Datastore) Query(ctx context.Context, q dsq.Query) (dsq.Results, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return nil, ErrClosed
	}
	return d.mem.Query(ctx, q)
}

// Batch returns a batch whose Commit applies all its writes at once (one
// IndexedDB transaction, shared with writes queued beside it).
func (d *Datastore) Batch(context.Context) (ds.Batch, error) {
	return &batch{d: d, ops: map[string]op{}}, nil
}

// Close flushes the queued writes to IndexedDB, closes the database and
// reports a write that failed. It is idempotent.
func (d *Datastore) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.closed {
		d.closed = true
		close(d.stop)
		<-d.exited
		_ = catch(func() { d.db.Call("close") })
	}
	d.q.Lock()
	defer d.q.Unlock()
	return d.err
}

// batch collects writes, the last one per key winning, for one Commit.
type batch struct {
	d     *Datastore
	mu    sync.Mutex
	ops   map[string]op
	order []string
}

var _ ds.Batch = (*batch)(nil)

func (b *batch) add(o op) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.ops[o.key]; !ok {
		b.order = append(b.order, o.key)
	}
	b.ops[o.key] = o
}

// Put adds a write of value under key to the batch.
func (b *batch) Put(_ context.Context, key ds.Key, value []byte) error {
	b.add(op{key: key.String(), value: append([]byte(nil), value...)})
	return nil
}

// Delete adds a removal of key to the batch.
func (b *batch) Delete(_ context.Context, key ds.Key) error {
	b.add(op{key: key.String(), del: true})
	return nil
}

// Commit applies the batch's writes in one transaction: all or none.
func (b *batch) Commit(ctx context.Context) error {
	b.mu.Lock()
	ops := make([]op, 0, len(b.order))
	for _, k := range b.order {
		ops = append(ops, b.ops[k])
	}
	b.ops, b.order = map[string]op{}, nil
	b.mu.Unlock()
	return b.d.write(ctx, ops)
}

// await waits for one of a request's or transaction's events: ok resolves
// with its result ("result" of a request; undefined for a transaction),
// fail and fail2 (when not empty) reject with its error.
func await(ctx context.Context, target js.Value, ok, fail, fail2 string) (js.Value, error) {
	type outcome struct {
		v   js.Value
		err error
	}
	ch := make(chan outcome, 1)
	settle := func(o outcome) {
		select {
		case ch <- o:
		default:
		}
	}
	onOK := js.FuncOf(func(js.Value, []js.Value) any {
		var v js.Value
		if r := target.Get("result"); !r.IsUndefined() {
			v = r
		} else {
			v = js.Undefined()
		}
		settle(outcome{v: v})
		return nil
	})
	onFail := js.FuncOf(func(js.Value, []js.Value) any {
		msg := fail
		if e := target.Get("error"); !e.IsUndefined() && !e.IsNull() {
			msg = e.Get("name").String() + ": " + e.Get("message").String()
		}
		settle(outcome{err: errors.New(msg)})
		return nil
	})
	target.Call("addEventListener", ok, onOK)
	target.Call("addEventListener", fail, onFail)
	if fail2 != "" {
		target.Call("addEventListener", fail2, onFail)
	}
	defer func() {
		target.Call("removeEventListener", ok, onOK)
		target.Call("removeEventListener", fail, onFail)
		if fail2 != "" {
			target.Call("removeEventListener", fail2, onFail)
		}
		onOK.Release()
		onFail.Release()
	}()
	select {
	case o := <-ch:
		return o.v, o.err
	case <-ctx.Done():
		return js.Value{}, ctx.Err()
	}
}

// jsKey is a datastore key as a binary IndexedDB key.
func jsKey(k string) js.Value { return jsBytes([]byte(k)) }

// uint8Array is JavaScript's Uint8Array constructor.
var uint8Array = js.Global().Get("Uint8Array")

// jsBytes copies b into a new Uint8Array.
func jsBytes(b []byte) js.Value {
	a := uint8Array.New(len(b))
	js.CopyBytesToJS(a, b)
	return a
}

// goBytes copies a Uint8Array or ArrayBuffer into Go.
func goBytes(v js.Value) []byte {
	if v.InstanceOf(js.Global().Get("ArrayBuffer")) {
		v = js.Global().Get("Uint8Array").New(v)
	}
	b := make([]byte, v.Get("length").Int())
	js.CopyBytesToGo(b, v)
	return b
}

// catch runs f and turns a JavaScript exception it throws into an error.
func catch(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if jerr, ok := r.(js.Error); ok {
				err = jerr
				return
			}
			err = fmt.Errorf("%v", r)
		}
	}()
	f()
	return nil
}
