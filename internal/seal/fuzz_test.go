package seal_test

import (
	"testing"

	"github.com/latticedb/lattice/internal/seal"
)

// The decoders of network input never panic and refuse with their named
// errors. Seeds are valid encodings, so mutations start from real ones.

func FuzzDecodeKeyPackage(f *testing.F) {
	alice, bob := newMember(f, seal.SuiteX25519), newMember(f, seal.SuiteMLKEM768X25519)
	p, err := seal.NewRotation(alice.id, db, 3, mustKey(f), records(alice, bob), []seal.Key{mustKey(f)}, now)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(p.Encode())
	q, _ := seal.NewAddition(alice.id, db, 3, mustKey(f), records(bob), now)
	f.Add(q.Encode())
	f.Add([]byte{1, 1, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := seal.DecodeKeyPackage(db, data)
		if err != nil {
			return
		}
		// A package that decodes opens or refuses, never panics.
		_, _ = p.Open(db, bob.pid, bob.mk)
		r := bob.keyring(p.Epoch)
		_ = r.Add(p)
	})
}

func FuzzDecodeMemberRecord(f *testing.F) {
	f.Add(newMember(f, seal.SuiteX25519).rec.Encode())
	f.Add(newMember(f, seal.SuiteMLKEM768X25519).rec.Encode())
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = seal.DecodeMemberRecord(data)
	})
}

func FuzzUnmarshalMemberKey(f *testing.F) {
	mk, _ := seal.NewMemberKey(seal.SuiteX25519)
	b, _ := mk.Marshal()
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = seal.UnmarshalMemberKey(data)
	})
}

func FuzzOpenValue(f *testing.F) {
	k := mustKey(f)
	s, _ := seal.SealValue(k, []byte(`{"title":"milk"}`), []byte("aad"))
	f.Add(s)
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, data []byte) {
		keyOf := func(seal.EpochID) (seal.Key, bool) { return k, true }
		_, _ = seal.OpenValue(keyOf, data, []byte("aad"))
	})
}

func FuzzOpenName(f *testing.F) {
	n, _ := seal.NewNames(mustKey(f))
	f.Add(n.Seal("id", "doc-1"))
	f.Add("")
	f.Add("AAAA")
	f.Fuzz(func(t *testing.T, s string) {
		if got, err := n.Open("id", s); err == nil && n.Seal("id", got) != s {
			t.Fatalf("%q opened to %q, which seals to another string", s, got)
		}
	})
}
