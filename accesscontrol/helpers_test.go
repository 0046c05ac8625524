package accesscontrol_test

import (
	"context"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/latticedb/lattice/accesscontrol"
)

const testDB = "/lattice/bafyreitestmanifest/TodoList"

// key is a test identity.
type key struct {
	priv crypto.PrivKey
	id   peer.ID
}

func newKey(t testing.TB) key {
	t.Helper()
	priv, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return key{priv, id}
}

func newKeys(t testing.TB, n int) []key {
	out := make([]key, n)
	for i := range out {
		out[i] = newKey(t)
	}
	return out
}

// canWrite is CanWrite with a background context.
func canWrite(c accesscontrol.Controller, w accesscontrol.Write) error {
	return c.CanWrite(context.Background(), w)
}
