package crdt

import "strings"

// Keys of sealed databases (docs/sealed.md). Key packages and member key
// records live in clear text beside the access-control entries:
//
//	/k/p/<entry hash>   key package (seal.KeyPackage)
//	/k/m/<peer ID>      member key record (seal.MemberRecord)
//
// Every other user-supplied component of a sealed database's keys is
// sealed in place by MapComponents, so the layout above keeps its shape.
const prefixSeal = "/k"

// KeyPackageKey is the key of a key package entry.
func KeyPackageKey(id string) string { return prefixSeal + "/p/" + Escape(id) }

// MemberRecordKey is the key of a peer's member key record.
func MemberRecordKey(p string) string { return prefixSeal + "/m/" + Escape(p) }

// SealPrefix is the prefix of every key package and member record.
func SealPrefix() string { return prefixSeal }

// The roles of key components, passed to MapComponents' function: a
// component is sealed with its role as associated data, so equal strings
// in different roles do not look alike.
const (
	RoleColl  = "coll"  // collection name
	RoleID    = "id"    // document id key
	RoleInc   = "inc"   // incarnation
	RoleField = "field" // field name (registers, counters, sets)
	RoleTag   = "tag"   // base creator tag
	RoleEpoch = "epoch" // counter or set epoch
	RoleSub   = "sub"   // counter replica, set element hash
	RoleIndex = "index" // index name
)

// MapComponents rewrites every user-supplied component of a document,
// collection-marker or index key, or of a prefix of one that ends at a
// component boundary, with f(role, component); components are passed and
// returned in their escaped form. Structural components (d, c, x and the
// one-letter kind of a document key) and every other kind of key
// (signatures, access-control entries, key packages) are returned as they
// are. It is how a sealed database's keys are sealed and opened: with a
// deterministic f, the sealed prefix of a key is the prefix of its sealed
// form.
func MapComponents(k string, f func(role, comp string) (string, error)) (string, error) {
	if !strings.HasPrefix(k, "/") {
		return k, nil
	}
	parts := strings.Split(k[1:], "/")
	var roles []string
	switch parts[0] {
	case "d":
		roles = []string{"", RoleColl, RoleID, RoleInc, "", RoleField, RoleEpoch, RoleSub}
		if len(parts) > 5 && parts[4] == "b" {
			roles[5] = RoleTag
		}
	case "c":
		roles = []string{"", RoleColl}
	case "x":
		roles = []string{"", RoleColl, RoleIndex}
	default:
		return k, nil
	}
	for i := 1; i < len(parts) && i < len(roles); i++ {
		if roles[i] == "" || parts[i] == "" {
			continue
		}
		c, err := f(roles[i], parts[i])
		if err != nil {
			return "", err
		}
		parts[i] = c
	}
	return "/" + strings.Join(parts, "/"), nil
}
