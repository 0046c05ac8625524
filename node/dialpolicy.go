package node

import (
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/connmgr"

	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/dialpolicy"
)

// DialPolicyConfig configures DialPolicy: the node's listen addresses,
// whether local dials are allowed, and the trusted peers (see
// internal/dialpolicy for the rules).
type DialPolicyConfig = dialpolicy.Config

// DialPolicy returns the engine option that puts the dial policy for
// addresses from outside (invite links, peers' announcements; see
// internal/dialpolicy) on the engine's libp2p host, composed with any
// other gaters (a host takes one). It is the one place where the policy
// meets the engine: `lattice node` and the tests build their engines with
// it.
//
// The node cannot install the policy itself: New receives an engine whose
// host is already built.
func DialPolicy(c DialPolicyConfig, others ...connmgr.ConnectionGater) engine.Option {
	gs := append([]connmgr.ConnectionGater{dialpolicy.New(c)}, others...)
	return engine.WithLibp2pOptions(libp2p.ConnectionGater(dialpolicy.Chain(gs...)))
}
