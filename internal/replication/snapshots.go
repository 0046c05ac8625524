package replication

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"time"

	dag "github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/crdt"
	"github.com/latticedb/lattice/internal/snapshot"
	"github.com/latticedb/lattice/validation"
)

// Snapshot-first join (see internal/snapshot and docs/snapshots.md). A
// joiner asks a peer for a snapshot of a database on one stream:
//
//	request:  'S' 0x01, claim (as catch-up's, for purpose "snapshot")
//	response: status byte (0 ok, then the bundle as one length-prefixed
//	          field; 1 refused, then a reason)
//
// The peer produces the snapshot of its replica on demand, signed with
// its own key: the joiner's access controller decides whether that peer
// may produce snapshots (snapshot.ProducerRule). The joiner verifies the
// bundle, judging every carried block as a remote delta, installs it
// before it opens the database (Node.InstallSnapshot), and then merges
// the tail above it through the usual heads exchange and catch-up: the
// replica's go-ds-crdt runs over a snapshot.CoveredStore, so every walk
// stops at the snapshot's past.

// SnapshotProtocol is the libp2p protocol of snapshot requests.
const SnapshotProtocol = protocol.ID("/lattice/snapshot/1")

// MaxSnapshotBytes bounds one snapshot bundle on the wire.
const MaxSnapshotBytes = 256 << 20

const claimSnapshot = "snapshot"

// ErrSnapshot marks a snapshot request that failed (refused, broken) or a
// snapshot that did not verify (it then wraps snapshot.ErrRefused too).
var ErrSnapshot = errors.New("replication: snapshot failed")

// handleSnapshot serves one snapshot request.
func (n *Node) handleSnapshot(ctx context.Context, st network.Stream) {
	defer st.Close()
	_ = st.SetDeadline(time.Now().Add(catchupIdle))
	br := bufio.NewReader(st)
	raw, err := readBytes(br, 2+claimLen)
	if err != nil || len(raw) != 2+claimLen || raw[0] != 'S' || raw[1] != 1 {
		_ = st.Reset()
		return
	}
	rd := byteReader{b: raw[2:]}
	claim, _ := rd.claim()
	bw := bufio.NewWriterSize(st, 64<<10)
	refuse := func(reason string) {
		_ = bw.WriteByte(1)
		_, _ = bw.Write(appendBytes(nil, []byte(reason)))
		_ = bw.Flush()
	}
	r := n.replicaByKey(claim.Key)
	if r == nil || !claim.Verify(r.cfg.Manifest, claimSnapshot, st.Conn().RemotePeer(), st.Conn().LocalPeer()) {
		refuse("database not open here")
		return
	}
	n.admitted.admit(st.Conn().RemotePeer(), r.cfg.Manifest)
	// Producing reads the whole history's markers: one at a time per
	// node, so peers asking again and again cost it one producer's work.
	if !n.snapshotting.CompareAndSwap(false, true) {
		refuse("busy")
		return
	}
	b, err := r.Snapshot(ctx)
	n.snapshotting.Store(false)
	if err != nil {
		refuse(err.Error())
		return
	}
	enc := b.Encode()
	if len(enc) > MaxSnapshotBytes {
		refuse("snapshot too large")
		return
	}
	_ = st.SetDeadline(time.Now().Add(catchupIdle + time.Duration(len(enc)>>20)*time.Second))
	_ = bw.WriteByte(0)
	_, _ = bw.Write(appendBytes(nil, enc))
	_ = bw.Flush()
}

// Snapshot produces a snapshot of this replica, signed by this node.
// It fails with ErrCompacting while the replica compacts.
func (r *Replica) Snapshot(ctx context.Context) (*snapshot.Bundle, error) {
	if !r.compact.mu.TryLock() {
		return nil, ErrCompacting
	}
	defer r.compact.mu.Unlock()
	key := r.n.host.Peerstore().PrivKey(r.n.host.ID())
	if key == nil {
		return nil, fmt.Errorf("%w: no private key for this host", ErrSnapshot)
	}
	src := snapshot.Source{
		Store:    r.covered,
		Layout:   crdt.NewStoreLayout(r.cfg.Namespace.String()),
		Blocks:   r.n.bstore,
		Coverage: r.covered.Coverage(),
	}
	return snapshot.Produce(ctx, src, key, r.cfg.Database, r.n.now())
}

// FetchSnapshot asks p for a snapshot of the database with this manifest.
// The bundle is decoded, not verified: InstallSnapshot verifies.
func (n *Node) FetchSnapshot(ctx context.Context, p peer.ID, manifest cid.Cid) (*snapshot.Bundle, error) {
	st, err := n.host.NewStream(network.WithAllowLimitedConn(ctx, "snapshot"), p, SnapshotProtocol)
	if err != nil {
		return nil, fmt.Errorf("%w: open stream to %s: %v", ErrSnapshot, p, err)
	}
	defer st.Close()
	stop := context.AfterFunc(ctx, func() { _ = st.Reset() })
	defer stop()
	_ = st.SetDeadline(time.Now().Add(5 * catchupIdle))
	req := appendClaim([]byte{'S', 1}, NewClaim(manifest, claimSnapshot, n.host.ID(), p))
	if _, err := st.Write(appendBytes(nil, req)); err != nil {
		return nil, fmt.Errorf("%w: send request: %v", ErrSnapshot, err)
	}
	_ = st.CloseWrite()
	br := bufio.NewReaderSize(st, 64<<10)
	status, err := br.ReadByte()
	if err != nil {
		return nil, fmt.Errorf("%w: read status: %v", ErrSnapshot, err)
	}
	if status != 0 {
		reason, _ := readBytes(br, 1024)
		return nil, fmt.Errorf("%w: refused by %s: %s", ErrSnapshot, p, reason)
	}
	raw, err := readBytes(br, MaxSnapshotBytes)
	if err != nil {
		return nil, fmt.Errorf("%w: read bundle: %v", ErrSnapshot, err)
	}
	b, err := snapshot.DecodeBundle(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSnapshot, err)
	}
	return b, nil
}

// InstallSnapshot verifies b for the database cfg describes and installs
// it into that database's namespace, which must be empty (never opened,
// or opened and never merged anything); Open it afterwards. Every carried
// block is judged as a remote delta is: its signature and height
// (VerifyDelta), its author by cfg.Access (a replicated controller sees
// every access-control entry the bundle carries first), its changes by
// cfg.Validator. The producer must be allowed by snapshot.ProducerRule.
//
// Of cfg it reads Manifest, Database, Namespace, Access, Validator and
// Store only.
func (n *Node) InstallSnapshot(ctx context.Context, cfg ReplicaConfig, b *snapshot.Bundle) error {
	if !cfg.Manifest.Defined() || cfg.Access == nil {
		return fmt.Errorf("%w: replica config lacks a required field", ErrBadNodeConfig)
	}
	if n.replica(cfg.Manifest) != nil {
		return fmt.Errorf("%w: %w", ErrSnapshot, ErrReplicaOpen)
	}
	rep, _ := cfg.Access.(accesscontrol.Replicated)
	val, _ := cfg.Validator.(validation.Replicated)
	if rep != nil || val != nil {
		for _, blk := range b.Blocks {
			nd, err := dag.DecodeProtobufBlock(blk)
			if err != nil {
				continue // Verify refuses it
			}
			if d, err := decodeDelta(nd); err == nil {
				applyEntries(rep, val, d)
			}
		}
	}
	v := snapshot.Verifier{
		Database:   cfg.Database,
		MayProduce: snapshot.ProducerRule(cfg.Access, cfg.Database, b.Snapshot.Time),
		Judge: func(ctx context.Context, nd ipld.Node) error {
			d, err := decodeDelta(nd)
			if err != nil {
				return err
			}
			w, err := VerifyDelta(cfg.Database, d)
			if err != nil {
				return err
			}
			if err := cfg.Access.CanWrite(ctx, w); err != nil {
				return err
			}
			return judgeDelta(cfg.Validator, d)
		},
	}
	if err := v.Verify(ctx, b); err != nil {
		return fmt.Errorf("%w: %w", ErrSnapshot, err)
	}
	store := cfg.Store
	if store == nil {
		store = n.store
	}
	if err := snapshot.Install(ctx, store, crdt.NewStoreLayout(cfg.Namespace.String()), n.bstore, b); err != nil {
		return fmt.Errorf("%w: %w", ErrSnapshot, err)
	}
	return nil
}

// Compact compacts the database cfg describes, which must not be open
// here (close it, compact, open it again): see snapshot.Compact. The
// snapshot it stands on is signed by this node. A compacted replica
// serves catch-up only above its snapshot: a fresh peer joins it by a
// snapshot.
//
// Of cfg it reads Manifest, Database, Namespace and Store only.
func (n *Node) Compact(ctx context.Context, cfg ReplicaConfig) (*snapshot.Compaction, error) {
	if !cfg.Manifest.Defined() || cfg.Database == "" {
		return nil, fmt.Errorf("%w: replica config lacks a required field", ErrBadNodeConfig)
	}
	if n.replica(cfg.Manifest) != nil {
		return nil, fmt.Errorf("%w: %w", ErrSnapshot, ErrReplicaOpen)
	}
	key := n.host.Peerstore().PrivKey(n.host.ID())
	if key == nil {
		return nil, fmt.Errorf("%w: no private key for this host", ErrSnapshot)
	}
	base := cfg.Store
	if base == nil {
		base = n.store
	}
	layout := crdt.NewStoreLayout(cfg.Namespace.String())
	cs, err := snapshot.NewCoveredStore(ctx, base, layout)
	if err != nil {
		return nil, err
	}
	return snapshot.Compact(ctx, cs, layout, n.bstore, key, cfg.Database, n.now())
}
