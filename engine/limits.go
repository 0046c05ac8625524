package engine

import (
	"fmt"

	"github.com/latticedb/lattice/crdt"
)

// Bounds on one write. A write is atomic and runs in its database's write
// path, which every writer of the database shares, so what one write may
// stage is bounded: in documents, and in the memory its keys take until
// they are committed (about writeKeyOverhead per key beyond its bytes:
// go-ds-crdt's delta, the batch, the view's entry and the garbage
// collector's headroom). Query bounds (query.MaxUpdateOps,
// query.MaxEachItems) come first; these catch what they cannot see, such
// as an UpdateMany over many documents or an InsertMany of many small
// ones.
const (
	// DefaultMaxBatchDocuments is how many documents one InsertMany may
	// insert, or one UpdateMany or DeleteMany change, unless
	// WithMaxBatchDocuments says otherwise (MongoDB's maxWriteBatchSize is
	// 100,000; one atomic write of as many holds the write path for
	// seconds here: an UpdateMany of 10,000 small documents about 2 s).
	DefaultMaxBatchDocuments = 10_000

	// DefaultMaxWriteBytes bounds the estimated memory of one write's
	// staged keys (bytes plus writeKeyOverhead per key) unless
	// WithMaxWriteBytes says otherwise: 64 MiB is about 30,000 small
	// documents, or 100 of the largest.
	DefaultMaxWriteBytes = 64 << 20

	// writeKeyOverhead is the memory one staged key costs beyond its
	// bytes, measured: an InsertMany of empty documents held about 1.6 KiB
	// per document at its peak in memory, and 3.4 KiB of resident memory
	// per document on disk in the security review (1.3 M documents).
	writeKeyOverhead = 2 << 10
)

// WithMaxBatchDocuments sets how many documents one InsertMany (or
// Insert) may insert, and one UpdateMany or DeleteMany change; more are
// refused whole with ErrWriteTooLarge.
// Default DefaultMaxBatchDocuments.
func WithMaxBatchDocuments(n int) Option {
	return func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("%w: max batch documents must be positive, got %d", ErrBadOption, n)
		}
		c.maxBatchDocs = n
		return nil
	}
}

// WithMaxWriteBytes sets the bound on the estimated memory of one write's
// keys (their bytes plus about 2 KiB each); a write over it is refused
// whole with ErrWriteTooLarge. It must leave room for one document of the
// largest size. Default DefaultMaxWriteBytes.
func WithMaxWriteBytes(n int) Option {
	return func(c *config) error {
		if n < 2<<20 {
			return fmt.Errorf("%w: max write bytes must be at least 2 MiB, got %d", ErrBadOption, n)
		}
		c.maxWriteBytes = n
		return nil
	}
}

// checkWriteDocs refuses a write of more documents than the batch bound.
func (c *Collection) checkWriteDocs(what string, n int) error {
	if max := c.db.e.cfg.maxBatchDocs; n > max {
		return fmt.Errorf("%w: %s of %d documents, the limit is %d (WithMaxBatchDocuments)", ErrWriteTooLarge, what, n, max)
	}
	return nil
}

// writeCost estimates the memory muts take until committed.
func writeCost(muts []crdt.Mutation) int {
	n := 0
	for _, m := range muts {
		n += len(m.Key) + len(m.Value) + writeKeyOverhead
	}
	return n
}

// checkWriteCost refuses a write whose staged keys would take more than
// the engine's bound.
func (db *Database) checkWriteCost(cost, keys int) error {
	if max := db.e.cfg.maxWriteBytes; cost > max {
		return fmt.Errorf("%w: %d keys, about %d bytes in memory, the limit is %d (WithMaxWriteBytes)", ErrWriteTooLarge, keys, cost, max)
	}
	return nil
}

// MaxBatchDocuments is how many documents one write to this database may
// insert or change (WithMaxBatchDocuments): callers that decode a batch
// from the network stop there instead of decoding the rest.
func (db *Database) MaxBatchDocuments() int { return db.e.cfg.maxBatchDocs }
