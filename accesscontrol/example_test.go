package accesscontrol_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/latticedb/lattice/accesscontrol"
)

// exampleKey returns a deterministic identity, so outputs are stable.
func exampleKey(seed byte) (crypto.PrivKey, peer.ID) {
	priv, _, err := crypto.GenerateEd25519Key(bytes.NewReader(bytes.Repeat([]byte{seed}, 64)))
	if err != nil {
		panic(err)
	}
	id, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		panic(err)
	}
	return priv, id
}

func Example_static() {
	_, alice := exampleKey(1)
	_, bob := exampleKey(2)
	cfg := accesscontrol.Static(alice) // stored in the manifest
	ctrl, err := accesscontrol.NewStatic(cfg.Params, accesscontrol.Env{})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	fmt.Println(ctrl.CanWrite(ctx, accesscontrol.Write{Author: alice}) == nil)
	err = ctrl.CanWrite(ctx, accesscontrol.Write{Author: bob})
	fmt.Println(errors.Is(err, accesscontrol.ErrUnauthorized))
	// Output:
	// true
	// true
}

func ExampleDynamicController() {
	const db = "/lattice/bafyexample/TodoList"
	founderKey, founder := exampleKey(1)
	_, bob := exampleKey(2)
	ctrl, err := accesscontrol.NewDynamic(accesscontrol.Dynamic(founder).Params, accesscontrol.Env{Database: db})
	if err != nil {
		panic(err)
	}
	dyn := ctrl.(*accesscontrol.DynamicController)
	bobWrites := accesscontrol.Write{Database: db, Author: bob, Collections: []string{"todos"}}

	// The founder grants bob the writer role; the engine stores the entry
	// in the database and applies it on every replica.
	entry, err := dyn.Grant(founderKey, bob, accesscontrol.RoleWriter)
	if err != nil {
		panic(err)
	}
	if err := dyn.Apply(entry); err != nil {
		panic(err)
	}
	fmt.Println("after grant:", dyn.CanWrite(context.Background(), bobWrites) == nil)

	entry, err = dyn.Revoke(founderKey, bob, accesscontrol.RoleWriter)
	if err != nil {
		panic(err)
	}
	if err := dyn.Apply(entry); err != nil {
		panic(err)
	}
	fmt.Println("after revoke:", dyn.CanWrite(context.Background(), bobWrites) == nil)
	fmt.Println("next lamport:", dyn.NextLamport())
	// Output:
	// after grant: true
	// after revoke: false
	// next lamport: 3
}

func ExampleIssueToken() {
	const db = "/lattice/bafyexample/TodoList"
	issuerKey, _ := exampleKey(1)
	_, bob := exampleKey(2)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	token, err := accesscontrol.IssueToken(issuerKey, accesscontrol.TokenClaims{
		Database:   db,
		Collection: "todos",
		Holder:     bob,
		NotBefore:  start,
		Expires:    start.Add(30 * 24 * time.Hour),
	})
	if err != nil {
		panic(err)
	}
	cfg := accesscontrol.Token(issuerKey.GetPublic()) // stored in the manifest
	ctrl, err := accesscontrol.NewToken(cfg.Params, accesscontrol.Env{Database: db})
	if err != nil {
		panic(err)
	}
	w := accesscontrol.Write{Database: db, Author: bob, Collections: []string{"todos"}, Token: token, Time: start.Add(time.Hour)}
	fmt.Println(ctrl.CanWrite(context.Background(), w))

	w.Time = start.Add(31 * 24 * time.Hour)
	err = ctrl.CanWrite(context.Background(), w)
	fmt.Println(errors.Is(err, accesscontrol.ErrTokenExpired))

	w.Collections = []string{"users"}
	w.Time = start.Add(time.Hour)
	fmt.Println(ctrl.CanWrite(context.Background(), w))
	// Output:
	// <nil>
	// true
	// accesscontrol: write not permitted: token does not cover the collection: token covers only "todos", write touches "users"
}
