package replication

import (
	"errors"
	"testing"
	"time"

	crdtpb "github.com/ipfs/go-ds-crdt/pb"
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
	sig, err := SignChunk(key, id, db, []byte("tok"), time.UnixMilli(1700000000000), muts)
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
