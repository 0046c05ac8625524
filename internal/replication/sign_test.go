package replication

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	dag "github.com/ipfs/boxo/ipld/merkledag"
	crdtpb "github.com/ipfs/go-ds-crdt/pb"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"

	"github.com/latticedb/lattice/crdt"
)

func signedDelta(t *testing.T, key crypto.PrivKey, db string, muts []crdt.Mutation) *crdtpb.Delta {
	t.Helper()
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := SignChunk(key, id, db, []byte("tok"), time.UnixMilli(1700000000000), 3, muts)
	if err != nil {
		t.Fatal(err)
	}
	d := &crdtpb.Delta{Priority: 3}
	for _, m := range append(muts, sig) {
		if m.Delete {
			d.Tombstones = append(d.Tombstones, &crdtpb.Element{Key: m.Key, Id: "blk"})
		} else {
			d.Elements = append(d.Elements, &crdtpb.Element{Key: m.Key, Value: m.Value})
		}
	}
	return d
}

func TestVerifyDelta(t *testing.T) {
	const db = "/lattice/x/db"
	key, _, _ := crypto.GenerateEd25519Key(nil)
	other, _, _ := crypto.GenerateEd25519Key(nil)
	author, _ := peer.IDFromPrivateKey(key)
	muts := []crdt.Mutation{
		{Key: crdt.DocPrefix("todos", "sa"), Value: []byte("marker")},
		{Key: crdt.FieldKey("notes", "sb", "inc", "f"), Delete: true},
		{Key: crdt.ACLKey("e1"), Value: []byte("entry")},
	}
	w, err := VerifyDelta(db, signedDelta(t, key, db, muts))
	if err != nil {
		t.Fatal(err)
	}
	if w.Author != author || !w.ACL || len(w.Collections) != 2 || w.Collections[0] != "notes" || string(w.Token) != "tok" || w.Time.UnixMilli() != 1700000000000 {
		t.Fatalf("write %+v", w)
	}

	tamper := []struct {
		name string
		edit func(d *crdtpb.Delta)
		db   string
	}{
		{"other database", func(*crdtpb.Delta) {}, "/lattice/y/db"},
		{"changed value", func(d *crdtpb.Delta) { d.Elements[0].Value = []byte("forged") }, db},
		{"added element", func(d *crdtpb.Delta) {
			d.Elements = append(d.Elements, &crdtpb.Element{Key: crdt.DocPrefix("todos", "evil"), Value: []byte("x")})
		}, db},
		{"unsigned tombstone", func(d *crdtpb.Delta) {
			d.Tombstones = append(d.Tombstones, &crdtpb.Element{Key: crdt.DocPrefix("todos", "victim"), Id: "b"})
		}, db},
		{"no signature", func(d *crdtpb.Delta) { d.Elements = d.Elements[:len(d.Elements)-1] }, db},
		{"two signatures", func(d *crdtpb.Delta) { d.Elements = append(d.Elements, d.Elements[len(d.Elements)-1]) }, db},
		{"signature under another author's key", func(d *crdtpb.Delta) {
			oid, _ := peer.IDFromPrivateKey(other)
			d.Elements[len(d.Elements)-1].Key = crdt.SigKey(oid.String())
		}, db},
		{"bad key", func(d *crdtpb.Delta) { d.Elements[0].Key = "/nonsense" }, db},
		// A signed envelope copied into a block at another height: the
		// rollback a replay would otherwise be.
		{"replayed higher", func(d *crdtpb.Delta) { d.Priority = 9 }, db},
		{"replayed lower", func(d *crdtpb.Delta) { d.Priority = 2 }, db},
		{"height stripped", func(d *crdtpb.Delta) {
			d.Elements[len(d.Elements)-1].Value = stripHeight(t, d.Elements[len(d.Elements)-1].Value)
		}, db},
	}
	for _, tc := range tamper {
		d := signedDelta(t, key, db, muts)
		tc.edit(d)
		if _, err := VerifyDelta(tc.db, d); !errors.Is(err, ErrBadDelta) {
			t.Errorf("%s: accepted (%v)", tc.name, err)
		}
	}
	// Another key signing a copy of the envelope fields is still caught:
	// the signature is over the author's identity.
	forged := signedDelta(t, other, db, muts)
	good := signedDelta(t, key, db, muts)
	forged.Elements[len(forged.Elements)-1].Key = good.Elements[len(good.Elements)-1].Key
	if _, err := VerifyDelta(db, forged); !errors.Is(err, ErrBadDelta) {
		t.Errorf("forged author accepted: %v", err)
	}
}

// FuzzVerifyDelta: deltas come from the network; none may panic the
// verifier.
func FuzzVerifyDelta(f *testing.F) {
	key, _, _ := crypto.GenerateEd25519Key(nil)
	t := &testing.T{}
	seed, _ := proto.Marshal(signedDelta(t, key, "/lattice/x/db", []crdt.Mutation{{Key: crdt.DocPrefix("c", "s1"), Value: []byte("v")}}))
	f.Add(seed)
	f.Fuzz(func(t *testing.T, b []byte) {
		var d crdtpb.Delta
		if proto.Unmarshal(b, &d) != nil {
			return
		}
		_, _ = VerifyDelta("/lattice/x/db", &d)
	})
}

// stripHeight removes the height from an encoded envelope, as a replayer
// would to make it look like one signed before heights were bound.
func stripHeight(t *testing.T, b []byte) []byte {
	t.Helper()
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatal(err)
	}
	env.Height = 0
	out, err := json.Marshal(&env)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestLegacyEnvelopeWithoutHeight: deltas signed before heights were bound
// (sigDomainV1, one key per author) still verify, at any height.
func TestLegacyEnvelopeWithoutHeight(t *testing.T) {
	const db = "/lattice/x/db"
	key, _, _ := crypto.GenerateEd25519Key(nil)
	author, _ := peer.IDFromPrivateKey(key)
	puts := []crdt.Mutation{{Key: crdt.DocPrefix("todos", "a"), Value: []byte("m")}}
	env := &envelope{Author: author.String(), Time: 1700000000000, Digest: putsDigest(puts)}
	sig, err := key.Sign(env.signedBytes(db))
	if err != nil {
		t.Fatal(err)
	}
	env.Sig = sig
	v, _ := json.Marshal(env)
	for _, prio := range []uint64{1, 7} {
		d := &crdtpb.Delta{Priority: prio, Elements: []*crdtpb.Element{
			{Key: puts[0].Key, Value: puts[0].Value},
			{Key: crdt.SigKey(author.String()), Value: v},
		}}
		if _, err := VerifyDelta(db, d); err != nil {
			t.Fatalf("legacy envelope at height %d: %v", prio, err)
		}
	}
}

// TestHeightMatches: the writer's own block is refused before it is
// stored when go-ds-crdt built it at another height than the one signed.
func TestHeightMatches(t *testing.T) {
	const db = "/lattice/x/db"
	key, _, _ := crypto.GenerateEd25519Key(nil)
	muts := []crdt.Mutation{{Key: crdt.DocPrefix("todos", "a"), Value: []byte("m")}}
	node := func(d *crdtpb.Delta) ipld.Node {
		b, err := proto.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		return dag.NodeWithData(b)
	}
	d := signedDelta(t, key, db, muts)
	if err := heightMatches(node(d)); err != nil {
		t.Fatalf("signed height 3 at priority 3: %v", err)
	}
	d.Priority = 4
	if err := heightMatches(node(d)); !errors.Is(err, ErrHeightMoved) {
		t.Fatalf("signed height 3 at priority 4: %v", err)
	}
	if err := heightMatches(dag.NodeWithData([]byte{0xff})); err != nil {
		t.Fatalf("not a delta: %v", err)
	}
}

// A delta past the bounds a Lattice writer keeps to is refused by name
// before its signature is even checked, however well signed: a modified
// peer cannot make replicas merge a delta of a million keys.
func TestVerifyDeltaBounds(t *testing.T) {
	const db = "/lattice/x/db"
	key, _, _ := crypto.GenerateEd25519Key(nil)
	many := func(n, size int) []crdt.Mutation {
		muts := make([]crdt.Mutation, n)
		for i := range muts {
			muts[i] = crdt.Mutation{Key: crdt.DocPrefix("c", fmt.Sprint(i)), Value: make([]byte, size)}
		}
		return muts
	}
	// What the engine's writer makes passes.
	if _, err := VerifyDelta(db, signedDelta(t, key, db, many(MaxDeltaMutations, 10))); err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyDelta(db, signedDelta(t, key, db, many(1, MaxDeltaValue))); err != nil {
		t.Fatal(err)
	}
	cases := map[string][]crdt.Mutation{
		"MaxDeltaElements": many(MaxDeltaMutations+1, 10),
		"MaxDeltaValue":    many(1, MaxDeltaValue+1),
	}
	dels := make([]crdt.Mutation, MaxDeltaTombstones+1)
	for i := range dels {
		dels[i] = crdt.Mutation{Key: crdt.DocPrefix("c", fmt.Sprint(i)), Delete: true}
	}
	cases["MaxDeltaTombstones"] = dels
	for name, muts := range cases {
		_, err := VerifyDelta(db, signedDelta(t, key, db, muts))
		if !errors.Is(err, ErrDeltaTooLarge) || !errors.Is(err, ErrBadDelta) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
