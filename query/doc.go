// Package query implements Lattice's MongoDB-style query language over JSON
// documents: filters, update operators, sort, skip, limit and projection,
// on top of the value model of package value.
//
// Everything here is a pure function over values: no I/O, no goroutines,
// no clock (Update.Apply takes the time as an argument). Parsed filters,
// updates and projections are immutable and safe for concurrent use.
//
// # Values and paths
//
// Values, their comparison order and dot paths are package value's:
// documents hold canonical values (value.Normalize, value.DecodeJSON),
// compare in MongoDB's BSON type order (value.Compare) and are addressed
// by dot paths ("a.b.c", a numeric component indexes an array, any other
// component that meets an array applies to each object element).
// ParseFilter, ParseUpdate, ParseProjection and Update.Apply normalize
// their input themselves, so callers may pass Go literals such as 30 (an
// int).
//
// # Filters
//
// ParseFilter accepts:
//
//   - implicit equality {"a": v} and $eq: equal to v, or, for an array
//     field, containing an element equal to v; an array operand also
//     matches an equal array; an object operand means exact sub-document
//     equality; null matches null and missing fields;
//   - $ne, $nin: the negation of $eq and $in, so they match missing fields;
//   - $gt, $gte, $lt, $lte: only values of the operand's type class
//     (numbers with numbers, strings with strings, ...), or an element of
//     an array field; $gte and $lte null match null and missing;
//   - $in (array of values), $all (the field contains every value); lists
//     of 8 or more values are looked up in a hashed set (by EncodeKey,
//     whose equality is Compare's), with the same answers as a scan; $in
//     and $nin members may be regular expressions, {"$regex": p} or
//     {"$regex": p, "$options": o}, which match strings as MongoDB's /p/o
//     members do;
//   - $exists (true or false; numbers are accepted as truth values);
//   - $regex with a string pattern, alone or with $options ("i", "m", "s");
//   - $not with an operator expression, including {"$regex": ...};
//   - $elemMatch with an operator expression ({"$gte": 80, "$lt": 85},
//     applied to each element) or a query on object elements
//     ({"score": {"$gt": 8}});
//   - $size (non-negative integer);
//   - $and, $or, $nor at top level and inside $elemMatch queries.
//
// Several operators on one field are independent conditions, so on an
// array field {"a": {"$gt": 1, "$lt": 5}} matches [0, 10]; use $elemMatch
// for one element satisfying all of them. Filter.Bounds and
// Filter.SingleValueBounds describe what the filter's top-level conjunction
// requires of one path, for index planning.
//
// # Updates
//
// ParseUpdate accepts $set, $unset, $inc, $mul, $min, $max, $rename,
// $push (a value, or $each with $position, $slice and $sort), $pull (a
// value, an operator expression on elements, or a query on object
// elements), $addToSet (a value or $each) and $currentDate (true or
// {"$type": "date"|"timestamp"}). Update.Apply returns a new document and
// never modifies its input, so a failed update changes nothing.
// ApplyUpsert builds the document an upsert inserts.
//
// # Find options
//
// NewOptions with Sort, Skip, Limit and Project builds Options whose Apply
// sorts (stably, multi-key), skips, limits and projects a slice of
// documents. ParseProjection parses inclusion or exclusion projections.
//
// Finds are bounded: at most MaxSortKeys (32) sort keys; with a limit,
// Apply keeps only the best skip+limit documents in a heap (a top-k sort),
// so its memory does not grow with the input; without one, the sort keys
// of every document must fit in MaxSortBytes (DefaultMaxSortBytes, 100
// MiB) or Apply fails with ErrSortTooLarge. MaxTime carries a per-request
// time limit (MongoDB's maxTimeMS) for the caller that scans to enforce:
// engine.Collection.Find turns it into a context deadline.
//
// # Bounds on one request
//
// An update of more than MaxUpdateOps operations, a $each of more than
// MaxEachItems elements, and a $regex pattern longer than MaxRegexLength
// or compiling to more than MaxRegexProgram instructions are refused at
// parse time with ErrLimit. Regex matching is metered: a match whose
// bound (subject bytes times program instructions) is small runs
// directly; a larger one reads its subject through a meter charged
// against the filter's RegexWork (DefaultRegexWork unless set) and
// polling its Interrupt, so one match on one very large string stops at
// the budget or the caller's deadline; Filter.Err then says why, and
// Update.Apply returns it. $addToSet hashes elements (EncodeKey) and the
// conflict check of an update is linear in its paths.
//
// # Checked against MongoDB
//
// TestDifferentialMingo runs generated filters, updates and sorts through
// this package and through mingo (npm), an independent implementation,
// under node; see differential_test.go for how to install and replay it.
// Where mingo itself departs from MongoDB's documented semantics, the test
// says which rule and why, and does not count the case.
//
// # Differences from MongoDB
//
//   - Objects compare entry by entry in sorted key order (maps have no
//     field order), so {"a": 1, "b": 2} equals {"b": 2, "a": 1}. Within
//     an entry the order is MongoDB's: the value's type, then the field
//     name, then the value.
//   - Regular expressions are Go's RE2: no backreferences or lookaround,
//     and the "x" option is rejected. There is no regex literal type: use
//     {"$regex": ...} wherever MongoDB takes /re/ (inside $in and $nin
//     too, but not in $all or as an equality value).
//   - A dot path skips array elements that are not objects, and does not
//     descend into arrays nested directly in arrays.
//   - $elemMatch and $pull operator expressions test each element as a
//     single value, without expanding arrays nested in the array.
//   - There is no date type: time.Time values become fixed-width RFC 3339
//     strings in UTC (TimeFormat), which sort chronologically. $currentDate
//     stores such a string for "date" and Unix milliseconds (an int64) for
//     "timestamp".
//   - No path under _id may be updated, even to the same value.
//   - $inc and $mul on two int64 values keep int64 unless the result
//     overflows, which yields float64; a non-finite result is an error.
//   - Writing more than 10000 elements past the end of an array is an
//     error instead of padding.
//   - The in-memory sort bound counts the sort entries held (about 40 +
//     16 bytes per key per document), not the documents' BSON size as
//     MongoDB's 100 MB limit does; with a limit, no bound applies.
//   - Not supported: $where, $expr, $text, $mod, $type, geo and bitwise
//     operators, positional updates ($, $[], $[id]), $setOnInsert, $pop,
//     $pullAll, $bit and projection operators ($slice, $elemMatch, $meta).
package query
