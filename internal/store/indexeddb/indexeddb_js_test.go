//go:build js

package indexeddb_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	ds "github.com/ipfs/go-datastore"
	dsq "github.com/ipfs/go-datastore/query"
	dstest "github.com/ipfs/go-datastore/test"

	"github.com/latticedb/lattice/internal/store/indexeddb"
)

// open opens a datastore on a database of its own, deleted when the test
// ends.
func open(t *testing.T, o indexeddb.Options) (*indexeddb.Datastore, string) {
	t.Helper()
	name := fmt.Sprintf("lattice-test-%s-%d", t.Name(), time.Now().UnixNano())
	d, err := indexeddb.Open(t.Context(), name, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = d.Close()
		if err := indexeddb.Delete(context.Background(), name); err != nil {
			t.Error(err)
		}
	})
	return d, name
}

// go-datastore's own suite (dstest.SubtestAll): basic operations, queries
// (prefixes, orders, limits, offsets, filters, sizes) and batches. Its
// SubtestCombinations, 1,152 queries crossing the features the other
// subtests check one by one, each on 400 keys put, read and deleted one
// transaction at a time (about 100 s in all), runs
// in TestDatastoreSuiteCombinations when LATTICE_DSTEST_COMBINATIONS=1
// (go-datastore itself leaves it out under the race detector).
func TestDatastoreSuite(t *testing.T) {
	d, _ := open(t, indexeddb.Options{})
	subtests(t, d, false)
}

// "strict" durability changes only how transactions commit: the suite's
// writes and batches, not its queries, run with it (each strict commit is
// a flush, some 10 ms).
func TestDatastoreStrict(t *testing.T) {
	d, _ := open(t, indexeddb.Options{Strict: true})
	for _, f := range []func(*testing.T, ds.Datastore){dstest.SubtestBasicPutGet, dstest.SubtestNotFounds} {
		t.Run(funcName(f), func(t *testing.T) { f(t, d); clear(t, d) })
	}
	for _, f := range dstest.BatchSubtests {
		t.Run(funcName(f), func(t *testing.T) { f(t, d); clear(t, d) })
	}
}

func TestDatastoreSuiteCombinations(t *testing.T) {
	if os.Getenv("LATTICE_DSTEST_COMBINATIONS") != "1" {
		t.Skip("LATTICE_DSTEST_COMBINATIONS=1 runs it (about 40 minutes)")
	}
	d, _ := open(t, indexeddb.Options{})
	subtests(t, d, true)
}

// subtests runs dstest.SubtestAll's subtests on d, as it does (each on an
// emptied store), with or without (only) SubtestCombinations.
func subtests(t *testing.T, d *indexeddb.Datastore, combinations bool) {
	run := func(name string, f func(t *testing.T)) {
		if strings.HasSuffix(name, ".SubtestCombinations") != combinations {
			return
		}
		t.Run(name, func(t *testing.T) {
			f(t)
			clear(t, d)
		})
	}
	for _, f := range dstest.BasicSubtests {
		run(funcName(f), func(t *testing.T) { f(t, d) })
	}
	for _, f := range dstest.BatchSubtests {
		run(funcName(f), func(t *testing.T) { f(t, d) })
	}
}

func funcName(f any) string { return runtime.FuncForPC(reflect.ValueOf(f).Pointer()).Name() }

// clear deletes every key, as dstest does between subtests.
func clear(t *testing.T, d *indexeddb.Datastore) {
	res, err := d.Query(t.Context(), dsq.Query{KeysOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	all, err := res.Rest()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range all {
		if err := d.Delete(t.Context(), ds.RawKey(e.Key)); err != nil {
			t.Fatal(err)
		}
	}
}

// What a datastore holds survives closing it and opening the database
// again, as it survives a reload.
func TestDatastoreReopen(t *testing.T) {
	ctx := t.Context()
	d, name := open(t, indexeddb.Options{})
	if err := d.Put(ctx, ds.NewKey("/a/b"), []byte("kept")); err != nil {
		t.Fatal(err)
	}
	b, _ := d.Batch(ctx)
	_ = b.Put(ctx, ds.NewKey("/a/c"), []byte("batched"))
	_ = b.Delete(ctx, ds.NewKey("/a/b"))
	_ = b.Put(ctx, ds.NewKey("/a/b"), []byte("last write wins"))
	if err := b.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Get(ctx, ds.NewKey("/a/b")); err == nil {
		t.Fatal("a closed datastore answered")
	}
	d2, err := indexeddb.Open(ctx, name, indexeddb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	for k, want := range map[string]string{"/a/b": "last write wins", "/a/c": "batched"} {
		got, err := d2.Get(ctx, ds.NewKey(k))
		if err != nil || string(got) != want {
			t.Fatalf("after reopening, %s = %q, %v; want %q", k, got, err, want)
		}
	}
}

// Keys are bytes: any byte sequence is a key, and queries list keys in
// byte order, as pebble does (not in JavaScript's UTF-16 string order).
func TestDatastoreBinaryKeys(t *testing.T) {
	ctx := t.Context()
	d, _ := open(t, indexeddb.Options{})
	keys := []string{"/k/\x00", "/k/a", "/k/\x7f", "/k/\xc3\xa9", "/k/\xef\xbf\xbd", "/k/\xf0\x9f\x98\x80", "/k/\xff\xfe"}
	for i := len(keys) - 1; i >= 0; i-- {
		if err := d.Put(ctx, ds.RawKey(keys[i]), []byte(keys[i])); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Put(ctx, ds.RawKey("/kk"), nil); err != nil { // not under /k/
		t.Fatal(err)
	}
	res, err := d.Query(ctx, dsq.Query{Prefix: "/k"})
	if err != nil {
		t.Fatal(err)
	}
	all, err := res.Rest()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(keys) {
		t.Fatalf("query /k listed %d keys, want %d", len(all), len(keys))
	}
	for i, e := range all {
		if e.Key != keys[i] || !bytes.Equal(e.Value, []byte(keys[i])) {
			t.Fatalf("entry %d is %q=%q, want %q", i, e.Key, e.Value, keys[i])
		}
	}
	v, err := d.Get(ctx, ds.RawKey("/kk"))
	if err != nil || len(v) != 0 {
		t.Fatalf("an empty value reads back as %q, %v", v, err)
	}
}

// Writes return before IndexedDB holds them (they are read back from the
// mirror at once); Sync returns once it does: a second connection to the
// database, which reads IndexedDB itself, as a reloaded page would, sees
// every write made before Sync.
func TestDatastoreSyncMakesWritesDurable(t *testing.T) {
	ctx := t.Context()
	d, name := open(t, indexeddb.Options{})
	const n = 500
	for i := range n {
		k := ds.NewKey(fmt.Sprintf("/w/%04d", i))
		if err := d.Put(ctx, k, []byte(k.String())); err != nil {
			t.Fatal(err)
		}
		if got, err := d.Get(ctx, k); err != nil || string(got) != k.String() {
			t.Fatalf("a write does not read back at once: %q, %v", got, err)
		}
	}
	if err := d.Delete(ctx, ds.NewKey("/w/0000")); err != nil {
		t.Fatal(err)
	}
	if err := d.Sync(ctx, ds.NewKey("/")); err != nil {
		t.Fatal(err)
	}
	other, err := indexeddb.Open(ctx, name, indexeddb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	res, err := other.Query(ctx, dsq.Query{Prefix: "/w"})
	if err != nil {
		t.Fatal(err)
	}
	all, err := res.Rest()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != n-1 || all[0].Key != "/w/0001" || all[n-2].Key != fmt.Sprintf("/w/%04d", n-1) {
		t.Fatalf("after Sync another connection holds %d writes (first %v), want %d", len(all), all[:min(1, len(all))], n-1)
	}
}
