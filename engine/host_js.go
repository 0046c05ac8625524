//go:build js

package engine

import (
	"fmt"

	"github.com/hashicorp/go-hclog"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
)

// A js/wasm build has no transports of its own (go-libp2p's defaults do
// not build there) and no pebble: the engine runs on a host given with
// WithHost, in memory (WithInMemory). See host_native.go.

// netConfig holds no host options in this build.
type netConfig struct{}

func (n *netConfig) set() bool { return false }

// buildHost fails: this build cannot make a host.
func buildHost(*config, crypto.PrivKey, hclog.Logger) (host.Host, error) {
	return nil, fmt.Errorf("%w: this build has no transports; give the engine a host with WithHost", ErrBadOption)
}
