package engine

import "github.com/latticedb/lattice/manifest"

// ManifestType is the only database type so far: collections of documents.
const ManifestType = manifest.Type

// Manifest is the immutable description of a database (see package
// manifest). Its content address is the database's identity, so the
// address pins the rules: the access controller and its parameters
// travel with it.
type Manifest = manifest.Manifest

// SealedConfig is the manifest's sealed flag (see WithSealed).
type SealedConfig = manifest.Sealed

// Address is a parsed database address, /lattice/<manifest CID>/<name>.
type Address = manifest.Address

// ParseAddress parses /lattice/<manifest CID>/<name>. The name must match the
// one inside the manifest, which Open checks once the manifest is fetched.
func ParseAddress(s string) (Address, error) { return manifest.ParseAddress(s) }

// ValidateCollectionName reports whether name is a valid collection name,
// wrapping ErrBadName: for callers that carry a name before they use it,
// such as invite links.
func ValidateCollectionName(name string) error { return validateName("collection", name) }

func validateName(what, s string) error { return manifest.ValidateName(what, s) }
