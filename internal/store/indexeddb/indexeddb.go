//go:build js

package indexeddb

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sync"
	"syscall/js"

	ds "github.com/ipfs/go-datastore"
	dsq "github.com/ipfs/go-datastore/query"
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

// Datastore is a go-datastore on one IndexedDB database. It is safe for
// concurrent use.
type Datastore struct {
	db         js.Value
	durability string

	mu     sync.RWMutex
	closed bool
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
	d := &Datastore{db: res, durability: "relaxed"}
	if o.Strict {
		d.durability = "strict"
	}
	return d, nil
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

// tx starts a transaction on the object store; the caller holds d.mu
// (read) so that Close waits for it.
func (d *Datastore) tx(mode string) (txn, store js.Value, err error) {
	if d.closed {
		return js.Value{}, js.Value{}, ErrClosed
	}
	err = catch(func() {
		opts := js.Global().Get("Object").New()
		opts.Set("durability", d.durability)
		txn = d.db.Call("transaction", objectStore, mode, opts)
		store = txn.Call("objectStore", objectStore)
	})
	if err != nil {
		return js.Value{}, js.Value{}, fmt.Errorf("indexeddb: transaction: %w", err)
	}
	return txn, store, nil
}

// Get returns the value of key, or ds.ErrNotFound.
func (d *Datastore) Get(ctx context.Context, key ds.Key) ([]byte, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	_, store, err := d.tx("readonly")
	if err != nil {
		return nil, err
	}
	var req js.Value
	if err := catch(func() { req = store.Call("get", jsKey(key.String())) }); err != nil {
		return nil, fmt.Errorf("indexeddb: get %s: %w", key, err)
	}
	v, err := await(ctx, req, "success", "error", "")
	if err != nil {
		return nil, fmt.Errorf("indexeddb: get %s: %w", key, err)
	}
	if v.IsUndefined() {
		return nil, ds.ErrNotFound
	}
	return goBytes(v), nil
}

// Has tells whether key is stored.
func (d *Datastore) Has(ctx context.Context, key ds.Key) (bool, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	_, store, err := d.tx("readonly")
	if err != nil {
		return false, err
	}
	var req js.Value
	if err := catch(func() { req = store.Call("count", jsKey(key.String())) }); err != nil {
		return false, fmt.Errorf("indexeddb: has %s: %w", key, err)
	}
	v, err := await(ctx, req, "success", "error", "")
	if err != nil {
		return false, fmt.Errorf("indexeddb: has %s: %w", key, err)
	}
	return v.Int() > 0, nil
}

// GetSize returns the size of key's value, or ds.ErrNotFound.
func (d *Datastore) GetSize(ctx context.Context, key ds.Key) (int, error) {
	v, err := d.Get(ctx, key)
	if err != nil {
		return -1, err
	}
	return len(v), nil
}

// Put stores value under key, in a transaction of its own.
func (d *Datastore) Put(ctx context.Context, key ds.Key, value []byte) error {
	return d.write(ctx, []op{{key: key.String(), value: value}})
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

// write applies ops in one readwrite transaction and waits until it
// completes (or fails, applying none of them).
func (d *Datastore) write(ctx context.Context, ops []op) error {
	if len(ops) == 0 {
		return nil
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	txn, store, err := d.tx("readwrite")
	if err != nil {
		return err
	}
	// Every request is issued now, in this task: an IndexedDB transaction
	// commits once it has no request pending at the end of a task.
	err = catch(func() {
		for _, o := range ops {
			if o.del {
				store.Call("delete", jsKey(o.key))
			} else {
				store.Call("put", jsBytes(o.value), jsKey(o.key))
			}
		}
	})
	if err != nil {
		_ = catch(func() { txn.Call("abort") })
		return fmt.Errorf("indexeddb: write: %w", err)
	}
	if _, err := await(ctx, txn, "complete", "error", "abort"); err != nil {
		return fmt.Errorf("indexeddb: write: %w", err)
	}
	return nil
}

// Sync does nothing: every returned write is a completed transaction.
func (d *Datastore) Sync(context.Context, ds.Key) error { return nil }

// Query reads every entry under the query's prefix in one readonly
// transaction, then applies the rest of the query.
func (d *Datastore) Query(ctx context.Context, q dsq.Query) (dsq.Results, error) {
	prefix := "/"
	if q.Prefix != "" {
		prefix = q.Prefix
		if prefix[0] != '/' {
			prefix = "/" + prefix
		}
		prefix = path.Clean(prefix)
		if prefix != "/" {
			prefix += "/"
		}
	}
	values := !q.KeysOnly || q.ReturnsSizes
	d.mu.RLock()
	txn, store, err := d.tx("readonly")
	if err != nil {
		d.mu.RUnlock()
		return nil, err
	}
	var keysReq, valsReq js.Value
	err = catch(func() {
		rng := prefixRange(prefix)
		keysReq = store.Call("getAllKeys", rng)
		if values {
			valsReq = store.Call("getAll", rng)
		}
	})
	if err != nil {
		d.mu.RUnlock()
		return nil, fmt.Errorf("indexeddb: query %s: %w", prefix, err)
	}
	_, err = await(ctx, txn, "complete", "error", "abort")
	d.mu.RUnlock()
	if err != nil {
		return nil, fmt.Errorf("indexeddb: query %s: %w", prefix, err)
	}
	keys := keysReq.Get("result")
	n := keys.Length()
	entries := make([]dsq.Entry, n)
	var vals js.Value
	if values {
		vals = valsReq.Get("result")
	}
	for i := range n {
		entries[i].Key = string(goBytes(keys.Index(i)))
		if values {
			v := goBytes(vals.Index(i))
			entries[i].Size = len(v)
			if !q.KeysOnly {
				entries[i].Value = v
			}
		}
	}
	rest := q
	rest.Prefix = ""
	return dsq.NaiveQueryApply(rest, dsq.ResultsWithEntries(q, entries)), nil
}

// Batch returns a batch whose Commit is one transaction.
func (d *Datastore) Batch(context.Context) (ds.Batch, error) {
	return &batch{d: d, ops: map[string]op{}}, nil
}

// Close closes the IndexedDB database, after the transactions under way.
// It is idempotent.
func (d *Datastore) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.closed {
		d.closed = true
		_ = catch(func() { d.db.Call("close") })
	}
	return nil
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

// prefixRange is the key range of every key starting with prefix.
func prefixRange(prefix string) js.Value {
	kr := js.Global().Get("IDBKeyRange")
	lo := []byte(prefix)
	hi := append([]byte(nil), lo...)
	for len(hi) > 0 && hi[len(hi)-1] == 0xff {
		hi = hi[:len(hi)-1]
	}
	if len(hi) == 0 {
		return kr.Call("lowerBound", jsBytes(lo))
	}
	hi[len(hi)-1]++
	return kr.Call("bound", jsBytes(lo), jsBytes(hi), false, true)
}

// jsKey is a datastore key as a binary IndexedDB key.
func jsKey(k string) js.Value { return jsBytes([]byte(k)) }

// jsBytes copies b into a new Uint8Array.
func jsBytes(b []byte) js.Value {
	a := js.Global().Get("Uint8Array").New(len(b))
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
