// Command lattice-peer is the Lattice peer of a web page: the engine,
// replication, CRDTs, queries and access control of a Go node, compiled to
// WebAssembly (GOOS=js GOARCH=wasm), keeping its data and its identity in
// the browser's IndexedDB and reaching Go nodes and relays over WebSocket.
//
// Build it with
//
//	GOOS=js GOARCH=wasm go build -o lattice.wasm ./cmd/lattice-peer
//
// and load it with Go's wasm_exec.js and node/web/peer/lattice.js, the
// JavaScript API a page uses (documented there): lattice.start(),
// lattice.connect(), lattice.open(), db.collection(name).insertOne/find/
// updateOne/deleteOne/countDocuments, db.on(callback). lattice node serves
// it all at /peer/ (lattice node --peer-assets DIR, with DIR holding
// lattice.wasm and wasm_exec.js; scripts/build-peer.sh makes DIR).
//
// The program itself only installs globalThis.latticeGo, the low-level
// functions lattice.js wraps: each takes and returns JSON strings and
// returns a Promise; nothing in it blocks the page's event loop.
package main
