package node

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"sync"
	"time"
)

// streamLimiter bounds the event streams open at once, overall and per
// client IP address. It is safe for concurrent use.
type streamLimiter struct {
	max, perClient int

	mu       sync.Mutex
	total    int
	byClient map[string]int
}

func newStreamLimiter(max, perClient int) *streamLimiter {
	return &streamLimiter{max: max, perClient: perClient, byClient: make(map[string]int)}
}

// acquire admits one more stream for client, or returns a 503 (the node is
// full) or 429 (this client has too many) API error. The caller calls
// release exactly once when the stream ends.
func (l *streamLimiter) acquire(client string) (release func(), err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byClient[client] >= l.perClient {
		return nil, errorf(http.StatusTooManyRequests, "too_many_streams",
			"this client has %d event streams open, the most a client may have; close one first", l.perClient)
	}
	if l.total >= l.max {
		return nil, errorf(http.StatusServiceUnavailable, "too_many_streams",
			"this node has %d event streams open, the most it serves; try again later", l.max)
	}
	l.total++
	l.byClient[client]++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.total--
			if l.byClient[client]--; l.byClient[client] <= 0 {
				delete(l.byClient, client)
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
