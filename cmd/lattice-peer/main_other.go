//go:build !js

package main

import (
	"fmt"
	"os"
)

// main says where the program runs: it is the browser peer, built for
// GOOS=js GOARCH=wasm and loaded by a page.
func main() {
	fmt.Fprintln(os.Stderr, "lattice-peer runs in a web page: build it with GOOS=js GOARCH=wasm (scripts/build-peer.sh) and serve it with lattice node --peer-assets DIR")
	os.Exit(2)
}
