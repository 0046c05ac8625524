package snapshot

import (
	"context"
	"errors"
	"testing"
	"time"

	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/latticedb/lattice/accesscontrol"
)

// forgeWorld is a snapshot of a replica with concurrent versions of a
// key, blocks with no live element, and a producer authorised by a static
// controller.
func forgeWorld(t *testing.T) (*world, *Bundle, Verifier) {
	w := newWorld(t)
	t.Cleanup(w.close)
	a, b := w.writer("A"), w.writer("B")
	a.put("/d", "x")
	a.del("/d") // two blocks with no live element: not carried
	a.put("/k", "a")
	b.put("/k", "b")
	b.put("/j", "j")
	w.deliver(b, a)
	a.put("/m", "m")
	a.put("/n", "n")
	bundle := w.snapshot(a)
	producer, _ := peer.IDFromPrivateKey(w.key)
	ac, err := accesscontrol.NewStatic(accesscontrol.Static(producer).Params, accesscontrol.Env{})
	if err != nil {
		t.Fatal(err)
	}
	return w, bundle, Verifier{Database: w.db, MayProduce: ProducerRule(ac, w.db, time.Now())}
}

func clone(t *testing.T, b *Bundle) *Bundle {
	c, err := DecodeBundle(b.Encode())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestVerifyRefusesForgedSnapshots(t *testing.T) {
	w, good, v := forgeWorld(t)
	if err := v.Verify(w.ctx, good); err != nil {
		t.Fatalf("the honest snapshot: %v", err)
	}
	resign := func(b *Bundle) {
		if err := Sign(&b.Snapshot, w.key); err != nil {
			t.Fatal(err)
		}
	}
	stranger, _, _ := crypto.GenerateEd25519Key(nil)
	cases := []struct {
		name   string
		forge  func(b *Bundle)
		reason error
	}{
		{"a live element dropped from the list, signature kept", func(b *Bundle) {
			b.Snapshot.Live = b.Snapshot.Live[1:]
		}, ErrBadSignature},
		{"the block of a live element left out", func(b *Bundle) {
			var keep []blocks.Block
			for _, blk := range b.Blocks {
				if !blk.Cid().Equals(b.Snapshot.Live[0].Block) || isHead(b, blk.Cid()) {
					keep = append(keep, blk)
				}
			}
			if len(keep) == len(b.Blocks) {
				t.Fatal("every live block is a head here: pick another")
			}
			b.Blocks = keep
		}, ErrMissingLiveElement},
		{"a live element at a forged height", func(b *Bundle) {
			b.Snapshot.Live[0].Height += 7
			resign(b)
		}, ErrMissingLiveElement},
		{"a live element its block does not write", func(b *Bundle) {
			b.Snapshot.Live[0].Key = "/nothere"
			resign(b)
		}, ErrMissingLiveElement},
		{"coverage without a live element's block", func(b *Bundle) {
			b.Snapshot.Coverage = without(b.Snapshot.Coverage, b.Snapshot.Live[len(b.Snapshot.Live)-1].Block)
			resign(b)
		}, ErrFalseCoverage},
		{"coverage without a head", func(b *Bundle) {
			b.Snapshot.Coverage = without(b.Snapshot.Coverage, b.Snapshot.Heads[0].CID)
			resign(b)
		}, ErrFalseCoverage},
		{"coverage smaller than the heads' height", func(b *Bundle) {
			var keep [][DigestSize]byte
			for _, h := range b.Snapshot.Heads {
				keep = append(keep, Digest(h.CID.Hash()))
			}
			b.Snapshot.Coverage = NewCoverage(keep)
			resign(b)
		}, ErrFalseCoverage},
		{"signed by a peer that is not a writer", func(b *Bundle) {
			if err := Sign(&b.Snapshot, stranger); err != nil {
				t.Fatal(err)
			}
		}, ErrUnauthorizedProducer},
		{"another database", func(b *Bundle) {
			b.Snapshot.Database = "/lattice/other/db"
			resign(b)
		}, ErrWrongDatabase},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := clone(t, good)
			c.forge(b)
			err := v.Verify(w.ctx, b)
			if !errors.Is(err, ErrRefused) || !errors.Is(err, c.reason) {
				t.Fatalf("got %v, want %v", err, c.reason)
			}
		})
	}
}

// A link of a carried block outside the coverage is a false coverage
// even when heads and live blocks are in it.
func TestVerifyRefusesCoverageMissingALink(t *testing.T) {
	w, good, v := forgeWorld(t)
	b := clone(t, good)
	var linked cid.Cid
	for _, blk := range b.Blocks {
		pn, _, _ := decodeDelta(blk)
		for _, l := range pn.Links() {
			if !isHead(b, l.Cid) && !isLive(b, l.Cid) {
				linked = l.Cid
			}
		}
	}
	if !linked.Defined() {
		t.Fatal("every link of a carried block is carried")
	}
	b.Snapshot.Coverage = without(b.Snapshot.Coverage, linked)
	if err := Sign(&b.Snapshot, w.key); err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(w.ctx, b); !errors.Is(err, ErrFalseCoverage) {
		t.Fatalf("got %v, want ErrFalseCoverage", err)
	}
}

// Each carried block is judged like any remote delta.
func TestVerifyJudgesCarriedBlocks(t *testing.T) {
	w, good, v := forgeWorld(t)
	refused := errors.New("not admitted")
	v.Judge = func(ctx context.Context, nd ipld.Node) error { return refused }
	if err := v.Verify(w.ctx, good); !errors.Is(err, ErrBlockRefused) {
		t.Fatalf("got %v, want ErrBlockRefused", err)
	}
}

// Install refuses a replica with history, and installs nothing.
func TestInstallRefusesNonEmptyReplica(t *testing.T) {
	w, good, _ := forgeWorld(t)
	a := w.closed[0]
	if err := Install(w.ctx, a.store, a.layout, w.bs, good); !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("got %v, want ErrNotEmpty", err)
	}
}

func isHead(b *Bundle, c cid.Cid) bool {
	for _, h := range b.Snapshot.Heads {
		if h.CID.Hash().HexString() == c.Hash().HexString() {
			return true
		}
	}
	return false
}

func isLive(b *Bundle, c cid.Cid) bool {
	for _, e := range b.Snapshot.Live {
		if e.Block.Hash().HexString() == c.Hash().HexString() {
			return true
		}
	}
	return false
}

func without(c Coverage, drop cid.Cid) Coverage {
	d := Digest(drop.Hash())
	var keep [][DigestSize]byte
	for i := 0; i < c.Len(); i++ {
		x := [DigestSize]byte(c.digests[i*DigestSize:])
		if x != d {
			keep = append(keep, x)
		}
	}
	return NewCoverage(keep)
}
