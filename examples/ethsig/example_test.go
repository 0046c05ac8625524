package ethsig_test

import (
	"bytes"
	"context"
	"fmt"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/examples/ethsig"
	"github.com/latticedb/lattice/plugins"
)

func Example() {
	const db = "/lattice/bafyvotes/Votes"

	// A wallet key (deterministic here so the output is stable).
	wallet, err := crypto.UnmarshalSecp256k1PrivateKey(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		panic(err)
	}
	addr, err := ethsig.Address(wallet.GetPublic())
	if err != nil {
		panic(err)
	}
	fmt.Println("address:", addr)

	// The engine's registry learns the custom type; the manifest names it.
	r := plugins.NewDefaultRegistry()
	if err := ethsig.Register(r); err != nil {
		panic(err)
	}
	ctrl, err := r.NewAccess(ethsig.Config(addr), accesscontrol.Env{Database: db})
	if err != nil {
		panic(err)
	}

	// The wallet lets a peer write by signing (database, peer ID).
	_, pub, _ := crypto.GenerateEd25519Key(bytes.NewReader(bytes.Repeat([]byte{1}, 64)))
	alice, _ := peer.IDFromPublicKey(pub)
	token, err := ethsig.Sign(wallet, db, alice)
	if err != nil {
		panic(err)
	}
	w := accesscontrol.Write{Database: db, Author: alice, Collections: []string{"votes"}, Token: token}
	fmt.Println("alice:", ctrl.CanWrite(context.Background(), w))

	_, pub, _ = crypto.GenerateEd25519Key(bytes.NewReader(bytes.Repeat([]byte{2}, 64)))
	mallory, _ := peer.IDFromPublicKey(pub)
	w.Author = mallory // replaying alice's token
	fmt.Println("mallory allowed:", ctrl.CanWrite(context.Background(), w) == nil)
	// Output:
	// address: 0xfc41b6753a4450da0962633143ba5924077fdb28
	// alice: <nil>
	// mallory allowed: false
}
