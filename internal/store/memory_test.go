package store

import (
	"context"
	"slices"
	"sort"
	"strings"
	"testing"
	"unsafe"

	ds "github.com/ipfs/go-datastore"
	dsq "github.com/ipfs/go-datastore/query"
	dstest "github.com/ipfs/go-datastore/test"
	"github.com/stretchr/testify/require"
)

// The in-memory store passes go-datastore's conformance suite (prefix
// queries, filters, orders, limits, batches), as the map it replaces did.
func TestMemoryDatastoreSuite(t *testing.T) {
	dstest.SubtestAll(t, newMemory())
}

// Keys split at their namespace still sort byte-wise, whatever bytes the
// segments hold around the separator, and prefix queries see exactly the
// keys under the prefix.
func TestMemoryOrderAcrossNamespaces(t *testing.T) {
	ctx := context.Background()
	m := newMemory()
	keys := []string{
		"/a", "/a/b", "/a/b/c", "/a/b!/c", "/a/b/c/d/e/f/g", "/a/b/c/d/e/f!/g", "/a/b/c/d/e/f/g/h",
		"/a/b/c/d/e/f/g!/h", "/a/b/c/d/e/f /x/y", "/a/b/c/d/e/f/", "/a/b/c/d/e/f/g/h/i/j", "/ab", "/a!", "/a/b/c/d/e/f",
		"/db/x/s/k/d/docs/s1/0/b/h/v", "/db/x/s/k/d/docs/s1/0/b/h/p", "/db/x/s/k/d/doc/s1/v", "/db/x/s/k/d/docs0/s1/v",
		"/q/a", "/r/a/b", // a namespace seen first whose rest is another stored key
	}
	for _, k := range keys {
		require.NoError(t, m.Put(ctx, ds.NewKey(k), []byte(k)))
	}
	want := make([]string, 0, len(keys))
	for _, k := range keys {
		want = append(want, ds.NewKey(k).String())
	}
	sort.Strings(want)
	want = slices.Compact(want)
	res, err := m.Query(ctx, dsq.Query{})
	require.NoError(t, err)
	all, err := res.Rest()
	require.NoError(t, err)
	got := make([]string, len(all))
	for i, e := range all {
		got[i] = e.Key
		require.Equal(t, e.Key, string(e.Value))
	}
	require.Equal(t, want, got)
	for _, prefix := range []string{"/a", "/a/b", "/a/b/c/d/e/f", "/a/b/c/d/e/f/g", "/db/x/s/k/d/docs", "/db/x/s/k/d", "/db/x/s/k/d/docs/s1/0/b/h"} {
		res, err := m.Query(ctx, dsq.Query{Prefix: prefix})
		require.NoError(t, err)
		under, err := res.Rest()
		require.NoError(t, err)
		var wantUnder []string
		for _, k := range want {
			if strings.HasPrefix(k, prefix+"/") {
				wantUnder = append(wantUnder, k)
			}
		}
		gotUnder := make([]string, 0, len(under))
		for _, e := range under {
			gotUnder = append(gotUnder, e.Key)
		}
		require.Equal(t, wantUnder, gotUnder, "prefix %s", prefix)
	}
	// Deleting every key under a namespace forgets the namespace.
	for _, k := range keys {
		require.NoError(t, m.Delete(ctx, ds.NewKey(k)))
	}
	require.Empty(t, m.ns)
	require.Zero(t, m.tree.Len())
}

// The store keeps its own copy of a value, and a read returns the
// caller's own: neither a caller reusing its buffer nor one changing what
// it read changes what is stored.
func TestMemoryCopiesValues(t *testing.T) {
	ctx := context.Background()
	m := newMemory()
	buf := make([]byte, 3, 1024)
	copy(buf, "abc")
	require.NoError(t, m.Put(ctx, ds.NewKey("/k"), buf))
	copy(buf, "xyz")
	v, err := m.Get(ctx, ds.NewKey("/k"))
	require.NoError(t, err)
	require.Equal(t, "abc", string(v))
	v[0] = 'q' // a read is the caller's copy
	v, err = m.Get(ctx, ds.NewKey("/k"))
	require.NoError(t, err)
	require.Equal(t, "abc", string(v))
}

// What the store keeps of a key never points into the caller's key
// string (which would keep the whole string alive), empty values included.
func TestMemoryKeepsNoCallerKey(t *testing.T) {
	ctx := context.Background()
	m := newMemory()
	for _, v := range [][]byte{nil, {}, []byte("v")} {
		k := ds.NewKey("/db/x/s/s/d/docs/s1/0/b/h/CIQ" + string(v) + "x")
		require.NoError(t, m.Put(ctx, k, v))
		ks := k.String()
		lo := uintptr(unsafe.Pointer(unsafe.StringData(ks)))
		m.tree.Ascend(func(e memEntry) bool {
			if e.key() == ks {
				p := uintptr(unsafe.Pointer(unsafe.StringData(e.kv)))
				require.False(t, p >= lo && p < lo+uintptr(len(ks)), "entry of %s points into the caller's key", ks)
			}
			return true
		})
	}
}
