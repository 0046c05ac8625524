package seal_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/latticedb/lattice/internal/seal"
)

func TestMemberRecord(t *testing.T) {
	for _, s := range []seal.Suite{seal.SuiteX25519, seal.SuiteMLKEM768X25519} {
		m := newMember(t, s)
		got, err := seal.DecodeMemberRecord(m.rec.Encode())
		if err != nil {
			t.Fatal(err)
		}
		if got.Peer != m.pid || got.Suite != s || !bytes.Equal(got.PublicKey, m.mk.PublicKey()) || !got.Created.Equal(now) {
			t.Fatalf("decoded %+v", got)
		}
		enc, _ := m.mk.Marshal()
		back, err := seal.UnmarshalMemberKey(enc)
		if err != nil || !bytes.Equal(back.PublicKey(), m.mk.PublicKey()) {
			t.Fatalf("member key round trip: %v", err)
		}
	}
	// A record that puts another key in a peer's name does not verify.
	m, mallory := newMember(t, seal.SuiteX25519), newMember(t, seal.SuiteX25519)
	forged := *m.rec
	forged.PublicKey = mallory.mk.PublicKey()
	if _, err := seal.DecodeMemberRecord(forged.Encode()); !errors.Is(err, seal.ErrBadRecord) {
		t.Errorf("substituted key: %v", err)
	}
	forged = *mallory.rec
	forged.Peer = m.pid
	if _, err := seal.DecodeMemberRecord(forged.Encode()); !errors.Is(err, seal.ErrBadRecord) {
		t.Errorf("record signed by another peer: %v", err)
	}
	enc := m.rec.Encode()
	for i := range enc {
		bad := bytes.Clone(enc)
		bad[i] ^= 1
		if _, err := seal.DecodeMemberRecord(bad); err == nil {
			t.Fatalf("byte %d flipped: decoded", i)
		}
	}
}

func TestKeyPackageOpens(t *testing.T) {
	for _, s := range []seal.Suite{seal.SuiteX25519, seal.SuiteMLKEM768X25519} {
		alice, bob, eve := newMember(t, s), newMember(t, s), newMember(t, s)
		k := mustKey(t)
		lower := mustKey(t)
		p, err := seal.NewRotation(alice.id, db, 1, k, records(alice, bob), []seal.Key{lower}, now)
		if err != nil {
			t.Fatal(err)
		}
		q := roundTrip(t, p)
		if q.Issuer != alice.pid || q.Level != 1 || q.Epoch != k.ID() || len(q.Wraps) != 2 {
			t.Fatalf("decoded %+v", q)
		}
		got, err := q.Open(db, bob.pid, bob.mk)
		if err != nil || got != k {
			t.Fatalf("bob opens: %v", err)
		}
		links, err := q.OpenLinks(db, got)
		if err != nil || len(links) != 1 || links[0] != lower {
			t.Fatalf("links: %v", err)
		}
		if _, err := q.Open(db, eve.pid, eve.mk); !errors.Is(err, seal.ErrNotReader) {
			t.Errorf("eve opens: %v", err)
		}
		// Eve claiming Bob's tag with her own member key.
		if _, err := q.Open(db, bob.pid, eve.mk); !errors.Is(err, seal.ErrPackageDoesNotOpen) {
			t.Errorf("bob's wrap with eve's key: %v", err)
		}
	}
}

func TestKeyPackageRefusals(t *testing.T) {
	alice, bob, eve := newMember(t, seal.SuiteX25519), newMember(t, seal.SuiteX25519), newMember(t, seal.SuiteX25519)
	k := mustKey(t)
	p, err := seal.NewRotation(alice.id, db, 1, k, records(bob), nil, now)
	if err != nil {
		t.Fatal(err)
	}
	enc := p.Encode()
	if _, err := seal.DecodeKeyPackage("/lattice/bafyother/list", enc); !errors.Is(err, seal.ErrPackageDoesNotOpen) {
		t.Errorf("other database: %v", err)
	}
	for i := range enc {
		bad := bytes.Clone(enc)
		bad[i] ^= 0x10
		if _, err := seal.DecodeKeyPackage(db, bad); !errors.Is(err, seal.ErrPackageDoesNotOpen) {
			t.Fatalf("byte %d flipped: %v", i, err)
		}
	}
	for _, n := range []int{0, 1, 10, len(enc) - 1} {
		if _, err := seal.DecodeKeyPackage(db, enc[:n]); !errors.Is(err, seal.ErrPackageDoesNotOpen) {
			t.Errorf("truncated to %d: %v", n, err)
		}
	}
	// Eve re-signs Alice's package as her own: valid, but its wraps were
	// bound to this epoch, not to a key Eve chose; and a package Eve signs
	// with Alice's name does not verify.
	forged := *p
	forged.Issuer = alice.pid
	forgedBy, _ := seal.NewAddition(eve.id, db, 1, k, records(bob), now)
	forged.Sig = forgedBy.Sig
	if _, err := seal.DecodeKeyPackage(db, forged.Encode()); !errors.Is(err, seal.ErrPackageDoesNotOpen) {
		t.Errorf("package in another issuer's name: %v", err)
	}
	// A wrap that opens to a key other than the one the epoch names.
	other := mustKey(t)
	liar, _ := seal.NewRotation(eve.id, db, 1, other, records(bob), nil, now)
	liar2 := *liar
	liar2.Epoch = k.ID()
	if _, err := liar2.Open(db, bob.pid, bob.mk); !errors.Is(err, seal.ErrPackageDoesNotOpen) {
		t.Errorf("wrap of another key: %v", err)
	}
	// Garbage.
	for _, g := range [][]byte{nil, {1}, {1, 1, 0}, bytes.Repeat([]byte{0xff}, 64)} {
		if _, err := seal.DecodeKeyPackage(db, g); !errors.Is(err, seal.ErrPackageDoesNotOpen) {
			t.Errorf("garbage %x: %v", g, err)
		}
	}
}

// A rotation's replicated size per reader, for the budget
// (1,000 readers: at most 100 KB).
func TestRotationSize(t *testing.T) {
	alice := newMember(t, seal.SuiteX25519)
	var recs []*seal.MemberRecord
	for range 50 {
		recs = append(recs, newMember(t, seal.SuiteX25519).rec)
	}
	p, err := seal.NewRotation(alice.id, db, 1, mustKey(t), recs, []seal.Key{mustKey(t)}, now)
	if err != nil {
		t.Fatal(err)
	}
	one, _ := seal.NewRotation(alice.id, db, 1, mustKey(t), recs[:1], []seal.Key{mustKey(t)}, now)
	per := (len(p.Encode()) - len(one.Encode())) / 49
	t.Logf("%d bytes per reader; 1,000 readers: %d bytes", per, len(one.Encode())+999*per)
	if len(one.Encode())+999*per > 100_000 {
		t.Errorf("a rotation for 1,000 readers exceeds 100 KB")
	}
}
