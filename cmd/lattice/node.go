package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/spf13/cobra"

	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/dialpolicy"
	"github.com/latticedb/lattice/node"
	"github.com/latticedb/lattice/transports"
)

// defaultAPI is the API and web app address of `lattice node`.
const defaultAPI = "127.0.0.1:5080"

type nodeFlags struct {
	data       string
	inMemory   bool
	api        string
	listen     []string
	relays     []string
	bootstrap  []string
	token      string
	tokenFile  string
	apiSocket  string
	peerDir    string
	peerListen string
	logLevel   string
	sync       bool
	archive    bool
	compact    float64
	transport  []string
	portmap    bool
	holepunch  string

	readHeaderTimeout, readTimeout, writeTimeout, idleTimeout, queryTimeout time.Duration
	maxStreams, maxStreamsPerClient, maxDatabases                           int
	allowLocalDials                                                         bool
	disc                                                                    discoveryFlags
}

func newNodeCmd() *cobra.Command {
	var f nodeFlags
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Run a peer with its HTTP API and the to-do web app",
		Long: `Run one Lattice peer with an on-disk store, an HTTP/JSON API for databases,
collections and documents, a server-sent-events change stream, Prometheus
metrics at /metrics, and the to-do web app at the API address.

At start it prints, one per line:
  peer: <peer ID>
  listen: <multiaddr>/p2p/<peer ID>     (one line per address)
  api: http://HOST:PORT
  app: http://HOST:PORT/                 (with #token=... when a token is set)
  peer-app: http://HOST:PORT/peer/       (with --peer-assets)
  peer-listen: http://HOST:PORT/peer/    (with --peer-listen)

By default the node listens on WebSocket too (a .../ws line): browsers dial
that. --peer-assets DIR serves the browser peer at /peer/: the to-do app
running its own replica in the page (IndexedDB), which keeps working with
no network. scripts/build-peer.sh DIR builds DIR (lattice.wasm and Go's
wasm_exec.js); invite answers then carry a "peer" link and QR code that
open it. --peer-listen HOST:PORT also serves that page, and only it, to
anyone (phones on the LAN) while the API stays on loopback: ask invites
for links on it (lattice invite --web http://LAN-IP:PORT) and use the
peer link or QR code.

The API listens on loopback by default, without a token: every local user
(and every local program) can use it, as with kubo's API. Any other address
needs a token (LATTICE_API_TOKEN, --api-token-file, or --api-token, which
other local users can read in the process list); clients then send
"Authorization: Bearer <token>". Without a token the node answers loopback
clients only.

On a machine shared with other users, --api-socket PATH serves the API on a
Unix socket only its owner may connect to (created 0600); with it, the TCP
API is served only when --api is given too. curl reaches it with
  curl --unix-socket PATH http://localhost/v1/id

A database's history grows with every write. lattice compact (or POST
/v1/databases/compact) compacts one on demand while it stays open;
--auto-compact FACTOR compacts each by itself once its new history
reaches FACTOR times its live documents. A compacted replica serves the
catch-up stream only above its snapshot (fresh peers join it from a
snapshot); --archive keeps every history whole and refuses compaction.

The data directory is made private (0700) at every start, and a node whose
identity key (DIR/identity.key) its group or others may read refuses to
start until it is "chmod 600".

--relay takes circuit relay addresses (with /p2p/<relay ID>), as printed by
lattice relay. The node keeps a reservation on each and advertises its circuit
address (<relay>/p2p/<relay ID>/p2p-circuit/p2p/<peer ID>) with its own, so
peers that cannot dial it directly (it is behind a NAT) reach it through the
relay, and share links carry that address. With a relay the node also
hole-punches (DCUtR, --holepunch auto): a peer that reached it through the
relay gets a direct connection when both NATs allow it (not with a
symmetric NAT on either side), and /v1/peers reports it "holepunched".
Once AutoNAT knows whether peers can dial the node, it prints
  reachability: public|private

--transport chooses the wires (default tcp,quic,ws; webtransport and
webrtc-direct opt in); the default listen addresses follow them.
--nat-portmap asks the home router for a port mapping (UPnP, NAT-PMP).

One node at a time uses a data directory: it holds a lock on
DIR/lattice.lock (with its pid) while it runs, and a second node on the
directory exits saying which process has it.

A write the API acknowledged survives the node being killed (kill -9); the
store's log is fsynced every 100 ms. With --sync-writes it is fsynced before
each write is acknowledged, so writes survive power loss too, at the cost of
one fsync per commit group.

Addresses that come from outside (invite links, peers' announcements) pass
a dial policy: the node does not dial loopback, link-local or unspecified
addresses unless it listens on loopback (link-local) itself or
--allow-local-dials is given; private (LAN) ranges are allowed. Peers named
by --bootstrap and --relay are trusted. A failed join says only "could not
reach the inviter"; the reason is logged (--log-level info).

The HTTP server closes connections that send headers or bodies too slowly
or idle too long (--http-*-timeout), bounds event streams (--max-streams,
--max-streams-per-client) and open databases (--max-databases), and gives
find-like actions a time limit (--query-timeout, or maxTimeMS per request).

The node stops cleanly on Ctrl-C (SIGINT) or SIGTERM.` + discoveryHelp,
		Example: `  lattice node
  lattice node --data ./alice --api 127.0.0.1:5081
  lattice node --listen /ip4/0.0.0.0/tcp/4001 --listen /ip4/0.0.0.0/udp/4001/quic-v1
  lattice node --bootstrap /ip4/192.0.2.10/tcp/4001/p2p/12D3KooW...
  lattice node --relay /ip4/203.0.113.7/tcp/4002/p2p/12D3KooW...
  lattice node --mdns
  lattice node --dht --bootstrap /ip4/192.0.2.10/tcp/4001/p2p/12D3KooW...
  lattice node --transport tcp,quic --holepunch on --nat-portmap
  LATTICE_API_TOKEN="$(openssl rand -hex 16)" lattice node --api 0.0.0.0:5080
  lattice node --api 0.0.0.0:5080 --api-token-file ~/.config/lattice-token
  lattice node --api-socket "$XDG_RUNTIME_DIR/lattice.sock"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runNode(cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.data, "data", defaultDataDir(), "data directory (store, identity key, node state)")
	fl.BoolVar(&f.inMemory, "in-memory", false, "keep everything in memory, with a throwaway identity (ignores --data)")
	fl.StringVar(&f.api, "api", defaultAPI, "HTTP API and web app address, HOST:PORT")
	fl.StringArrayVar(&f.listen, "listen", nil, "libp2p listen multiaddr, repeatable (default: each transport's, on all interfaces, random ports)")
	fl.StringArrayVar(&f.transport, "transport", nil, "transports to speak, comma-separated or repeatable: tcp, quic, ws, webtransport, webrtc-direct (default tcp,quic,ws)")
	fl.BoolVar(&f.portmap, "nat-portmap", false, "ask the router for a port mapping (UPnP IGD or NAT-PMP)")
	fl.StringVar(&f.holepunch, "holepunch", "auto", "hole punching (DCUtR) to turn relayed connections into direct ones: auto (on with --relay), on, off")
	fl.StringArrayVar(&f.relays, "relay", nil, "circuit relay multiaddr with /p2p/<relay ID> to keep a reservation on, repeatable")
	fl.StringArrayVar(&f.bootstrap, "bootstrap", nil, "peer multiaddr with /p2p/<peer ID> to connect to at start, repeatable")
	fl.StringVar(&f.token, "api-token", "", "bearer token required by the API; needed for a non-loopback --api (visible in the process list: prefer --api-token-file or LATTICE_API_TOKEN)")
	fl.StringVar(&f.tokenFile, "api-token-file", "", "file whose first line is the API token (mode 0600); default: the environment variable LATTICE_API_TOKEN")
	fl.StringVar(&f.peerDir, "peer-assets", "", "directory with lattice.wasm and wasm_exec.js (scripts/build-peer.sh makes it): serve the browser peer at /peer/")
	fl.StringVar(&f.peerListen, "peer-listen", "", "also serve the browser peer's page, and nothing else, at HOST:PORT to anyone (for phones on the LAN while the API stays on loopback; needs --peer-assets)")
	fl.StringVar(&f.apiSocket, "api-socket", "", "also serve the API on a Unix socket at PATH that only this user may use (0600); with it the TCP API is served only if --api is given")
	fl.BoolVar(&f.sync, "sync-writes", false, "fsync the store's log before acknowledging a write (survives power loss; slower)")
	fl.BoolVar(&f.archive, "archive", false, "keep every database's full history: never compact (lattice compact is refused), serve the whole history on the catch-up stream, for peers without snapshot support and for audits")
	fl.Float64Var(&f.compact, "auto-compact", 0, "compact a database by itself, off the write path, once the blocks merged since its last compaction reach FACTOR times its live documents (and 4,096); 0: only on demand (lattice compact). Ignored with --archive")
	fl.StringVar(&f.logLevel, "log-level", "warn", "log level on stderr: trace, debug, info, warn, error, off")
	def := node.DefaultConfig()
	fl.DurationVar(&f.readHeaderTimeout, "http-read-header-timeout", def.ReadHeaderTimeout, "time a client has to send a request's headers")
	fl.DurationVar(&f.readTimeout, "http-read-timeout", def.ReadTimeout, "time a client has to send a whole request, body included")
	fl.DurationVar(&f.writeTimeout, "http-write-timeout", def.WriteTimeout, "time to answer a request (event streams are exempt)")
	fl.DurationVar(&f.idleTimeout, "http-idle-timeout", def.IdleTimeout, "time a keep-alive connection may wait for its next request")
	fl.DurationVar(&f.queryTimeout, "query-timeout", def.QueryTimeout, "time limit of find, findOne, countDocuments and distinct, and the largest maxTimeMS a request may ask for")
	fl.IntVar(&f.maxStreams, "max-streams", def.MaxStreams, "event streams open at once, overall")
	fl.IntVar(&f.maxStreamsPerClient, "max-streams-per-client", def.MaxStreamsPerClient, "event streams open at once per client IP address")
	fl.IntVar(&f.maxDatabases, "max-databases", def.MaxDatabases, "databases the node keeps open")
	fl.BoolVar(&f.allowLocalDials, "allow-local-dials", false, "let invite links and peers make this node dial loopback, link-local and unspecified addresses (by default only a node listening on loopback dials loopback)")
	addDiscoveryFlags(fl, &f.disc)
	return cmd
}

// defaultDataDir is <user config dir>/lattice.
func defaultDataDir() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "lattice-data"
	}
	return filepath.Join(dir, "lattice")
}

func runNode(cmd *cobra.Command, f nodeFlags) error {
	out := cmd.OutOrStdout()
	var err error
	if f.token, err = apiToken(f.token, f.tokenFile); err != nil {
		return err
	}
	// With a socket, TCP only when asked for: the socket is for machines
	// where other users must not reach the API on loopback.
	serveTCP := f.apiSocket == "" || cmd.Flags().Changed("api")
	host, _, err := net.SplitHostPort(f.api)
	if err != nil {
		return usageErr("--api %q: want HOST:PORT", f.api)
	}
	if serveTCP && f.token == "" && !isLoopback(host) {
		return usageErr("--api %s is not a loopback address: give --api-token (or LATTICE_API_TOKEN) so that only holders of the token can use this node", f.api)
	}
	peers, err := parsePeerAddrs("--bootstrap", f.bootstrap)
	if err != nil {
		return err
	}
	relays, err := parsePeerAddrs("--relay", f.relays)
	if err != nil {
		return err
	}
	ts, err := transports.Parse(f.transport...)
	if err != nil {
		return usageErr("--transport: %v", err)
	}
	nat := transports.NATConfig{PortMap: f.portmap}
	if nat.HolePunching, err = parseSwitch(f.holepunch); err != nil {
		return usageErr("--holepunch: %v", err)
	}
	var listen []ma.Multiaddr
	for _, l := range f.listen {
		a, err := ma.NewMultiaddr(l)
		if err != nil {
			return usageErr("--listen %q: %v", l, err)
		}
		listen = append(listen, a)
	}
	// Addresses from outside (invite links, peers) pass the dial policy;
	// the peers named on the command line are trusted.
	pol := dialpolicy.Config{Listen: listen, AllowLocal: f.allowLocalDials}
	for _, p := range append(slices.Clone(peers), relays...) {
		pol.Trusted = append(pol.Trusted, p.ID)
	}

	log := hclog.New(&hclog.LoggerOptions{Name: "lattice", Level: hclog.LevelFromString(f.logLevel), Output: cmd.ErrOrStderr()})
	if f.logLevel == "off" {
		log = hclog.NewNullLogger()
	}
	opts := []engine.Option{engine.WithLogger(log), engine.WithBootstrap(peers...), engine.WithRelays(relays...), engine.WithSyncWrites(f.sync),
		node.DialPolicy(pol)}
	discOpts, err := discoveryOptions(f.disc, peers)
	if err != nil {
		return err
	}
	opts = append(opts, discOpts...)
	if f.inMemory {
		opts = append(opts, engine.WithInMemory())
	} else {
		opts = append(opts, engine.WithDataDir(f.data))
	}
	if len(f.listen) > 0 {
		opts = append(opts, engine.WithListenAddrs(f.listen...))
	}
	if ts != nil {
		opts = append(opts, engine.WithTransports(ts...))
	}
	opts = append(opts, engine.WithNAT(nat))
	if f.compact < 0 {
		return usageErr("--auto-compact %v: want a factor >= 0", f.compact)
	}
	if f.archive {
		opts = append(opts, engine.WithArchive())
	} else if f.compact > 0 {
		opts = append(opts, engine.WithAutoCompact(f.compact, 0))
	}
	cfg := node.DefaultConfig()
	cfg.Token = f.token
	cfg.Logger = log.Named("node")
	cfg.ReadHeaderTimeout, cfg.ReadTimeout, cfg.WriteTimeout, cfg.IdleTimeout = f.readHeaderTimeout, f.readTimeout, f.writeTimeout, f.idleTimeout
	cfg.QueryTimeout = f.queryTimeout
	if f.peerDir != "" {
		if _, err := os.Stat(filepath.Join(f.peerDir, "lattice.wasm")); err != nil {
			return usageErr("--peer-assets %s: no lattice.wasm (build it with scripts/build-peer.sh %s)", f.peerDir, f.peerDir)
		}
		cfg.PeerAssets = os.DirFS(f.peerDir)
	}
	if f.peerListen != "" && f.peerDir == "" {
		return usageErr("--peer-listen needs --peer-assets: it serves the browser peer's page")
	}
	cfg.MaxStreams, cfg.MaxStreamsPerClient, cfg.MaxDatabases = f.maxStreams, f.maxStreamsPerClient, f.maxDatabases
	if !f.inMemory {
		cfg.StateDir = f.data
	}
	if err := cfg.Validate(); err != nil {
		return usageErr("%v", err)
	}

	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if !f.inMemory {
		release, err := lockDataDir(f.data)
		if err != nil {
			return err
		}
		defer release()
	}
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			_ = ln.Close()
		}
	}()
	var api string
	if serveTCP {
		ln, err := net.Listen("tcp", f.api)
		if err != nil {
			return fmt.Errorf("API address %s: %w", f.api, err)
		}
		lns = append(lns, ln)
		api = "http://" + ln.Addr().String()
	}
	if f.apiSocket != "" {
		ln, err := listenAPISocket(f.apiSocket)
		if err != nil {
			return err
		}
		lns = append(lns, ln)
	}
	e, err := engine.New(ctx, opts...)
	if err != nil {
		return fmt.Errorf("start engine: %w", err)
	}
	n, err := node.New(ctx, e, cfg)
	if err != nil {
		_ = e.Close()
		return err
	}

	fmt.Fprintf(out, "peer: %s\n", e.ID())
	for _, a := range e.Addrs() {
		fmt.Fprintf(out, "listen: %s\n", a)
	}
	if api != "" {
		fmt.Fprintf(out, "api: %s\n", api)
		if f.token != "" {
			fmt.Fprintf(out, "app: %s/#token=%s\n", api, f.token)
		} else {
			fmt.Fprintf(out, "app: %s/\n", api)
		}
		if cfg.PeerAssets != nil {
			fmt.Fprintf(out, "peer-app: %s/peer/\n", api)
		}
	}
	if f.apiSocket != "" {
		fmt.Fprintf(out, "api-socket: %s\n", f.apiSocket)
	}
	if !f.inMemory {
		fmt.Fprintf(out, "data: %s\n", f.data)
	}
	fmt.Fprintln(cmd.ErrOrStderr(), "lattice node is running; press Ctrl-C to stop.")

	serving := len(lns)
	var peerLn net.Listener
	if f.peerListen != "" {
		if peerLn, err = net.Listen("tcp", f.peerListen); err != nil {
			_ = n.Close()
			_ = e.Close()
			return fmt.Errorf("--peer-listen %s: %w", f.peerListen, err)
		}
		defer peerLn.Close()
		serving++
		fmt.Fprintf(out, "peer-listen: http://%s/peer/\n", peerLn.Addr())
	}
	served := make(chan error, serving)
	for _, ln := range lns {
		go func() { served <- n.Serve(ln) }()
	}
	if peerLn != nil {
		go func() { served <- n.ServePeerApp(peerLn) }()
	}
	stopReach := printReachability(e.Host(), out)
	defer stopReach()
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-served:
	}
	stop() // a second Ctrl-C kills at once
	fmt.Fprintln(cmd.ErrOrStderr(), "stopping...")
	closeErr := errors.Join(n.Close(), e.Close())
	pending := serving
	if serveErr != nil {
		pending-- // that server has returned already
	}
	for ; pending > 0; pending-- {
		serveErr = errors.Join(serveErr, <-served)
	}
	if err := errors.Join(serveErr, closeErr); err != nil {
		return err
	}
	fmt.Fprintln(cmd.ErrOrStderr(), "stopped.")
	return nil
}

// parseSwitch parses auto, on or off.
func parseSwitch(s string) (transports.Switch, error) {
	switch strings.ToLower(s) {
	case "auto", "":
		return transports.Auto, nil
	case "on", "true":
		return transports.On, nil
	case "off", "false":
		return transports.Off, nil
	}
	return 0, fmt.Errorf("%q: want auto, on or off", s)
}

// printReachability prints "reachability: public|private" each time AutoNAT
// settles on a verdict (the first time once it knows), until the returned
// stop is called.
func printReachability(h host.Host, out io.Writer) (stop func()) {
	sub, err := h.EventBus().Subscribe(new(event.EvtLocalReachabilityChanged))
	if err != nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for e := range sub.Out() {
			r := e.(event.EvtLocalReachabilityChanged).Reachability
			if r == network.ReachabilityUnknown {
				continue
			}
			fmt.Fprintf(out, "reachability: %s\n", strings.ToLower(r.String()))
		}
	}()
	return func() { _ = sub.Close(); <-done }
}

// parsePeerAddrs parses multiaddrs ending in /p2p/<peer ID>, merging
// addresses of the same peer.
func parsePeerAddrs(flag string, ss []string) ([]peer.AddrInfo, error) {
	var addrs []ma.Multiaddr
	for _, s := range ss {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, usageErr("%s %q: %v", flag, s, err)
		}
		if _, id := peer.SplitAddr(a); id == "" {
			return nil, usageErr("%s %q: must end in /p2p/<peer ID>", flag, s)
		}
		addrs = append(addrs, a)
	}
	infos, err := peer.AddrInfosFromP2pAddrs(addrs...)
	if err != nil {
		return nil, usageErr("%s: %v", flag, err)
	}
	return infos, nil
}

func isLoopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
