package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/latticedb/lattice/engine"
)

// Node serves one engine over HTTP. Create it with New; it is safe for
// concurrent use. It does not own the engine: Close the node, then the engine.
type Node struct {
	e       *engine.Engine
	cfg     Config
	log     hclog.Logger
	handler http.Handler
	metrics *metrics
	invites *inviteTopic
	keys    *inviteKeys // invite keys handed out (invite_key.go)
	streams *streamLimiter
	tickets *tickets

	ctx    context.Context // ends when the node closes; parent of every request
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	servers []*http.Server
	dbs     map[string]*engine.Database // open databases, by address
	opening int                         // databases being opened, admitted by admitDatabase
	// reopening holds the stored databases still being reopened after
	// the start, by address: the channel closes when that attempt ends
	// (reopen.go).
	reopening map[string]chan struct{}
	recent    []string        // addresses, most recently used first
	left      map[string]bool // addresses left with their data kept (POST /v1/databases/leave)

	closeOnce sync.Once
	closeErr  error
}

// New wraps an engine. It reopens every database stored on the engine (a node
// restarts with the databases it had) in the background, so the API answers
// at once however large they are: a request about one still reopening waits
// for it up to Config.ReopenWait, then answers 503 "opening". When the
// engine exposes its pubsub, New starts announcing shared databases on its
// invite topic.
func New(ctx context.Context, e *engine.Engine, cfg Config) (*Node, error) {
	if e == nil {
		return nil, fmt.Errorf("%w: nil engine", ErrBadConfig)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := &Node{e: e, cfg: cfg, log: cfg.Logger, dbs: make(map[string]*engine.Database), left: make(map[string]bool),
		streams: newStreamLimiter(cfg.MaxStreams, cfg.MaxStreamsPerClient), tickets: newTickets()}
	if n.log == nil {
		n.log = hclog.NewNullLogger()
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.loadState()

	infos, err := e.Databases(ctx)
	if err != nil {
		n.cancel()
		return nil, fmt.Errorf("node: list databases: %w", err)
	}
	n.startReopening(infos)

	// libp2p allows one pubsub per host: the invite topic uses the
	// engine's.
	inv, err := startInviteTopic(e.ID(), e.PubSub(), cfg.AnnounceInterval, n.log.Named("invites"))
	if err != nil {
		n.cancel()
		return nil, err
	}
	n.invites = inv
	clock := cfg.Clock
	if clock == nil {
		clock = time.Now
	}
	n.keys = newInviteKeys(cfg.StateDir, clock, n.log.Named("invites"))
	n.serveGrants(e.Host())
	n.metrics = newMetrics(n)
	n.handler = n.routes()
	return n, nil
}

// Engine is the engine the node serves.
func (n *Node) Engine() *engine.Engine { return n.e }

// Handler is the node's HTTP handler: the API, the event streams, the
// metrics and the web app. It applies the token, loopback, body-size and
// cross-origin rules itself, so it can be mounted on any server; Serve also
// refuses a non-loopback listener without a token.
func (n *Node) Handler() http.Handler { return n.handler }

// Serve serves the node on ln until Close, then returns nil. Without a token
// it refuses (ErrTokenRequired) a listener whose address is not loopback.
func (n *Node) Serve(ln net.Listener) error {
	if n.cfg.Token == "" && !isLoopbackAddr(ln.Addr()) {
		return fmt.Errorf("%w (listener %s)", ErrTokenRequired, ln.Addr())
	}
	return n.serve(ln, n.handler)
}

// server is an HTTP server of h with the node's timeouts and context.
func (n *Node) server(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: n.cfg.ReadHeaderTimeout,
		ReadTimeout:       n.cfg.ReadTimeout,
		WriteTimeout:      n.cfg.WriteTimeout, // per write for event streams
		IdleTimeout:       n.cfg.IdleTimeout,
		BaseContext:       func(net.Listener) context.Context { return n.ctx },
		ErrorLog:          n.log.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}),
	}
}

// Close stops every server started by Serve or ServePeerApp, ends the event streams and
// stops the invite announcer. Databases stay open on the engine. Idempotent.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		n.mu.Lock()
		n.closed = true
		servers := n.servers
		n.mu.Unlock()
		n.cancel() // ends event streams, which are requests on n.ctx
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var errs []error
		for _, srv := range servers {
			if err := srv.Shutdown(ctx); err != nil {
				errs = append(errs, srv.Close())
			}
		}
		n.e.Host().RemoveStreamHandler(InviteGrantProtocol)
		errs = append(errs, n.invites.close())
		n.wg.Wait()
		n.closeErr = errors.Join(errs...)
	})
	return n.closeErr
}

// database returns the open database at address. A database stored on the
// engine but not open is opened (its manifest is local, so this is fast);
// an unknown one is ErrNoDatabase: use create, open or join first.
func (n *Node) database(ctx context.Context, address string) (*engine.Database, error) {
	if address == "" {
		return nil, errorf(http.StatusBadRequest, "bad_request", "missing field \"database\"")
	}
	if _, err := engine.ParseAddress(address); err != nil {
		return nil, err
	}
	if err := n.awaitReopen(ctx, address); err != nil {
		return nil, err
	}
	n.mu.Lock()
	db, left := n.dbs[address], n.left[address]
	n.mu.Unlock()
	if db != nil {
		return db, nil
	}
	if left {
		return nil, errorf(http.StatusNotFound, "not_found", "database %s was left on this node: open or join it again first", address)
	}
	infos, err := n.e.Databases(ctx)
	if err != nil {
		return nil, err
	}
	for _, info := range infos {
		if info.Address == address {
			done, err := n.admitDatabase(address)
			if err != nil {
				return nil, err
			}
			defer done()
			db, err := n.e.Open(ctx, address)
			if err != nil {
				return nil, err
			}
			n.remember(db, false)
			return db, nil
		}
	}
	return nil, fmt.Errorf("%w: %s (create, open or join it first)", engine.ErrNoDatabase, address)
}

// admitDatabase admits opening (or creating) the database at address,
// which may be empty when it is not known yet: one already open is always
// admitted; another only while fewer than MaxDatabases are open or being
// opened. The caller calls done once the database is open (and
// remembered) or has failed to open.
func (n *Node) admitDatabase(address string) (done func(), err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.dbs[address]; ok && address != "" {
		return func() {}, nil
	}
	if len(n.dbs)+n.opening >= n.cfg.MaxDatabases {
		return nil, errorf(http.StatusServiceUnavailable, "too_many_databases",
			"this node has %d databases open, the most it keeps open (--max-databases)", n.cfg.MaxDatabases)
	}
	n.opening++
	var once sync.Once
	return func() {
		once.Do(func() {
			n.mu.Lock()
			n.opening--
			n.mu.Unlock()
		})
	}, nil
}

// remember records an open database and, when used is set, moves it to the
// front of the recently used list and takes it off the left ones.
func (n *Node) remember(db *engine.Database, used bool) {
	n.mu.Lock()
	n.dbs[db.Address()] = db
	if used {
		delete(n.left, db.Address())
		n.recent = slices.DeleteFunc(n.recent, func(a string) bool { return a == db.Address() })
		n.recent = slices.Insert(n.recent, 0, db.Address())
		if len(n.recent) > 100 {
			n.recent = n.recent[:100]
		}
	}
	st := n.stateLocked()
	n.mu.Unlock()
	if used {
		n.saveState(st)
	}
}

// forget takes a database off the open and recently used ones; with keep
// set it is marked left (its data stays), otherwise it is unmarked (its
// data is going).
func (n *Node) forget(address string, keep bool) {
	n.mu.Lock()
	delete(n.dbs, address)
	n.recent = slices.DeleteFunc(n.recent, func(a string) bool { return a == address })
	if keep {
		n.left[address] = true
	} else {
		delete(n.left, address)
	}
	st := n.stateLocked()
	n.mu.Unlock()
	n.saveState(st)
}

// stateLocked is what node.json holds now. n.mu must be held.
func (n *Node) stateLocked() nodeState {
	st := nodeState{Recent: slices.Clone(n.recent)}
	for a := range n.left {
		st.Left = append(st.Left, a)
	}
	slices.Sort(st.Left)
	return st
}

// openDatabases returns the databases the node has open.
func (n *Node) openDatabases() []*engine.Database {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]*engine.Database, 0, len(n.dbs))
	for _, db := range n.dbs {
		out = append(out, db)
	}
	return out
}

// nodeState is node.json.
type nodeState struct {
	Recent []string `json:"recent"`
	// Left are databases left on this node with their data kept: not
	// reopened at start, not served until opened or joined again.
	Left []string `json:"left,omitempty"`
}

func (n *Node) loadState() {
	if n.cfg.StateDir == "" {
		return
	}
	b, err := os.ReadFile(filepath.Join(n.cfg.StateDir, "node.json"))
	if err != nil {
		return
	}
	var st nodeState
	if err := json.Unmarshal(b, &st); err != nil {
		n.log.Warn("ignoring unreadable node.json", "error", err)
		return
	}
	n.recent = st.Recent
	for _, a := range st.Left {
		n.left[a] = true
	}
}

func (n *Node) saveState(st nodeState) {
	if n.cfg.StateDir == "" {
		return
	}
	b, _ := json.MarshalIndent(st, "", "  ")
	path := filepath.Join(n.cfg.StateDir, "node.json")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		n.log.Warn("cannot save node state", "error", err)
		return
	}
	if err := os.Rename(tmp, path); err != nil {
		n.log.Warn("cannot save node state", "error", err)
	}
}

// isLoopbackAddr reports whether a listener address is on loopback.
func isLoopbackAddr(a net.Addr) bool {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.IP.IsLoopback()
	case *net.UnixAddr:
		return true
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return false
	}
	return isLoopbackHost(host)
}

// isLoopbackHost reports whether a host name or IP is loopback.
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
