package crdt

import (
	"encoding/binary"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/latticedb/lattice/value"
)

// setElemVersion is the first byte of an encoded set element that carries
// its place in the set's order. Elements written before it existed are
// plain JSON (which never starts with this byte) and sort first, by value.
const setElemVersion = 0x01

// maxSetElemReplica bounds the replica name an encoded element carries.
const maxSetElemReplica = 256

// SetElem is one element of an add-wins set, with its place in the set's
// order: elements list by Ord, then Replica, then value. A conversion
// numbers the array it converts 1..n, so the existing order (duplicates
// included) is kept; an addition takes the next number after the largest
// one its writer has seen, so a single replica appends as MongoDB does, and
// concurrent additions order by replica.
type SetElem struct {
	Value   any
	Ord     uint64
	Replica string
}

// EncodeSetElem encodes a set element with its order.
func EncodeSetElem(e SetElem) ([]byte, error) {
	if len(e.Replica) > maxSetElemReplica {
		return nil, fmt.Errorf("%w: set element replica name of %d bytes", ErrBadValue, len(e.Replica))
	}
	js, err := EncodeValue(e.Value)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, 1+2*binary.MaxVarintLen64+len(e.Replica)+len(js))
	b = append(b, setElemVersion)
	b = binary.AppendUvarint(b, e.Ord)
	b = binary.AppendUvarint(b, uint64(len(e.Replica)))
	b = append(b, e.Replica...)
	return append(b, js...), nil
}

// DecodeSetElem decodes a set element: the ordered form EncodeSetElem
// writes, or the plain JSON of elements written before it (order 0).
func DecodeSetElem(b []byte) (SetElem, error) {
	if len(b) == 0 || b[0] != setElemVersion {
		v, err := DecodeValue(b)
		return SetElem{Value: v}, err
	}
	rest := b[1:]
	ord, n := binary.Uvarint(rest)
	if n <= 0 {
		return SetElem{}, fmt.Errorf("%w: set element order", ErrBadValue)
	}
	rest = rest[n:]
	rl, n := binary.Uvarint(rest)
	if n <= 0 || rl > maxSetElemReplica || rl > uint64(len(rest)-n) {
		return SetElem{}, fmt.Errorf("%w: set element replica", ErrBadValue)
	}
	rest = rest[n:]
	rep := string(rest[:rl])
	v, err := DecodeValue(rest[rl:])
	if err != nil {
		return SetElem{}, err
	}
	return SetElem{Value: v, Ord: ord, Replica: rep}, nil
}

// elemSub is the key suffix of the occ-th occurrence (from 0) of an
// element with value hash h: a set converted from an array that held
// duplicates keeps each of them.
func elemSub(h string, occ int) string {
	if occ == 0 {
		return h
	}
	return h + "-" + strconv.Itoa(occ)
}

// subHash is the value hash an element key suffix names, or "" when the
// suffix is malformed.
func subHash(sub string) string {
	h, occ, found := strings.Cut(sub, "-")
	if found {
		n, err := strconv.Atoi(occ)
		if err != nil || n < 1 || strconv.Itoa(n) != occ {
			return ""
		}
	}
	return h
}

// maxOrd is the largest order number among a set's elements.
func maxOrd(elems map[string]SetElem) uint64 {
	var m uint64
	for _, e := range elems {
		m = max(m, e.Ord)
	}
	return m
}

// setElements returns a set's elements in the set's order: by Ord, then
// Replica, then the query comparison order, ties broken by key.
func setElements(elems map[string]SetElem) []any {
	subs := make([]string, 0, len(elems))
	for s := range elems {
		subs = append(subs, s)
	}
	sort.Slice(subs, func(i, j int) bool {
		a, b := elems[subs[i]], elems[subs[j]]
		if a.Ord != b.Ord {
			return a.Ord < b.Ord
		}
		if a.Replica != b.Replica {
			return a.Replica < b.Replica
		}
		if c := value.Compare(a.Value, b.Value); c != 0 {
			return c < 0
		}
		return subs[i] < subs[j]
	})
	out := make([]any, len(subs))
	for i, s := range subs {
		out[i] = value.Clone(elems[s].Value)
	}
	return out
}
