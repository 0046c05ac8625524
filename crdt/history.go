package crdt

import "strings"

// The rest of go-ds-crdt v0.6.8's private layout, for the one package that
// must read and write history itself (internal/snapshot: producing a
// snapshot, installing one, answering "is this block processed"). Inside
// the namespace ns of a go-ds-crdt instance:
//
//	<ns>/s/s/<K>/<elem id>  an element (a version) of key K, written by the block elem id names
//	<ns>/s/t/<K>/<elem id>  the tombstone of that element
//	<ns>/s/k/<K>/p          the priority (height + 1, a uvarint) of K's visible value
//	<ns>/h/<block>          a head, holding its height (a uvarint)
//	<ns>/b/<block>          the block was merged ("processed")
//
// where an element id and <block> are a block's multihash as a datastore
// key (boxo's dshelp.MultihashToDsKey). Lattice's own keys beside them
// live under <ns>/l/.

// ElemsPrefix is the store-key prefix of every element (version) of every key.
func (l StoreLayout) ElemsPrefix() string { return l.ns + "/s/s" }

// TombsPrefix is the store-key prefix of every tombstone.
func (l StoreLayout) TombsPrefix() string { return l.ns + "/s/t" }

// PriorityKey is the store key of the priority of CRDT key k's visible value.
func (l StoreLayout) PriorityKey(k string) string { return l.values + k + "/p" }

// HeadsPrefix is the store-key prefix of the heads.
func (l StoreLayout) HeadsPrefix() string { return l.ns + "/h" }

// ProcessedPrefix is the store-key prefix of the processed-block markers.
func (l StoreLayout) ProcessedPrefix() string { return l.ns + "/b" }

// LatticePrefix is the store-key prefix Lattice keeps its own per-database
// keys under, beside go-ds-crdt's (address book, snapshot state).
func (l StoreLayout) LatticePrefix() string { return l.ns + "/l" }

// SplitElemKey splits a store key under prefix (ElemsPrefix or TombsPrefix)
// into its CRDT key and element id (the id with its leading '/', as
// go-ds-crdt names it in tombstones); false for any other key.
func (l StoreLayout) SplitElemKey(prefix, storeKey string) (key, id string, ok bool) {
	if !strings.HasPrefix(storeKey, prefix+"/") {
		return "", "", false
	}
	inner := storeKey[len(prefix):]
	i := strings.LastIndexByte(inner, '/')
	if i <= 0 || i == len(inner)-1 {
		return "", "", false
	}
	return inner[:i], inner[i:], true
}
