//go:build js

package browser

import (
	"fmt"

	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/sec"
	basichost "github.com/libp2p/go-libp2p/p2p/host/basic"
	"github.com/libp2p/go-libp2p/p2p/host/eventbus"
	"github.com/libp2p/go-libp2p/p2p/host/peerstore/pstoremem"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	"github.com/libp2p/go-libp2p/p2p/net/upgrader"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
)

// HostConfig describes a browser peer's host.
type HostConfig struct {
	// Identity is the host's private key. Required.
	Identity crypto.PrivKey
	// Gater, if set, judges every connection (a dial policy).
	Gater connmgr.ConnectionGater
	// UserAgent is what identify tells peers; empty means
	// "lattice-browser".
	UserAgent string
}

// NewHost builds and starts a host for a page: it dials WebSocket
// addresses (and relay circuits through a relay it reaches over
// WebSocket), secures connections with Noise and multiplexes them with
// yamux, like a Go node's default host, and listens on nothing. Closing
// the host closes everything NewHost started.
func NewHost(c HostConfig) (host.Host, error) {
	if c.Identity == nil {
		return nil, fmt.Errorf("browser: host: no identity")
	}
	id, err := peer.IDFromPrivateKey(c.Identity)
	if err != nil {
		return nil, fmt.Errorf("browser: host: %w", err)
	}
	ps, err := pstoremem.NewPeerstore()
	if err != nil {
		return nil, fmt.Errorf("browser: host: %w", err)
	}
	if err := ps.AddPrivKey(id, c.Identity); err != nil {
		_ = ps.Close()
		return nil, fmt.Errorf("browser: host: %w", err)
	}
	if err := ps.AddPubKey(id, c.Identity.GetPublic()); err != nil {
		_ = ps.Close()
		return nil, fmt.Errorf("browser: host: %w", err)
	}
	bus := eventbus.NewBus()
	var swopts []swarm.Option
	if c.Gater != nil {
		swopts = append(swopts, swarm.WithConnectionGater(c.Gater))
	}
	sw, err := swarm.NewSwarm(id, ps, bus, swopts...)
	if err != nil {
		_ = ps.Close()
		return nil, fmt.Errorf("browser: host: swarm: %w", err)
	}
	muxers := []upgrader.StreamMuxer{{ID: yamux.ID, Muxer: yamux.DefaultTransport}}
	sec1, err := noise.New(noise.ID, c.Identity, muxers)
	if err != nil {
		_ = sw.Close()
		return nil, fmt.Errorf("browser: host: noise: %w", err)
	}
	up, err := upgrader.New([]sec.SecureTransport{sec1}, muxers, nil, sw.ResourceManager(), c.Gater)
	if err != nil {
		_ = sw.Close()
		return nil, fmt.Errorf("browser: host: upgrader: %w", err)
	}
	ws, _ := NewWebSocket(up, sw.ResourceManager())
	if err := sw.AddTransport(ws); err != nil {
		_ = sw.Close()
		return nil, fmt.Errorf("browser: host: %w", err)
	}
	ua := c.UserAgent
	if ua == "" {
		ua = "lattice-browser"
	}
	h, err := basichost.NewHost(sw, &basichost.HostOpts{EventBus: bus, UserAgent: ua, EnablePing: true})
	if err != nil {
		_ = sw.Close()
		return nil, fmt.Errorf("browser: host: %w", err)
	}
	if err := client.AddTransport(h, up); err != nil {
		_ = h.Close()
		return nil, fmt.Errorf("browser: host: relay client: %w", err)
	}
	h.Start()
	return h, nil
}
