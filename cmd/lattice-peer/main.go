//go:build js

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"syscall/js"

	ds "github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/invitegrant"
	"github.com/latticedb/lattice/internal/store/indexeddb"
	"github.com/latticedb/lattice/query"
	"github.com/latticedb/lattice/transports/browser"
)

// peerState is the page's one peer, made by start.
type peerState struct {
	mu    sync.Mutex
	e     *engine.Engine
	h     host.Host
	store *indexeddb.Datastore
	dbs   map[string]*engine.Database
}

var state peerState

func main() {
	api := js.Global().Get("Object").New()
	for name, f := range map[string]func(args []js.Value) (any, error){
		"start":          start,
		"connect":        connect,
		"checkInvite":    checkInvite,
		"redeem":         redeem,
		"open":           open,
		"insertOne":      insertOne,
		"find":           find,
		"updateOne":      updateOne,
		"deleteOne":      deleteOne,
		"countDocuments": countDocuments,
		"subscribe":      subscribe,
		"peers":          peers,
	} {
		api.Set(name, js.FuncOf(func(_ js.Value, args []js.Value) any { return promise(func() (any, error) { return f(args) }) }))
	}
	js.Global().Set("latticeGo", api)
	if cb := js.Global().Get("latticeGoReady"); cb.Type() == js.TypeFunction {
		cb.Invoke()
	}
	select {} // the page ends the program
}

// promise runs f on a goroutine of its own (a JavaScript call must never
// block) and settles a Promise with its result or error.
func promise(f func() (any, error)) js.Value {
	var exec js.Func
	exec = js.FuncOf(func(_ js.Value, args []js.Value) any {
		resolve, reject := args[0], args[1]
		go func() {
			v, err := func() (v any, err error) {
				defer func() {
					if r := recover(); r != nil {
						err = fmt.Errorf("lattice: %v", r)
					}
				}()
				return f()
			}()
			if err != nil {
				reject.Invoke(js.Global().Get("Error").New(err.Error()))
				return
			}
			resolve.Invoke(v)
		}()
		return nil
	})
	p := js.Global().Get("Promise").New(exec)
	exec.Release()
	return p
}

func arg(args []js.Value, i int) string {
	if i >= len(args) || args[i].Type() != js.TypeString {
		return ""
	}
	return args[i].String()
}

// start({name}) opens (or creates) the peer kept in IndexedDB under name
// and resolves with {"peer": <peer ID>}. Calling it again returns the
// running peer.
func start(args []js.Value) (any, error) {
	var o struct{ Name string }
	if s := arg(args, 0); s != "" {
		if err := json.Unmarshal([]byte(s), &o); err != nil {
			return nil, fmt.Errorf("lattice: start: %w", err)
		}
	}
	if o.Name == "" {
		o.Name = "lattice"
	}
	state.mu.Lock()
	defer state.mu.Unlock()
	if state.e != nil {
		return jsonString(map[string]any{"peer": state.e.ID().String()})
	}
	ctx := context.Background()
	store, err := indexeddb.Open(ctx, o.Name, indexeddb.Options{})
	if err != nil {
		return nil, err
	}
	key, err := identity(ctx, o.Name+"-identity")
	if err != nil {
		_ = store.Close()
		return nil, err
	}
	h, err := browser.NewHost(browser.HostConfig{Identity: key})
	if err != nil {
		_ = store.Close()
		return nil, err
	}
	e, err := engine.New(ctx, engine.WithDatastore(store), engine.WithHost(h))
	if err != nil {
		_ = h.Close()
		_ = store.Close()
		return nil, err
	}
	state.e, state.h, state.store, state.dbs = e, h, store, map[string]*engine.Database{}
	return jsonString(map[string]any{"peer": e.ID().String()})
}

// identity loads the peer's key from its own IndexedDB database, making
// one the first time. (The key is extractable: libp2p signs in Go, not
// with WebCrypto. Clearing the site's storage loses it, and the page comes
// back as a new peer.)
func identity(ctx context.Context, name string) (crypto.PrivKey, error) {
	d, err := indexeddb.Open(ctx, name, indexeddb.Options{Strict: true})
	if err != nil {
		return nil, err
	}
	defer d.Close()
	k := ds.NewKey("/identity")
	raw, err := d.Get(ctx, k)
	if err == nil {
		return crypto.UnmarshalPrivateKey(raw)
	}
	if !errors.Is(err, ds.ErrNotFound) {
		return nil, err
	}
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		return nil, err
	}
	raw, err = crypto.MarshalPrivateKey(key)
	if err != nil {
		return nil, err
	}
	if err := d.Put(ctx, k, raw); err != nil {
		return nil, err
	}
	return key, nil
}

func running() (*engine.Engine, error) {
	state.mu.Lock()
	defer state.mu.Unlock()
	if state.e == nil {
		return nil, errors.New("lattice: not started (call lattice.start first)")
	}
	return state.e, nil
}

// connect({peer, addrs}) dials a peer at its WebSocket addresses (others
// are ignored: a page speaks only WebSocket).
func connect(args []js.Value) (any, error) {
	e, err := running()
	if err != nil {
		return nil, err
	}
	var o struct {
		Peer  string
		Addrs []string
	}
	if err := json.Unmarshal([]byte(arg(args, 0)), &o); err != nil {
		return nil, fmt.Errorf("lattice: connect: %w", err)
	}
	id, err := peer.Decode(o.Peer)
	if err != nil {
		return nil, fmt.Errorf("lattice: connect: bad peer ID: %w", err)
	}
	info := peer.AddrInfo{ID: id}
	for _, s := range o.Addrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			continue
		}
		if tr, _ := peer.SplitAddr(a); tr != nil {
			a = tr
		}
		info.Addrs = append(info.Addrs, a)
	}
	// A dial the page asks for is worth making now: the swarm backs off
	// from a peer whose dials failed (while the browser was offline, say),
	// and would refuse it for seconds after the network is back.
	state.mu.Lock()
	h := state.h
	state.mu.Unlock()
	if sw, ok := h.Network().(*swarm.Swarm); ok {
		sw.Backoff().Clear(id)
	}
	if err := e.Connect(context.Background(), info); err != nil {
		return nil, fmt.Errorf("lattice: could not reach %s: %w", id, err)
	}
	return nil, nil
}

// redeem(json {peer, key, db}) redeems an invite link's one-time key with
// its inviter (connected): on a list whose members are named, that makes
// this page's peer a member. Resolves with the role granted; rejects with
// the inviter's reason (used, expired) when it refuses.
func redeem(args []js.Value) (any, error) {
	e, err := running()
	if err != nil {
		return nil, err
	}
	var o struct {
		Peer, Key, DB string
	}
	if err := json.Unmarshal([]byte(arg(args, 0)), &o); err != nil {
		return nil, fmt.Errorf("lattice: redeem: %w", err)
	}
	id, err := peer.Decode(o.Peer)
	if err != nil {
		return nil, fmt.Errorf("lattice: redeem: bad peer ID: %w", err)
	}
	return invitegrant.Claim(context.Background(), e.Host(), id, o.Key, o.DB)
}

// checkInvite(json {peer, addrs, db}) checks an invite link's parts as the
// engine will read them, and rejects with the first that is not valid:
// a page given a bad link says so before it tries to join.
func checkInvite(args []js.Value) (any, error) {
	var o struct {
		Peer  string
		Addrs []string
		DB    string
	}
	if err := json.Unmarshal([]byte(arg(args, 0)), &o); err != nil {
		return nil, fmt.Errorf("lattice: invite: %w", err)
	}
	if _, err := peer.Decode(o.Peer); err != nil {
		return nil, fmt.Errorf("the invite link's peer ID %q is not valid: %w", o.Peer, err)
	}
	for _, s := range o.Addrs {
		if _, err := ma.NewMultiaddr(s); err != nil {
			return nil, fmt.Errorf("the invite link's address %q is not valid: %w", s, err)
		}
	}
	if _, err := engine.ParseAddress(o.DB); err != nil {
		return nil, fmt.Errorf("the invite link's database address is not valid: %w", err)
	}
	return "ok", nil
}

// open(address) opens a database (from the local store when it was open
// before, else from the connected peers) and resolves with its address.
func open(args []js.Value) (any, error) {
	e, err := running()
	if err != nil {
		return nil, err
	}
	addr := arg(args, 0)
	state.mu.Lock()
	db, ok := state.dbs[addr]
	state.mu.Unlock()
	if ok {
		return db.Address(), nil
	}
	db, err = e.Open(context.Background(), addr)
	if err != nil {
		return nil, err
	}
	state.mu.Lock()
	if old, ok := state.dbs[addr]; ok {
		db = old
	} else {
		state.dbs[addr] = db
	}
	state.mu.Unlock()
	return db.Address(), nil
}

// collection finds the collection of an open database.
func collection(args []js.Value) (*engine.Collection, error) {
	addr, name := arg(args, 0), arg(args, 1)
	state.mu.Lock()
	db, ok := state.dbs[addr]
	state.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("lattice: database %s is not open", addr)
	}
	if name == "" {
		return nil, errors.New("lattice: no collection name")
	}
	return db.Collection(name), nil
}

// decode parses a JSON object argument; empty means {}.
func decode(args []js.Value, i int) (engine.M, error) {
	s := arg(args, i)
	if s == "" {
		return engine.M{}, nil
	}
	var m engine.M
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("lattice: bad JSON argument: %w", err)
	}
	if m == nil {
		m = engine.M{}
	}
	return m, nil
}

// collectionAnd returns the collection args name (db, coll) and the n
// JSON documents that follow them.
func collectionAnd(args []js.Value, n int) (*engine.Collection, []engine.M, error) {
	c, err := collection(args)
	if err != nil {
		return nil, nil, err
	}
	docs := make([]engine.M, n)
	for i := range docs {
		if docs[i], err = decode(args, 2+i); err != nil {
			return nil, nil, err
		}
	}
	return c, docs, nil
}

func insertOne(args []js.Value) (any, error) {
	c, d, err := collectionAnd(args, 1)
	if err != nil {
		return nil, err
	}
	res, err := c.InsertOne(context.Background(), d[0])
	if err != nil {
		return nil, err
	}
	return jsonString(map[string]any{"insertedId": res.InsertedID})
}

// find(db, coll, filter, {sort: {field: 1|-1}, limit}) resolves with the
// matching documents as a JSON array.
func find(args []js.Value) (any, error) {
	c, d, err := collectionAnd(args, 1)
	if err != nil {
		return nil, err
	}
	var o struct {
		Sort  map[string]int
		Limit int64
	}
	if s := arg(args, 3); s != "" {
		if err := json.Unmarshal([]byte(s), &o); err != nil {
			return nil, fmt.Errorf("lattice: find options: %w", err)
		}
	}
	var opts []query.Option
	for k, dir := range o.Sort {
		opts = append(opts, query.Sort(k, dir))
	}
	if o.Limit > 0 {
		opts = append(opts, query.Limit(o.Limit))
	}
	ctx := context.Background()
	cur, err := c.Find(ctx, d[0], opts...)
	if err != nil {
		return nil, err
	}
	var docs []engine.M
	if err := cur.All(ctx, &docs); err != nil {
		return nil, err
	}
	if docs == nil {
		docs = []engine.M{}
	}
	return jsonString(docs)
}

func updateOne(args []js.Value) (any, error) {
	c, d, err := collectionAnd(args, 2)
	if err != nil {
		return nil, err
	}
	res, err := c.UpdateOne(context.Background(), d[0], d[1])
	if err != nil {
		return nil, err
	}
	return jsonString(map[string]any{"matchedCount": res.MatchedCount, "modifiedCount": res.ModifiedCount})
}

func deleteOne(args []js.Value) (any, error) {
	c, d, err := collectionAnd(args, 1)
	if err != nil {
		return nil, err
	}
	res, err := c.DeleteOne(context.Background(), d[0])
	if err != nil {
		return nil, err
	}
	return jsonString(map[string]any{"deletedCount": res.DeletedCount})
}

func countDocuments(args []js.Value) (any, error) {
	c, d, err := collectionAnd(args, 1)
	if err != nil {
		return nil, err
	}
	return c.CountDocuments(context.Background(), d[0])
}

// subscribe(db, callback) calls callback with each event of the database
// (a JSON string: {"type": "write"|"replicated"|"peer-joined"|..., ...})
// until the page ends.
func subscribe(args []js.Value) (any, error) {
	addr := arg(args, 0)
	if len(args) < 2 || args[1].Type() != js.TypeFunction {
		return nil, errors.New("lattice: subscribe needs a callback")
	}
	cb := args[1]
	state.mu.Lock()
	db, ok := state.dbs[addr]
	state.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("lattice: database %s is not open", addr)
	}
	ch := db.Events(context.Background())
	go func() {
		for ev := range ch {
			b, err := json.Marshal(ev)
			if err == nil {
				cb.Invoke(string(b))
			}
		}
	}()
	return nil, nil
}

// peers resolves with the IDs of the connected peers.
func peers([]js.Value) (any, error) {
	e, err := running()
	if err != nil {
		return nil, err
	}
	_ = e
	state.mu.Lock()
	h := state.h
	state.mu.Unlock()
	var out []string
	for _, p := range h.Network().Peers() {
		out = append(out, p.String())
	}
	if out == nil {
		out = []string{}
	}
	return jsonString(out)
}

func jsonString(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}
