//go:build js

package store

import (
	"errors"

	"github.com/hashicorp/go-hclog"
)

// ErrNoDisk is returned by Open in a build without pebble (js/wasm): such
// a build keeps its data in memory (InMemory) or in a store its embedder
// provides.
var ErrNoDisk = errors.New("store: no on-disk store in this build")

// Open fails in this build (see ErrNoDisk).
func Open(string, bool, hclog.Logger, Sizes) (*Store, error) { return nil, ErrNoDisk }

// walFS is pebble's WAL file system (durability.go), absent here.
type walFS struct{}
