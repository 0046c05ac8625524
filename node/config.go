package node

import (
	"fmt"
	"io/fs"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Config tunes a Node. Start from DefaultConfig.
type Config struct {
	// PeerAssets holds lattice.wasm and wasm_exec.js, the browser peer the
	// page at /peer/ loads (scripts/build-peer.sh builds them); nil serves
	// the page without them.
	PeerAssets fs.FS
	// Token, when set, is the bearer token every /v1 route and /metrics
	// requires, in the Authorization header only. Without it the node
	// serves loopback only.
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
	// Clock dates invite keys and their expiry; nil is time.Now.
	Clock func() time.Time
	// Logger receives the node's logs; nil discards them.
	Logger hclog.Logger

	// ReadHeaderTimeout bounds reading a request's headers, ReadTimeout
	// the whole request with its body, WriteTimeout the time from the end
	// of the request's headers to the end of the response (event streams,
	// once admitted, lift the read deadline and bound each of their writes
	// by WriteTimeout instead of the whole stream), and IdleTimeout
	// how long a keep-alive connection may wait for its next request.
	// They apply to servers started by Serve.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration

	// MaxStreams bounds the event streams open at once (past it: 503
	// too_many_streams); a sixteenth of them (at least one) is kept for
	// the node's own web app, whose browser marks its requests
	// Sec-Fetch-Site: same-origin. MaxStreamsPerClient bounds them per
	// client IP address, counting the app's streams and other ones apart
	// (past it: 429 too_many_streams).
	MaxStreams          int
	MaxStreamsPerClient int
	// MaxDatabases bounds the databases the node keeps open; creating,
	// opening or joining one more answers 503 too_many_databases.
	MaxDatabases int
	// QueryTimeout is the time limit of find, findOne, countDocuments and
	// distinct, and the largest maxTimeMS a request may ask for. It must
	// be shorter than WriteTimeout, so that the timeout error reaches the
	// client.
	QueryTimeout time.Duration
	// ReopenWait bounds how long a request about a database that is still
	// reopening after the node's start waits for it before answering 503
	// "opening" (with Retry-After); the request's own context can end the
	// wait sooner. Zero answers 503 at once.
	ReopenWait time.Duration

	// reopenHook, when set (tests), runs before each database is reopened
	// at start, on the goroutine that reopens them.
	reopenHook func(address string)
}

// DefaultConfig returns the default configuration: no token (loopback only),
// 4 MiB bodies, a heartbeat every 15 s, 30 s to open a database, 15 s to
// dial a peer; 10 s to read request headers, 60 s to read a request, 2 min
// to write a response, 60 s of keep-alive idleness; 256 event streams, 16
// per client; 256 open databases; 30 s per query.
func DefaultConfig() Config {
	return Config{
		MaxBodyBytes:        4 << 20,
		Heartbeat:           15 * time.Second,
		OpenTimeout:         30 * time.Second,
		ConnectTimeout:      15 * time.Second,
		AnnounceInterval:    10 * time.Second,
		ReadHeaderTimeout:   10 * time.Second,
		ReadTimeout:         60 * time.Second,
		WriteTimeout:        2 * time.Minute,
		IdleTimeout:         60 * time.Second,
		MaxStreams:          256,
		MaxStreamsPerClient: 16,
		MaxDatabases:        256,
		QueryTimeout:        30 * time.Second,
		ReopenWait:          5 * time.Second,
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
	case c.ReadHeaderTimeout <= 0 || c.ReadTimeout <= 0 || c.WriteTimeout <= 0 || c.IdleTimeout <= 0:
		return fmt.Errorf("%w: HTTP server timeouts must be positive (nothing may hold a connection forever)", ErrBadConfig)
	case c.MaxStreams <= 0 || c.MaxStreamsPerClient <= 0:
		return fmt.Errorf("%w: MaxStreams and MaxStreamsPerClient must be positive", ErrBadConfig)
	case c.MaxDatabases <= 0:
		return fmt.Errorf("%w: MaxDatabases must be positive", ErrBadConfig)
	case c.ReopenWait < 0:
		return fmt.Errorf("%w: ReopenWait must not be negative", ErrBadConfig)
	case c.QueryTimeout <= 0:
		return fmt.Errorf("%w: QueryTimeout must be positive", ErrBadConfig)
	case c.QueryTimeout >= c.WriteTimeout:
		return fmt.Errorf("%w: QueryTimeout (%s) must be shorter than WriteTimeout (%s)", ErrBadConfig, c.QueryTimeout, c.WriteTimeout)
	}
	return nil
}
