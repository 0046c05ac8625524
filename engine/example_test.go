package engine_test

import (
	"context"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/query"
)

// A database with one collection, used like the MongoDB Go driver.
func Example() {
	ctx := context.Background()
	e, err := engine.New(ctx, engine.WithInMemory(), engine.WithListenAddrs("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		panic(err)
	}
	defer e.Close()

	db, err := e.Create(ctx, "TodoList")
	if err != nil {
		panic(err)
	}
	todos := db.Collection("todos")
	_, err = todos.InsertMany(ctx, []any{
		engine.M{"_id": "1", "title": "milk", "isDone": false},
		engine.M{"_id": "2", "title": "bread", "isDone": false},
		engine.M{"_id": "3", "title": "eggs", "isDone": true},
	})
	if err != nil {
		panic(err)
	}
	_, err = todos.UpdateOne(ctx, engine.M{"title": "milk"}, engine.M{"$set": engine.M{"isDone": true}})
	if err != nil {
		panic(err)
	}

	type todo struct {
		Title  string `json:"title"`
		IsDone bool   `json:"isDone"`
	}
	cur, err := todos.Find(ctx, engine.M{"isDone": true}, query.Sort("title", 1))
	if err != nil {
		panic(err)
	}
	for cur.Next(ctx) {
		var t todo
		if err := cur.Decode(&t); err != nil {
			panic(err)
		}
		fmt.Println(t.Title, t.IsDone)
	}
	n, _ := todos.CountDocuments(ctx, engine.M{"isDone": false})
	fmt.Println("left:", n)
	// Output:
	// eggs true
	// milk true
	// left: 1
}

// Two peers replicate a database: one creates it, the other opens it by
// address, and each sees the other's writes.
func ExampleEngine_Open() {
	ctx := context.Background()
	newPeer := func() *engine.Engine {
		e, err := engine.New(ctx, engine.WithInMemory(), engine.WithListenAddrs("/ip4/127.0.0.1/tcp/0"))
		if err != nil {
			panic(err)
		}
		return e
	}
	laptop, phone := newPeer(), newPeer()
	defer laptop.Close()
	defer phone.Close()
	if err := phone.Connect(ctx, peer.AddrInfo{ID: laptop.ID(), Addrs: laptop.Host().Addrs()}); err != nil {
		panic(err)
	}

	dbL, err := laptop.Create(ctx, "shared", engine.WithAccess(accesscontrol.Open()))
	if err != nil {
		panic(err)
	}
	// Open fetches the manifest from connected peers: bound the wait.
	openCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	dbP, err := phone.Open(openCtx, dbL.Address())
	if err != nil {
		panic(err)
	}
	events := dbP.Events(ctx)
	if _, err := dbL.Collection("notes").InsertOne(ctx, engine.M{"_id": "n1", "text": "hello from the laptop"}); err != nil {
		panic(err)
	}
	// Wait for the replicated write to arrive on the phone.
	timeout := time.After(60 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.Type != engine.EventReplicated {
				continue
			}
			var note engine.M
			if err := dbP.Collection("notes").FindByID(ctx, ev.ID).Decode(&note); err != nil {
				panic(err)
			}
			fmt.Println(note["text"])
			return
		case <-timeout:
			fmt.Println("timed out")
			return
		}
	}
	// Output:
	// hello from the laptop
}

// Concurrent increments on two replicas add up: $inc makes a field a
// counter.
func ExampleCollection_UpdateOne_counter() {
	ctx := context.Background()
	e, err := engine.New(ctx, engine.WithInMemory(), engine.WithListenAddrs("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		panic(err)
	}
	defer e.Close()
	db, _ := e.Create(ctx, "stats")
	pages := db.Collection("pages")
	_, _ = pages.InsertOne(ctx, engine.M{"_id": "home", "views": 0})
	for i := 0; i < 3; i++ {
		_, _ = pages.UpdateOne(ctx, engine.M{"_id": "home"}, engine.M{"$inc": engine.M{"views": 1}})
	}
	var page engine.M
	_ = pages.FindByID(ctx, "home").Decode(&page)
	fmt.Println(page["views"])
	// Output: 3
}
