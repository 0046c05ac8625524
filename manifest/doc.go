// Package manifest holds what names a Lattice database: its manifest, the
// immutable description whose content address (a dag-json block's CID) is
// the database's identity, and the address /lattice/<manifest CID>/<name>
// built on it. The manifest pins the rules: the access controller, the
// validator and whether the database is sealed travel with it, so no peer
// can open a database under other rules than its creator's.
//
// It needs no engine: tools that carry addresses (invite links, the HTTP
// API) parse and check them here. Package engine makes manifests (Create)
// and re-exports these types under its own names.
package manifest
