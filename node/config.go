package node

import (
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Config tunes a Node. Start from DefaultConfig.
type Config struct {
	// Token, when set, is the bearer token every /v1 route and /metrics
	// requires. Without it the node serves loopback only.
	Token string
	// MaxBodyBytes bounds request bodies; larger bodies get 413.
	MaxBodyBytes int64
	// Heartbeat is the interval of the comment lines that keep event
	// streams alive through proxies.
	Heartbeat time.Duration
	// OpenTimeout bounds fetching a database's manifest from peers when a
	// database is opened or joined.
	OpenTimeout time.Duration
	// ConnectTimeout bounds dialing a peer.
	ConnectTimeout time.Duration
	// AnnounceInterval is how often databases shared by invite are announced
	// on the inviter's topic (they are also announced when a peer joins it).
	AnnounceInterval time.Duration
	// StateDir, when set, is where the node keeps node.json, the list of
	// databases most recently created, opened or joined, so the web app finds
	// its list again after a restart. Empty keeps it in memory.
	StateDir string
	// Logger receives the node's logs; nil discards them.
	Logger hclog.Logger
}

// DefaultConfig returns the default configuration: no token (loopback only),
// 4 MiB bodies, a heartbeat every 15 s, 30 s to open a database and 15 s to
// dial a peer.
func DefaultConfig() Config {
	return Config{
		MaxBodyBytes:     4 << 20,
		Heartbeat:        15 * time.Second,
		OpenTimeout:      30 * time.Second,
		ConnectTimeout:   15 * time.Second,
		AnnounceInterval: 10 * time.Second,
	}
}

// Validate reports an unusable configuration, wrapping ErrBadConfig.
func (c Config) Validate() error {
	switch {
	case c.MaxBodyBytes <= 0:
		return fmt.Errorf("%w: MaxBodyBytes must be positive", ErrBadConfig)
	case c.Heartbeat <= 0:
		return fmt.Errorf("%w: Heartbeat must be positive", ErrBadConfig)
	case c.OpenTimeout <= 0 || c.ConnectTimeout <= 0:
		return fmt.Errorf("%w: timeouts must be positive", ErrBadConfig)
	case c.AnnounceInterval <= 0:
		return fmt.Errorf("%w: AnnounceInterval must be positive", ErrBadConfig)
	case c.Token != "" && len(c.Token) < 16:
		return fmt.Errorf("%w: the API token must be at least 16 characters", ErrBadConfig)
	}
	return nil
}
