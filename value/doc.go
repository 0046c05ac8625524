// Package value is Lattice's JSON value model, at the bottom of the tree:
// canonical values, their comparison order, an order-preserving key
// encoding and dot paths. Package query (filters, updates, sort) and
// package crdt (documents as CRDT maps) both build on it; it imports
// neither. Everything here is a pure function over values.
//
// # Values
//
// Documents are map[string]any whose values are canonical: nil, bool,
// int64, float64, string, []any and map[string]any. Normalize converts
// other Go values (any integer or float type, json.Number, time.Time,
// typed slices and string-keyed maps) and DecodeJSON decodes JSON into
// canonical form. ValidateDocument checks that a document can be stored.
//
// Compare orders values as MongoDB orders BSON types: null (and a missing
// field) < numbers < strings < objects < arrays < booleans. EncodeKey maps
// values to bytes whose order is the order of Compare, for index keys.
//
// # Paths
//
// Fields are named by dot paths ("a.b.c"). A numeric component indexes an
// array. Any other component that meets an array applies to each object
// element (Lookup), so {"a.b": 1} matches {"a": [{"b": 1}, {"b": 2}]}.
// Get follows a path exactly, without that expansion.
package value
