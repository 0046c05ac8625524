package seal_test

import (
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/latticedb/lattice/internal/seal"
)

const db = "/lattice/bafytest/list"

var now = time.UnixMilli(1_800_000_000_000)

// member is one peer of a test: its identity, member key and record.
type member struct {
	id  crypto.PrivKey
	pid peer.ID
	mk  *seal.MemberKey
	rec *seal.MemberRecord
}

func newMember(t testing.TB, s seal.Suite) *member {
	t.Helper()
	id, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := peer.IDFromPrivateKey(id)
	if err != nil {
		t.Fatal(err)
	}
	mk, err := seal.NewMemberKey(s)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := seal.NewMemberRecord(id, mk, now)
	if err != nil {
		t.Fatal(err)
	}
	return &member{id: id, pid: pid, mk: mk, rec: rec}
}

func (m *member) keyring(genesis seal.EpochID) *seal.Keyring {
	return seal.NewKeyring(db, genesis, m.pid, m.mk)
}

func records(ms ...*member) []*seal.MemberRecord {
	out := make([]*seal.MemberRecord, len(ms))
	for i, m := range ms {
		out[i] = m.rec
	}
	return out
}

// readers returns an isReader function for the given members.
func readers(ms ...*member) func(seal.Tag) bool {
	set := map[seal.Tag]bool{}
	for _, m := range ms {
		set[seal.TagOf(m.pid)] = true
	}
	return func(t seal.Tag) bool { return set[t] }
}

// roundTrip encodes and decodes p as a replica receiving it would.
func roundTrip(t testing.TB, p *seal.KeyPackage) *seal.KeyPackage {
	t.Helper()
	q, err := seal.DecodeKeyPackage(db, p.Encode())
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func mustKey(t testing.TB) seal.Key {
	t.Helper()
	k, err := seal.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}
