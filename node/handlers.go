package node

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/transports"
)

// idResponse is GET /v1/id.
type idResponse struct {
	PeerID string   `json:"peerId"`
	Addrs  []string `json:"addrs"`
	// Reachability is AutoNAT's verdict on this node: "unknown" until it
	// knows, then "public" (peers can dial it) or "private" (behind a NAT
	// or firewall: peers reach it through its relays, or a hole punch).
	Reachability string `json:"reachability"`
	// HolePunch counts hole punch attempts and successes since start.
	HolePunch holePunchInfo `json:"holePunch"`
}

type holePunchInfo struct {
	// Ready: the node hole-punches (it knows a public address of its own).
	Ready     bool  `json:"ready"`
	Attempts  int64 `json:"attempts"`
	Successes int64 `json:"successes"`
}

func (n *Node) handleID(w http.ResponseWriter, r *http.Request) {
	resp := idResponse{PeerID: n.e.ID().String(), Addrs: addrStrings(n.e.Addrs()), Reachability: "unknown"}
	if t := transports.TraversalOf(n.e.Host()); t != nil {
		resp.Reachability = reachabilityName(t.Reachability())
		hp := t.HolePunches()
		resp.HolePunch = holePunchInfo{Ready: t.HolePunchReady(), Attempts: hp.Attempts, Successes: hp.Successes}
	}
	writeJSON(w, http.StatusOK, resp)
}

// reachabilityName is "unknown", "public" or "private".
func reachabilityName(r network.Reachability) string {
	switch r {
	case network.ReachabilityPublic:
		return "public"
	case network.ReachabilityPrivate:
		return "private"
	}
	return "unknown"
}

// peerKind is "direct", "holepunched" or "relayed".
func (n *Node) peerKind(p peer.ID, conns []network.Conn) string {
	kind := "relayed"
	for _, c := range conns {
		if !connRelayed(c) {
			kind = "direct"
		}
	}
	if t := transports.TraversalOf(n.e.Host()); t != nil && kind == "direct" && t.Kind(p) == transports.KindHolePunched {
		kind = "holepunched"
	}
	return kind
}

// peerInfo is one entry of GET /v1/peers.
type peerInfo struct {
	PeerID string   `json:"peerId"`
	Addrs  []string `json:"addrs"`
	// Kind is "direct", "holepunched" (a direct connection a hole punch
	// made through NATs) or "relayed" (all connections through a relay).
	Kind string `json:"kind"`
	// Transport is the transport of the first connection: tcp, quic,
	// websocket, webtransport, webrtc or other.
	Transport string `json:"transport"`
}

func (n *Node) handlePeers(w http.ResponseWriter, r *http.Request) {
	peers := []peerInfo{}
	for _, p := range n.e.Peers() {
		conns := n.e.Host().Network().ConnsToPeer(p)
		if len(conns) == 0 {
			continue
		}
		info := peerInfo{PeerID: p.String(), Addrs: []string{}, Kind: n.peerKind(p, conns), Transport: connTransport(conns[0])}
		for _, c := range conns {
			info.Addrs = append(info.Addrs, c.RemoteMultiaddr().String())
			if !connRelayed(c) {
				info.Transport = connTransport(c)
			}
		}
		peers = append(peers, info)
	}
	writeJSON(w, http.StatusOK, map[string]any{"peers": peers})
}

// connRelayed reports whether a connection goes through a relay.
func connRelayed(c network.Conn) bool {
	if c.Stat().Limited {
		return true
	}
	_, err := c.RemoteMultiaddr().ValueForProtocol(ma.P_CIRCUIT)
	return err == nil
}

// connTransport names a connection's transport.
func connTransport(c network.Conn) string {
	a := c.RemoteMultiaddr()
	has := func(code int) bool { _, err := a.ValueForProtocol(code); return err == nil }
	switch {
	case has(ma.P_CIRCUIT):
		return "relay"
	case has(ma.P_WEBTRANSPORT):
		return "webtransport"
	case has(ma.P_WEBRTC_DIRECT), has(ma.P_WEBRTC):
		return "webrtc"
	case has(ma.P_WS), has(ma.P_WSS):
		return "websocket"
	case has(ma.P_QUIC_V1), has(ma.P_QUIC):
		return "quic"
	case has(ma.P_TCP):
		return "tcp"
	}
	return "other"
}

func (n *Node) handleConnect(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Addr string `json:"addr"`
	}
	if err := decodeBody(r, &req); err != nil {
		writeError(w, err)
		return
	}
	if err := requireField("addr", req.Addr != ""); err != nil {
		writeError(w, err)
		return
	}
	ai, err := parsePeerAddr(req.Addr)
	if err != nil {
		writeError(w, err)
		return
	}
	if err := n.connect(r.Context(), *ai, "the peer"); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"peerId": ai.ID.String()})
}

// connect dials a peer within ConnectTimeout. Whatever went wrong (the
// dial policy refused the addresses, nothing listens, a handshake failed,
// a timeout), API clients learn one thing, that the peer could not be
// reached: telling the cases apart would make the node a port scanner for
// whoever can post an invite link. The details go to the log.
func (n *Node) connect(ctx context.Context, ai peer.AddrInfo, who string) error {
	if ai.ID == n.e.ID() {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.ConnectTimeout)
	defer cancel()
	if err := n.e.Connect(ctx, ai); err != nil {
		n.log.Info("dial failed", "peer", ai.ID, "addrs", ai.Addrs, "error", err)
		return errorf(http.StatusBadGateway, "connect_failed", "could not reach %s", who)
	}
	return nil
}

// parsePeerAddr parses a multiaddr ending in /p2p/<peer ID>.
func parsePeerAddr(s string) (*peer.AddrInfo, error) {
	a, err := ma.NewMultiaddr(s)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "bad_request", "bad multiaddr %q: %v", s, err)
	}
	ai, err := peer.AddrInfoFromP2pAddr(a)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "bad_request", "multiaddr %q must end in /p2p/<peer ID>", s)
	}
	return ai, nil
}

// accessSpec is the "access" field of POST /v1/databases.
type accessSpec struct {
	Type    string          `json:"type"`
	Writers []string        `json:"writers,omitempty"`
	Admins  []string        `json:"admins,omitempty"`
	Params  json.RawMessage `json:"params,omitempty"`
}

// config turns the spec into an accesscontrol.Config.
func (a *accessSpec) config() (accesscontrol.Config, error) {
	ids := func(field string, ss []string) ([]peer.ID, error) {
		out := make([]peer.ID, 0, len(ss))
		for _, s := range ss {
			id, err := peer.Decode(s)
			if err != nil {
				return nil, errorf(http.StatusBadRequest, "bad_request", "access.%s: bad peer ID %q", field, s)
			}
			out = append(out, id)
		}
		if len(out) == 0 {
			return nil, errorf(http.StatusBadRequest, "bad_request", "access.%s: needs at least one peer ID", field)
		}
		return out, nil
	}
	if len(a.Params) > 0 && (a.Writers != nil || a.Admins != nil) {
		return accesscontrol.Config{}, errorf(http.StatusBadRequest, "bad_request", "access: give params or writers/admins, not both")
	}
	switch {
	case a.Type == "":
		return accesscontrol.Config{}, errorf(http.StatusBadRequest, "bad_request", "access.type is required")
	case len(a.Params) > 0:
		return accesscontrol.Config{Type: a.Type, Params: a.Params}, nil
	case a.Type == accesscontrol.TypeOpen:
		if a.Writers != nil || a.Admins != nil {
			return accesscontrol.Config{}, errorf(http.StatusBadRequest, "bad_request", "access: open takes no writers or admins")
		}
		return accesscontrol.Open(), nil
	case a.Type == accesscontrol.TypeStatic:
		ws, err := ids("writers", a.Writers)
		if err != nil {
			return accesscontrol.Config{}, err
		}
		return accesscontrol.Static(ws...), nil
	case a.Type == accesscontrol.TypeDynamic:
		as, err := ids("admins", a.Admins)
		if err != nil {
			return accesscontrol.Config{}, err
		}
		return accesscontrol.Dynamic(as...), nil
	case a.Writers != nil || a.Admins != nil:
		return accesscontrol.Config{}, errorf(http.StatusBadRequest, "bad_request", "access: writers and admins are for static and dynamic; give type %q params", a.Type)
	default:
		// Let the engine's registry judge: an unknown type is named as
		// such (plugins.ErrUnknownPlugin), a known one says which params
		// it lacks.
		return accesscontrol.Config{Type: a.Type}, nil
	}
}

// databaseResponse is the result of creating, opening or joining.
type databaseResponse struct {
	Address string `json:"address"`
	Name    string `json:"name"`
	PeerID  string `json:"peerId,omitempty"`
	// Sealed is true for a database only its members can read.
	Sealed bool `json:"sealed"`
}

func (n *Node) handleCreateDatabase(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name   string            `json:"name"`
		Access *accessSpec       `json:"access"`
		Meta   map[string]string `json:"meta"`
		// Deterministic leaves the random nonce out of the manifest:
		// the same name, access and meta then give the same address
		// (engine.WithDeterministicAddress).
		Deterministic bool `json:"deterministic"`
		// Schemas holds a JSON Schema per collection (see package
		// validation); the address pins them.
		Schemas map[string]json.RawMessage `json:"schemas"`
		// Sealed makes the database readable by its members only
		// (engine.WithSealed); the address pins it.
		Sealed bool `json:"sealed"`
	}
	if err := decodeBody(r, &req); err != nil {
		writeError(w, err)
		return
	}
	if err := requireField("name", req.Name != ""); err != nil {
		writeError(w, err)
		return
	}
	var opts []engine.DatabaseOption
	if req.Access != nil {
		cfg, err := req.Access.config()
		if err != nil {
			writeError(w, err)
			return
		}
		opts = append(opts, engine.WithAccess(cfg))
	}
	if len(req.Schemas) > 0 {
		opts = append(opts, engine.WithSchemas(req.Schemas))
	}
	if req.Sealed {
		opts = append(opts, engine.WithSealed())
	}
	keys := make([]string, 0, len(req.Meta))
	for k := range req.Meta {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		opts = append(opts, engine.WithMeta(k, req.Meta[k]))
	}
	if req.Deterministic {
		opts = append(opts, engine.WithDeterministicAddress())
	}
	done, err := n.admitDatabase("")
	if err != nil {
		writeError(w, err)
		return
	}
	defer done()
	db, err := n.e.Create(r.Context(), req.Name, opts...)
	if err != nil {
		writeError(w, err)
		return
	}
	n.remember(db, true)
	writeJSON(w, http.StatusCreated, databaseResponse{Address: db.Address(), Name: db.Name(), Sealed: db.Sealed()})
}

func (n *Node) handleOpenDatabase(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Address string `json:"address"`
	}
	if err := decodeBody(r, &req); err != nil {
		writeError(w, err)
		return
	}
	if err := requireField("address", req.Address != ""); err != nil {
		writeError(w, err)
		return
	}
	db, err := n.open(r.Context(), req.Address)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, databaseResponse{Address: db.Address(), Name: db.Name(), Sealed: db.Sealed()})
}

// open opens a database by address within OpenTimeout, fetching its
// manifest from connected peers when needed.
func (n *Node) open(ctx context.Context, address string) (*engine.Database, error) {
	if _, err := engine.ParseAddress(address); err != nil {
		return nil, err
	}
	if err := n.awaitReopen(ctx, address); err != nil {
		return nil, err
	}
	done, err := n.admitDatabase(address)
	if err != nil {
		return nil, err
	}
	defer done()
	ctx, cancel := context.WithTimeout(ctx, n.cfg.OpenTimeout)
	defer cancel()
	db, err := n.e.Open(ctx, address)
	if err != nil {
		if ctx.Err() != nil {
			return nil, errorf(http.StatusGatewayTimeout, "timeout",
				"could not fetch the manifest of %s from connected peers within %s: connect to a peer that has it", address, n.cfg.OpenTimeout)
		}
		return nil, err
	}
	n.remember(db, true)
	return db, nil
}

// databaseInfo is one entry of GET /v1/databases.
type databaseInfo struct {
	Address string            `json:"address"`
	Name    string            `json:"name"`
	Open    bool              `json:"open"`
	Access  string            `json:"access"`
	Meta    map[string]string `json:"meta,omitempty"`
	Sealed  bool              `json:"sealed"`
	// Left is set for a database left on this node with its data kept
	// (POST /v1/databases/leave): closed until opened or joined again.
	Left bool `json:"left,omitempty"`
	// Opening is set while the database is still being reopened after
	// the node's start (requests about it wait or answer 503 "opening").
	Opening bool `json:"opening,omitempty"`
}

func (n *Node) handleListDatabases(w http.ResponseWriter, r *http.Request) {
	infos, err := n.e.Databases(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	n.mu.Lock()
	rank := make(map[string]int, len(n.recent))
	for i, a := range n.recent {
		rank[a] = i
	}
	left := maps.Clone(n.left)
	n.mu.Unlock()
	out := make([]databaseInfo, 0, len(infos))
	for _, in := range infos {
		out = append(out, databaseInfo{Address: in.Address, Name: in.Name, Open: in.Open, Access: in.Access, Meta: in.Manifest.Meta, Sealed: in.Manifest.Sealed != nil, Left: left[in.Address], Opening: n.isReopening(in.Address)})
	}
	// Most recently used first, then the others by address.
	slices.SortStableFunc(out, func(a, b databaseInfo) int {
		ra, oka := rank[a.Address]
		rb, okb := rank[b.Address]
		switch {
		case oka && okb:
			return ra - rb
		case oka:
			return -1
		case okb:
			return 1
		}
		return strings.Compare(a.Address, b.Address)
	})
	writeJSON(w, http.StatusOK, map[string]any{"databases": out})
}

func addrStrings(as []ma.Multiaddr) []string {
	out := make([]string, 0, len(as))
	for _, a := range as {
		out = append(out, a.String())
	}
	return out
}

// handleStats answers a database's replication counters, catch-up
// progress included, for dashboards and for clients that show "catching
// up" while a history arrives.
func (n *Node) handleStats(w http.ResponseWriter, r *http.Request) {
	db, err := n.database(r.Context(), r.URL.Query().Get("database"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, db.Stats())
}

// handleCompact compacts a database while it stays open (engine's
// Database.Compact) and answers its history's footprint before and after:
// {"before": {"blocks", "bytes"}, "after": {...}}. An archive node
// refuses with 409 archive.
func (n *Node) handleCompact(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Database string `json:"database"`
	}
	if err := decodeBody(r, &req); err != nil {
		writeError(w, err)
		return
	}
	db, err := n.database(r.Context(), req.Database)
	if err != nil {
		writeError(w, err)
		return
	}
	c, err := db.Compact(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}
