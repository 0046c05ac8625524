package crdt

import (
	"fmt"
	"strings"
)

// The key layout inside one database's go-ds-crdt namespace. Every user
// supplied component (collection, _id, field name) is escaped with Escape, so
// a component never contains '/' and go-datastore's key cleaning never
// rewrites it.
//
//	/d/<coll>/<id>                                legacy document marker: incarnation + base (read, never written)
//	/d/<coll>/<id>/<inc>/b/<tag>                  base: one creator's document as inserted or replaced
//	/d/<coll>/<id>/<inc>/g                        grave: the incarnation was deleted (holds its lineage)
//	/d/<coll>/<id>/<inc>/f/<field>                field register
//	/d/<coll>/<id>/<inc>/n/<field>/<epoch>/<rep>  counter contribution of replica rep
//	/d/<coll>/<id>/<inc>/s/<field>/<epoch>/<hash> add-wins set element
//	/c/<coll>                                     collection marker
//	/x/<coll>/<index name>                        secondary index definition
//	/a/<entry hash>                               access-control entry
//	/v/<entry id>                                 schema entry (validation.SchemaEntry)
//	/s/<peer ID>                                  delta signature (one per delta)
const (
	prefixDoc        = "/d"
	prefixCollection = "/c"
	prefixIndex      = "/x"
	prefixACL        = "/a"
	prefixSchema     = "/v"
	prefixSig        = "/s"
)

// KeyKind says what a parsed key addresses.
type KeyKind int

// The kinds of key in a database.
const (
	KindUnknown    KeyKind = iota
	KindDoc                // document marker
	KindField              // field register
	KindCounter            // counter contribution
	KindSetElem            // set element
	KindCollection         // collection marker
	KindIndex              // index definition
	KindACL                // access-control entry
	KindSig                // delta signature
	KindBase               // one creator's base document of an incarnation
	KindGrave              // grave of a deleted incarnation
	KindSeal               // key package or member record of a sealed database (sealkeys.go): Epoch is "p" or "m", Sub the id
	KindSchema             // schema entry: Sub is its id
)

// Key is a parsed database key.
type Key struct {
	Kind  KeyKind
	Coll  string // collection, unescaped
	ID    string // document _id (its string form), unescaped
	Inc   string // incarnation
	Field string // top-level field name, unescaped
	Epoch string // counter or set epoch
	Sub   string // replica (counters), element hash (sets), creator tag (bases), index name, ACL entry id, author (signatures)
	// Nonce is a signature key's own nonce (SigKeyFor); empty for the
	// per-author key of signatures made before it (SigKey).
	Nonce string
}

// Escape makes s safe to use as one component of a datastore key: bytes
// outside [A-Za-z0-9_-] become %XX. The result is never empty.
func Escape(s string) string {
	if s == "" {
		return "%"
	}
	clean := true
	for i := 0; i < len(s); i++ {
		if !safeByte(s[i]) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if safeByte(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

func safeByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// Unescape reverses Escape.
func Unescape(s string) (string, error) {
	if s == "%" {
		return "", nil
	}
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(s) {
			return "", fmt.Errorf("%w: bad escape in %q", ErrBadKey, s)
		}
		hi, ok1 := unhex(s[i+1])
		lo, ok2 := unhex(s[i+2])
		if !ok1 || !ok2 {
			return "", fmt.Errorf("%w: bad escape in %q", ErrBadKey, s)
		}
		b.WriteByte(hi<<4 | lo)
		i += 2
	}
	return b.String(), nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// DocPrefix is the key of a document's marker; every other key of the
// document lies below it.
func DocPrefix(coll, id string) string {
	return prefixDoc + "/" + Escape(coll) + "/" + Escape(id)
}

// CollectionDocsPrefix is the prefix of every document key of a collection.
func CollectionDocsPrefix(coll string) string {
	return prefixDoc + "/" + Escape(coll)
}

// AllDocsPrefix is the prefix of every document key of a database.
func AllDocsPrefix() string { return prefixDoc }

// BaseKey is the key of the base document one creator (named by tag, its
// write's nonce) wrote for incarnation inc.
func BaseKey(coll, id, inc, tag string) string {
	return DocPrefix(coll, id) + "/" + inc + "/b/" + Escape(tag)
}

// GraveKey is the key of the grave a delete leaves for incarnation inc.
func GraveKey(coll, id, inc string) string {
	return DocPrefix(coll, id) + "/" + inc + "/g"
}

// FieldKey is the key of a field register.
func FieldKey(coll, id, inc, field string) string {
	return DocPrefix(coll, id) + "/" + inc + "/f/" + Escape(field)
}

// CounterKey is the key of one replica's contribution to a counter.
func CounterKey(coll, id, inc, field, epoch, replica string) string {
	return DocPrefix(coll, id) + "/" + inc + "/n/" + Escape(field) + "/" + epoch + "/" + Escape(replica)
}

// SetElemKey is the key of one element of an add-wins set.
func SetElemKey(coll, id, inc, field, epoch, hash string) string {
	return DocPrefix(coll, id) + "/" + inc + "/s/" + Escape(field) + "/" + epoch + "/" + hash
}

// CollectionKey is the key of a collection marker.
func CollectionKey(coll string) string { return prefixCollection + "/" + Escape(coll) }

// CollectionsPrefix is the prefix of all collection markers.
func CollectionsPrefix() string { return prefixCollection }

// IndexKey is the key of an index definition.
func IndexKey(coll, name string) string {
	return prefixIndex + "/" + Escape(coll) + "/" + Escape(name)
}

// IndexesPrefix is the prefix of all index definitions.
func IndexesPrefix() string { return prefixIndex }

// ACLKey is the key of an access-control entry.
func ACLKey(id string) string { return prefixACL + "/" + Escape(id) }

// ACLPrefix is the prefix of all access-control entries.
func ACLPrefix() string { return prefixACL }

// SchemaKey is the key of a schema entry (a signed change of a
// collection's schema).
func SchemaKey(id string) string { return prefixSchema + "/" + Escape(id) }

// SchemaPrefix is the prefix of all schema entries.
func SchemaPrefix() string { return prefixSchema }

// IsAdminKey reports whether k holds an entry only admins may write: an
// access-control entry or a schema entry.
func IsAdminKey(k string) bool {
	return strings.HasPrefix(k, prefixACL+"/") || strings.HasPrefix(k, prefixSchema+"/")
}

// SigKey is the key of the signature element deltas by author carried
// before signatures bound the delta's height: one key for all of them.
// ParseKey still reads it; SigKeyFor is what deltas carry now.
func SigKey(author string) string { return prefixSig + "/" + Escape(author) }

// SigPrefix is the prefix of every signature element's key.
func SigPrefix() string { return prefixSig + "/" }

// SigKeyFor is the key of the signature element of one delta by author:
// nonce (see NewNonce) makes it the delta's own, so a writer that must
// sign again (the delta's height moved) can drop the stale signature from
// its batch without tombstoning anything.
func SigKeyFor(author, nonce string) string {
	return prefixSig + "/" + Escape(author) + "/" + Escape(nonce)
}

// ParseKey parses a database key produced by the functions above.
func ParseKey(k string) (Key, error) {
	bad := func() (Key, error) { return Key{}, fmt.Errorf("%w: %q", ErrBadKey, k) }
	if !strings.HasPrefix(k, "/") {
		return bad()
	}
	parts := strings.Split(k[1:], "/")
	for _, p := range parts {
		if p == "" {
			return bad()
		}
	}
	un := func(dst *string, s string) error {
		v, err := Unescape(s)
		if err == nil && Escape(v) != s {
			err = ErrBadKey // not in canonical form
		}
		*dst = v
		return err
	}
	var key Key
	switch parts[0] {
	case "d":
		if len(parts) < 3 {
			return bad()
		}
		if un(&key.Coll, parts[1]) != nil || un(&key.ID, parts[2]) != nil {
			return bad()
		}
		switch len(parts) {
		case 3:
			key.Kind = KindDoc
			return key, nil
		case 5:
			if parts[4] != "g" {
				return bad()
			}
			key.Kind, key.Inc = KindGrave, parts[3]
			return key, nil
		case 6:
			switch parts[4] {
			case "f":
				key.Kind = KindField
			case "b":
				if un(&key.Sub, parts[5]) != nil {
					return bad()
				}
				key.Kind, key.Inc = KindBase, parts[3]
				return key, nil
			default:
				return bad()
			}
		case 8:
			switch parts[4] {
			case "n":
				key.Kind = KindCounter
			case "s":
				key.Kind = KindSetElem
			default:
				return bad()
			}
			key.Epoch = parts[6]
			if key.Kind == KindCounter {
				if un(&key.Sub, parts[7]) != nil {
					return bad()
				}
			} else {
				key.Sub = parts[7]
			}
		default:
			return bad()
		}
		key.Inc = parts[3]
		if un(&key.Field, parts[5]) != nil {
			return bad()
		}
		return key, nil
	case "c":
		if len(parts) != 2 || un(&key.Coll, parts[1]) != nil {
			return bad()
		}
		key.Kind = KindCollection
		return key, nil
	case "x":
		if len(parts) != 3 || un(&key.Coll, parts[1]) != nil || un(&key.Sub, parts[2]) != nil {
			return bad()
		}
		key.Kind = KindIndex
		return key, nil
	case "a":
		if len(parts) != 2 || un(&key.Sub, parts[1]) != nil {
			return bad()
		}
		key.Kind = KindACL
		return key, nil
	case "v":
		if len(parts) != 2 || un(&key.Sub, parts[1]) != nil {
			return bad()
		}
		key.Kind = KindSchema
		return key, nil
	case "s":
		if len(parts) < 2 || len(parts) > 3 || un(&key.Sub, parts[1]) != nil {
			return bad()
		}
		if len(parts) == 3 && (un(&key.Nonce, parts[2]) != nil || key.Nonce == "") {
			return bad()
		}
		key.Kind = KindSig
		return key, nil
	case "k":
		if len(parts) != 3 || (parts[1] != "p" && parts[1] != "m") || un(&key.Sub, parts[2]) != nil {
			return bad()
		}
		key.Kind, key.Epoch = KindSeal, parts[1]
		return key, nil
	}
	return bad()
}

// StoreLayout is where go-ds-crdt v0.6.8 keeps the visible value of each
// CRDT key inside the namespace of the datastore it was given: the value of
// key K lives at <ns>/s/k/K/v. It is go-ds-crdt's private layout, and this
// is its one reader in Lattice: the read model and the store watcher go
// through it, so an upgrade that moves the layout changes one place.
type StoreLayout struct {
	values string // "<ns>/s/k"
	ns     string // "<ns>"
}

// NewStoreLayout returns the layout of the go-ds-crdt instance whose
// namespace in the underlying datastore is ns (a datastore key string such
// as "/db/abc").
func NewStoreLayout(ns string) StoreLayout {
	ns = strings.TrimSuffix(ns, "/")
	return StoreLayout{values: ns + "/s/k", ns: ns}
}

// ValuesPrefix is the store-key prefix of every visible value (a prefix
// query for it lists the whole live state).
func (l StoreLayout) ValuesPrefix() string { return l.values }

// ValueKey is the store key holding the visible value of CRDT key k (which
// starts with '/'). A prefix query for ValuesPrefix()+p lists the values of
// every CRDT key under p.
func (l StoreLayout) ValueKey(k string) string { return l.values + k + "/v" }

// CRDTKey maps a store key back to the CRDT key whose visible value it
// holds; false for every other store key of the instance (priorities,
// tombstones, heads, blocks).
func (l StoreLayout) CRDTKey(storeKey string) (string, bool) {
	if !strings.HasPrefix(storeKey, l.values) || !strings.HasSuffix(storeKey, "/v") {
		return "", false
	}
	inner := storeKey[len(l.values) : len(storeKey)-2]
	if inner == "" || inner[0] != '/' {
		return "", false
	}
	return inner, true
}
