// Package browser is the network of a Lattice peer that runs in a web
// page (GOOS=js GOARCH=wasm): a libp2p transport over the browser's own
// WebSocket (through syscall/js), and NewHost, which assembles a libp2p
// host from go-libp2p's lower-level parts (basic host, swarm, Noise,
// yamux) around it, since libp2p.New pulls in transports that do not
// build for the browser.
//
// A page cannot listen: a browser peer dials out to Go nodes and relays
// that listen on WebSocket (lattice node and lattice relay do by default)
// and is reached by others through them. Plain /ws addresses work from a
// page served over http; a page served over https may dial only /wss (or
// /tls/ws) addresses, that is a listener with a certificate the browser
// trusts.
//
// Everything but URL needs GOOS=js; the tests run the package's wasm test
// binary in a real Chromium against Go nodes (see browser_test.go).
package browser
