package sealing

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	ds "github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/latticedb/lattice/internal/seal"
)

// RecordProtocol answers a peer's member key record: one signed record
// per stream, then close. The record is public (it holds a public key);
// its signature tells whose it is, so it can come from anyone.
const RecordProtocol protocol.ID = "/lattice/seal/member/1.0.0"

// MaxRecordSize bounds a member record read from a peer.
const MaxRecordSize = 8 << 10

// recordTimeout bounds one record exchange when the caller's context has
// no deadline.
const recordTimeout = 10 * time.Second

// memberKeyKey is where the member key is stored.
const memberKeyKey = "/lattice/seal/member-key"

// Store is what Records needs of the engine's datastore.
type Store interface {
	ds.Read
	ds.Write
	// SyncWAL makes what was written durable.
	SyncWAL() error
}

// Records is an engine's member key and its signed record, loaded from
// the store or made on first use, and the protocol serving the record.
type Records struct {
	store Store
	id    crypto.PrivKey
	clock func() time.Time

	mu  sync.Mutex
	key *seal.MemberKey
	rec *seal.MemberRecord
}

// NewRecords returns the member key keeper of the peer whose identity is
// id, storing its key in store and dating its record with clock.
func NewRecords(store Store, id crypto.PrivKey, clock func() time.Time) *Records {
	return &Records{store: store, id: id, clock: clock}
}

// Key returns the member key and its record, made and stored on first
// use.
func (r *Records) Key(ctx context.Context) (*seal.MemberKey, *seal.MemberRecord, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.key != nil {
		return r.key, r.rec, nil
	}
	var mk *seal.MemberKey
	b, err := r.store.Get(ctx, ds.NewKey(memberKeyKey))
	switch {
	case err == nil:
		if mk, err = seal.UnmarshalMemberKey(b); err != nil {
			return nil, nil, err
		}
	case errors.Is(err, ds.ErrNotFound):
		if mk, err = seal.NewMemberKey(seal.SuiteX25519); err != nil {
			return nil, nil, err
		}
		b, err := mk.Marshal()
		if err != nil {
			return nil, nil, err
		}
		if err := r.store.Put(ctx, ds.NewKey(memberKeyKey), b); err != nil {
			return nil, nil, fmt.Errorf("sealing: store member key: %w", err)
		}
		if err := r.store.SyncWAL(); err != nil {
			return nil, nil, err
		}
	default:
		return nil, nil, err
	}
	rec, err := seal.NewMemberRecord(r.id, mk, r.clock())
	if err != nil {
		return nil, nil, err
	}
	r.key, r.rec = mk, rec
	return mk, rec, nil
}

// Record returns the encoded member record.
func (r *Records) Record(ctx context.Context) ([]byte, error) {
	_, rec, err := r.Key(ctx)
	if err != nil {
		return nil, err
	}
	return rec.Encode(), nil
}

// Serve answers RecordProtocol on h with this peer's record. enter admits
// one answer (it fails once the owner is closing) and returns the context
// to answer in and the function that ends the admission.
func (r *Records) Serve(h host.Host, enter func(context.Context) (context.Context, func(), error)) {
	h.SetStreamHandler(RecordProtocol, func(st network.Stream) {
		defer st.Close()
		ctx, leave, err := enter(context.Background())
		if err != nil {
			_ = st.Reset()
			return
		}
		defer leave()
		ctx, cancel := context.WithTimeout(ctx, recordTimeout)
		defer cancel()
		rec, err := r.Record(ctx)
		if err != nil {
			_ = st.Reset()
			return
		}
		d, _ := ctx.Deadline()
		_ = st.SetWriteDeadline(d)
		_, _ = st.Write(rec)
	})
}

// Fetch asks peer p, through h, for its member key record and checks that
// it is p's.
func Fetch(ctx context.Context, h host.Host, p peer.ID) ([]byte, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, recordTimeout)
		defer cancel()
	}
	st, err := h.NewStream(ctx, p, RecordProtocol)
	if err != nil {
		return nil, fmt.Errorf("sealing: member record of %s: %w", p, err)
	}
	defer st.Close()
	d, _ := ctx.Deadline()
	_ = st.SetReadDeadline(d)
	b, err := io.ReadAll(io.LimitReader(st, MaxRecordSize+1))
	if err != nil {
		return nil, fmt.Errorf("sealing: member record of %s: %w", p, err)
	}
	if len(b) > MaxRecordSize {
		return nil, fmt.Errorf("%w: %s sent a member record over %d bytes", seal.ErrBadRecord, p, MaxRecordSize)
	}
	rec, err := seal.DecodeMemberRecord(b)
	if err != nil {
		return nil, err
	}
	if rec.Peer != p {
		return nil, fmt.Errorf("%w: %s answered %s's record", seal.ErrBadRecord, p, rec.Peer)
	}
	return b, nil
}
