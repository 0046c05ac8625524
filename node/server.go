package node

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// route is one API path with a handler per method.
type route struct {
	pattern string
	methods map[string]http.HandlerFunc
}

func (n *Node) routes() http.Handler {
	mux := http.NewServeMux()
	table := []route{
		{"/v1/id", map[string]http.HandlerFunc{http.MethodGet: n.handleID}},
		{"/v1/health", map[string]http.HandlerFunc{http.MethodGet: n.handleHealth}},
		{"/v1/peers", map[string]http.HandlerFunc{http.MethodGet: n.handlePeers}},
		{"/v1/connect", map[string]http.HandlerFunc{http.MethodPost: n.handleConnect}},
		{"/v1/databases", map[string]http.HandlerFunc{
			http.MethodGet:  n.handleListDatabases,
			http.MethodPost: n.handleCreateDatabase,
		}},
		{"/v1/databases/open", map[string]http.HandlerFunc{http.MethodPost: n.handleOpenDatabase}},
		{"/v1/databases/leave", map[string]http.HandlerFunc{http.MethodPost: n.handleLeaveDatabase}},
		{"/v1/databases/stats", map[string]http.HandlerFunc{http.MethodGet: n.handleStats}},
		{"/v1/databases/compact", map[string]http.HandlerFunc{http.MethodPost: n.handleCompact}},
		{"/v1/databases/schema", map[string]http.HandlerFunc{
			http.MethodGet:  n.handleGetSchema,
			http.MethodPost: n.handleSetSchema,
		}},
		{"/v1/action/{name}", map[string]http.HandlerFunc{http.MethodPost: n.handleAction}},
		{"/v1/events", map[string]http.HandlerFunc{http.MethodGet: n.handleEvents}},
		{"/v1/events/ticket", map[string]http.HandlerFunc{http.MethodPost: n.handleTicket}},
		{"/v1/invites", map[string]http.HandlerFunc{http.MethodPost: n.handleInvite}},
		{"/v1/invites/inspect", map[string]http.HandlerFunc{http.MethodPost: n.handleInspect}},
		{"/v1/invites/qr", map[string]http.HandlerFunc{http.MethodGet: n.handleInviteQR}},
		{"/v1/join", map[string]http.HandlerFunc{http.MethodPost: n.handleJoin}},
		{"/v1/members", map[string]http.HandlerFunc{http.MethodGet: n.handleMembers}},
		{"/v1/members/grant", map[string]http.HandlerFunc{http.MethodPost: n.handleGrant}},
		{"/v1/members/revoke", map[string]http.HandlerFunc{http.MethodPost: n.handleRevoke}},
		{"/metrics", map[string]http.HandlerFunc{http.MethodGet: n.metrics.handler().ServeHTTP}},
	}
	for _, rt := range table {
		mux.Handle(rt.pattern, n.metrics.instrument(rt.pattern, methodDispatch(rt.methods)))
	}
	mux.Handle("/v1/", n.metrics.instrument("other", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errorf(http.StatusNotFound, "not_found", "no route %s %s", r.Method, r.URL.Path))
	})))
	mux.Handle("/", n.metrics.instrument("web", webHandler(n.cfg.PeerAssets)))

	var h http.Handler = mux
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errorf(http.StatusForbidden, "forbidden", "cross-origin request refused: %s %s may only come from this node's own pages", r.Method, r.URL.Path))
	}))
	h = cop.Handler(h)
	h = n.guard(h)
	return h
}

// methodDispatch calls the handler for the request's method, or answers 405.
func methodDispatch(methods map[string]http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h, ok := methods[r.Method]; ok {
			h(w, r)
			return
		}
		if r.Method == http.MethodHead {
			if h, ok := methods[http.MethodGet]; ok {
				h(w, r)
				return
			}
		}
		allow := make([]string, 0, len(methods))
		for m := range methods {
			allow = append(allow, m)
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, errorf(http.StatusMethodNotAllowed, "method_not_allowed", "%s not allowed on %s", r.Method, r.URL.Path))
	})
}

// guard applies the access rules before any route: the bearer token on the
// API and metrics, or, without a token, loopback clients and loopback Host
// headers only; and the body size limit. Every response gets
// X-Content-Type-Options: nosniff. A refused client's connection is closed
// after the answer, so that unauthenticated clients cannot hold it.
func (n *Node) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		protected := strings.HasPrefix(r.URL.Path, "/v1/") || r.URL.Path == "/metrics"
		if n.cfg.Token == "" {
			if !remoteIsLoopback(r) {
				w.Header().Set("Connection", "close")
				writeError(w, errorf(http.StatusForbidden, "forbidden", "this node answers loopback clients only; start it with --api-token to serve others"))
				return
			}
			if !hostIsLoopback(r.Host) {
				w.Header().Set("Connection", "close")
				writeError(w, errorf(http.StatusForbidden, "forbidden", "Host %q is not a loopback name; start the node with --api-token to serve other names", r.Host))
				return
			}
		} else if protected && !n.tokenOK(r) && !n.ticketOK(r) {
			w.Header().Set("Connection", "close")
			w.Header().Set("WWW-Authenticate", `Bearer realm="lattice"`)
			writeError(w, errorf(http.StatusUnauthorized, "unauthorized", "missing or wrong API token: send \"Authorization: Bearer <token>\""))
			return
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, n.cfg.MaxBodyBytes)
		}
		next.ServeHTTP(w, r)
	})
}

// tokenOK checks the bearer token, from the Authorization header only: a
// token in a URL ends up in histories, logs and Referer headers.
func (n *Node) tokenOK(r *http.Request) bool {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got := strings.TrimSpace(tok)
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(n.cfg.Token)) == 1
}

// ticketOK admits GET /v1/events with a ticket from POST
// /v1/events/ticket (browsers' EventSource cannot send headers), and
// spends the ticket.
func (n *Node) ticketOK(r *http.Request) bool {
	if r.URL.Path != "/v1/events" || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		return false
	}
	return n.tickets.redeem(r.URL.Query().Get("ticket"), time.Now())
}

func remoteIsLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if host == "" || r.RemoteAddr == "@" { // unix sockets
		return true
	}
	return isLoopbackHost(host)
}

func hostIsLoopback(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	return host == "" || isLoopbackHost(host) || strings.HasSuffix(host, ".localhost")
}

// decodeBody decodes a JSON request body into v, refusing unknown fields and
// trailing data.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return bodyError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return bodyError(err)
		}
		return errorf(http.StatusBadRequest, "bad_json", "trailing data after the JSON body")
	}
	return nil
}

func bodyError(err error) error {
	var mbe *http.MaxBytesError
	var ute *json.UnmarshalTypeError
	switch {
	case errors.As(err, &mbe):
		return err
	case errors.Is(err, io.EOF):
		return errorf(http.StatusBadRequest, "bad_json", "empty request body: send a JSON object")
	case errors.As(err, &ute):
		return errorf(http.StatusBadRequest, "bad_request", "field %q: expected %s, got JSON %s", ute.Field, ute.Type, ute.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return errorf(http.StatusBadRequest, "bad_request", "%s", strings.TrimPrefix(err.Error(), "json: "))
	default:
		return errorf(http.StatusBadRequest, "bad_json", "malformed JSON body: %v", err)
	}
}

// requireField reports a missing required field.
func requireField(name string, present bool) error {
	if !present {
		return errorf(http.StatusBadRequest, "bad_request", "missing field %q", name)
	}
	return nil
}
