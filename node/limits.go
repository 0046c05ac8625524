package node

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// streamLimiter bounds the event streams open at once, overall and per
// client IP address, and keeps some of them for the node's own web app, so
// that other local programs cannot starve it. It is safe for concurrent
// use.
type streamLimiter struct {
	max, perClient, reserved int

	mu       sync.Mutex
	total    int // every open stream
	others   int // streams that are not the app's own
	byClient map[clientClass]int
}

// clientClass is the unit of the per-client bound: an IP address, and
// whether the stream is the app's own. A client's own page and its other
// programs are counted apart.
type clientClass struct {
	ip  string
	app bool
}

// reservedStreams is how many of max streams only the node's own web app
// may take: a sixteenth, and at least one when there are two or more.
func reservedStreams(max int) int {
	r := max / 16
	if r == 0 && max >= 2 {
		r = 1
	}
	return r
}

func newStreamLimiter(max, perClient int) *streamLimiter {
	return &streamLimiter{max: max, perClient: perClient, reserved: reservedStreams(max), byClient: make(map[clientClass]int)}
}

// acquire admits one more stream for client (app tells whether it comes
// from the node's own pages, see isAppRequest), or returns a 503 (the node
// is full) or 429 (this client has too many) API error. Streams that are
// not the app's leave the reserved ones free. The caller calls release
// exactly once when the stream ends.
func (l *streamLimiter) acquire(client string, app bool) (release func(), err error) {
	key := clientClass{ip: client, app: app}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byClient[key] >= l.perClient {
		return nil, errorf(http.StatusTooManyRequests, "too_many_streams",
			"this client has %d event streams open, the most a client may have; close one first", l.perClient)
	}
	if l.total >= l.max {
		return nil, errorf(http.StatusServiceUnavailable, "too_many_streams",
			"this node has %d event streams open, the most it serves; try again later", l.max)
	}
	if !app && l.others >= l.max-l.reserved {
		return nil, errorf(http.StatusServiceUnavailable, "too_many_streams",
			"this node has %d event streams open to programs and other pages, the most it serves them (%d more are kept for its own web app); try again later", l.others, l.reserved)
	}
	l.total++
	if !app {
		l.others++
	}
	l.byClient[key]++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.total--
			if !app {
				l.others--
			}
			if l.byClient[key]--; l.byClient[key] <= 0 {
				delete(l.byClient, key)
			}
		})
	}, nil
}

// clientKey is the client's IP address (without the port), the unit of the
// per-client stream bound.
func clientKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// isAppRequest tells whether a request comes from a page of this node
// itself: a browser says so with Sec-Fetch-Site: same-origin. Programs
// send no such header; they are served as other clients. (A local program
// can send it too; any local user may use the API without a token anyway.)
func isAppRequest(r *http.Request) bool {
	return r.Header.Get("Sec-Fetch-Site") == "same-origin"
}

// crossSiteRead refuses a read that a browser made for another site's
// page (Sec-Fetch-Site cross-site or same-site, which includes another
// port of this host) or that carries an Origin other than this node's.
// CrossOriginProtection covers writes only; an event stream is a GET that
// holds a slot and leaks changes.
func crossSiteRead(r *http.Request) error {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "cross-site", "same-site":
		return errorf(http.StatusForbidden, "forbidden", "cross-origin request refused: %s may only come from this node's own pages", r.URL.Path)
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host != r.Host {
		return errorf(http.StatusForbidden, "forbidden", "cross-origin request refused: Origin %q is not this node", truncate(origin, 80))
	}
	return nil
}

// ticketTTL is how long an event stream ticket stays valid; maxTickets
// bounds the tickets outstanding at once.
const (
	ticketTTL  = 30 * time.Second
	maxTickets = 1024
)

// tickets are short-lived, single-use credentials for GET /v1/events, the
// one route a browser's EventSource reaches without an Authorization
// header. A client that holds the token gets one from POST
// /v1/events/ticket and passes it as ?ticket=; the long-lived token never
// appears in a URL. It is safe for concurrent use.
type tickets struct {
	mu sync.Mutex
	m  map[string]time.Time // ticket -> expiry
}

func newTickets() *tickets { return &tickets{m: make(map[string]time.Time)} }

// issue returns a new ticket valid for ticketTTL.
func (t *tickets) issue(now time.Time) (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	s := hex.EncodeToString(b[:])
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, exp := range t.m {
		if now.After(exp) {
			delete(t.m, k)
		}
	}
	if len(t.m) >= maxTickets {
		return "", errorf(http.StatusServiceUnavailable, "too_many_tickets",
			"%d event stream tickets are outstanding; use them or wait %s", maxTickets, ticketTTL)
	}
	t.m[s] = now.Add(ticketTTL)
	return s, nil
}

// redeem reports whether s is a valid ticket, and spends it.
func (t *tickets) redeem(s string, now time.Time) bool {
	if s == "" {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	exp, ok := t.m[s]
	delete(t.m, s)
	return ok && !now.After(exp)
}
