package sealing

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/latticedb/lattice/crdt"
	"github.com/latticedb/lattice/internal/seal"
)

// newTestSealer returns the sealer of a new sealed database whose only
// reader is a fresh peer, with its genesis epoch in the keyring.
func newTestSealer(t *testing.T) *Sealer {
	t.Helper()
	id, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	self, err := peer.IDFromPrivateKey(id)
	if err != nil {
		t.Fatal(err)
	}
	mk, err := seal.NewMemberKey(seal.SuiteX25519)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := seal.NewMemberRecord(id, mk, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	k, err := seal.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(context.Background(), Config{Database: "/lattice/test", Name: "test", Genesis: k.ID(),
		Self: self, Identity: id, Member: mk, Record: rec, Clock: time.Now, Log: hclog.NewNullLogger()},
		datastore.NewMapDatastore(), crdt.NewStoreLayout("/db/test"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Genesis(k); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Prepare(nil); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestOpenOwnValues: a value this replica sealed opens to its clear text
// without being opened again, and only the exact bytes it sealed do:
// another ciphertext under the same key still goes through the AEAD, so
// a tampered one is refused by name.
func TestOpenOwnValues(t *testing.T) {
	s := newTestSealer(t)
	clear := []byte(`"a title"`)
	m, err := s.SealMutation(crdt.Mutation{Key: crdt.FieldKey("todos", "s1", "0", "title"), Value: clear})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(m.Value, clear) || m.Key == crdt.FieldKey("todos", "s1", "0", "title") {
		t.Fatalf("mutation not sealed: %q", m.Key)
	}
	clear[0] = 'x' // the writer's buffer changing afterwards changes nothing
	got, err := s.OpenValue(m.Key, m.Value)
	if err != nil || string(got) != `"a title"` {
		t.Fatalf("own value: %q, %v", got, err)
	}
	// The same bytes opened the long way give the same clear text.
	s.own = nil
	if got, err = s.OpenValue(m.Key, m.Value); err != nil || string(got) != `"a title"` {
		t.Fatalf("own value opened: %q, %v", got, err)
	}
	m2, err := s.SealMutation(crdt.Mutation{Key: crdt.FieldKey("todos", "s1", "0", "title"), Value: []byte(`"b"`)})
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(m2.Value)
	bad[len(bad)-1] ^= 1
	if _, err := s.OpenValue(m2.Key, bad); !errors.Is(err, seal.ErrDoesNotOpen) {
		t.Fatalf("tampered value: %v, want ErrDoesNotOpen", err)
	}
	// A value sealed under another key opens only where it was sealed.
	if _, err := s.OpenValue(crdt.FieldKey("x", "y", "0", "z"), m2.Value); !errors.Is(err, seal.ErrDoesNotOpen) {
		t.Fatalf("value under another key: %v, want ErrDoesNotOpen", err)
	}
	// Bounded in number and bytes: the cache starts again when full,
	// and large values are not kept.
	for i := 0; i < maxOwn+10; i++ {
		s.remember(string(rune(i)), []byte{1}, []byte{2})
	}
	if n := len(s.own); n > maxOwn {
		t.Fatalf("%d own values kept, at most %d", n, maxOwn)
	}
	big := make([]byte, maxOwnBytes/128)
	for i := 0; i < 200; i++ {
		s.remember(string(rune(i)), big, big)
	}
	if s.ownBytes > maxOwnBytes {
		t.Fatalf("%d bytes kept in clear, at most %d", s.ownBytes, maxOwnBytes)
	}
	s.remember("huge", make([]byte, maxOwnBytes/32), nil)
	if _, ok := s.own["huge"]; ok {
		t.Fatal("a large value is kept")
	}
}
