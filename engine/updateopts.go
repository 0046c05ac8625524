package engine

import "github.com/latticedb/lattice/query"

// UpdateOptions configure updates and replaces.
type UpdateOptions struct {
	Upsert      bool
	ReturnAfter bool // FindOneAndUpdate: return the document after the update
	Sort        []query.SortKey
}

// UpdateOption configures an update.
type UpdateOption func(*UpdateOptions)

// Upsert makes an update insert a document when nothing matches, seeded
// from the filter's equality conditions.
func Upsert(b bool) UpdateOption { return func(o *UpdateOptions) { o.Upsert = b } }

// ReturnDocument chooses what FindOneAndUpdate returns: Before (default) or
// After the update.
func ReturnDocument(d ReturnDocumentKind) UpdateOption {
	return func(o *UpdateOptions) { o.ReturnAfter = d == After }
}

// ReturnDocumentKind is Before or After.
type ReturnDocumentKind int

// Before and After select the document FindOneAndUpdate returns.
const (
	Before ReturnDocumentKind = iota
	After
)

// SortBy picks which document FindOneAndUpdate and FindOneAndDelete act on
// when several match (may be given several times).
func SortBy(path string, dir int) UpdateOption {
	return func(o *UpdateOptions) { o.Sort = append(o.Sort, query.SortKey{Path: path, Dir: dir}) }
}

func updateOptions(opts []UpdateOption) UpdateOptions {
	var o UpdateOptions
	for _, f := range opts {
		f(&o)
	}
	return o
}
