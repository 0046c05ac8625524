package replication

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	ds "github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/latticedb/lattice/crdt"
)

// MaxDeltaBytes bounds the keys and values of one local delta: go-ds-crdt's
// batch recomputes the size of the whole pending delta on every Put, so
// deltas are kept small enough for that to stay cheap, and small enough to
// travel inline in a broadcast.
const MaxDeltaBytes = 768 << 10

// maxSignAttempts bounds how often one delta is signed again because its
// height moved: each retry follows a remote head merged in the instant
// between signing and committing, so a few are plenty.
const maxSignAttempts = 16

// Commit is how a writer's group of mutations becomes signed deltas.
type Commit struct {
	// Identity signs each delta as Author, with Token (the writer's
	// capability token, if any), dated by Clock.
	Identity crypto.PrivKey
	Author   peer.ID
	Token    []byte
	Clock    func() time.Time
	// DeltaKeys bounds the keys of one delta: MaxDeltaMutations when 0
	// (tests set more, to play a peer that ignores the bound).
	DeltaKeys int
	// Seal, if set, turns each mutation into what the store holds (a
	// sealed database's keys and values).
	Seal func(crdt.Mutation) (crdt.Mutation, error)
	// BeforeCommit, if set (by tests only), runs between signing a delta
	// and committing it.
	BeforeCommit func()
	// Commits counts deltas committed; Resigned those signed again
	// because a remote head moved their height.
	Commits, Resigned *atomic.Uint64
}

// Commit writes muts, in order, as one or more deltas, each carrying its
// author's signature over its contents and the height go-ds-crdt will give
// it: one above the highest head. A remote head merged between the two
// moves that height; the block is then refused before anything is stored
// (ErrHeightMoved), and the delta is signed again. On an error, the
// deltas before it are committed and the rest is not.
func (r *Replica) Commit(ctx context.Context, c Commit, muts []crdt.Mutation) error {
	b, err := r.Batch(ctx)
	if err != nil {
		return err
	}
	deltaKeys := MaxDeltaMutations
	if c.DeltaKeys > 0 {
		deltaKeys = c.DeltaKeys
	}
	var chunk []crdt.Mutation
	size := 0
	flush := func() error {
		for attempt := 1; ; attempt++ {
			height := r.InternalStats(ctx).MaxHeight + 1
			sig, err := SignChunk(c.Identity, c.Author, r.cfg.Database, c.Token, c.Clock(), height, chunk)
			if err != nil {
				return err
			}
			if err := b.Put(ctx, ds.NewKey(sig.Key), sig.Value); err != nil {
				return err
			}
			if c.BeforeCommit != nil {
				c.BeforeCommit()
			}
			err = b.Commit(ctx)
			if err == nil {
				break
			}
			if !errors.Is(err, ErrHeightMoved) || attempt == maxSignAttempts {
				return err
			}
			c.Resigned.Add(1)
			// The stale signature's key is its own: deleting it from the
			// batch drops the element and tombstones nothing.
			if err := b.Delete(ctx, ds.NewKey(sig.Key)); err != nil {
				return err
			}
		}
		c.Commits.Add(1)
		chunk, size = chunk[:0], 0
		return nil
	}
	for _, m := range muts {
		if c.Seal != nil {
			if m, err = c.Seal(m); err != nil {
				return err
			}
		}
		if m.Delete {
			err = b.Delete(ctx, ds.NewKey(m.Key))
		} else {
			err = b.Put(ctx, ds.NewKey(m.Key), m.Value)
		}
		if err != nil {
			return err
		}
		chunk = append(chunk, m)
		size += len(m.Key) + len(m.Value)
		if len(chunk) >= deltaKeys || size >= MaxDeltaBytes {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if len(chunk) > 0 {
		return flush()
	}
	return nil
}
