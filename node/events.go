package node

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// handleEvents streams a database's events as server-sent events until the
// client goes away, the database closes or the node closes.
//
// A stream a browser opens for another site's page, or with another
// Origin, is refused (403); the node's own pages have streams kept for
// them (see streamLimiter).
func (n *Node) handleEvents(w http.ResponseWriter, r *http.Request) {
	if err := crossSiteRead(r); err != nil {
		writeError(w, err)
		return
	}
	db, err := n.database(r.Context(), r.URL.Query().Get("database"))
	if err != nil {
		writeError(w, err)
		return
	}
	release, err := n.streams.acquire(clientKey(r), isAppRequest(r))
	if err != nil {
		writeError(w, err)
		return
	}
	defer release()
	rc := http.NewResponseController(w)
	// Streams outlive the server's read and write timeouts: an expired read
	// deadline would end the request's context, an expired write deadline
	// the stream. Instead each write (event or heartbeat) must finish within
	// WriteTimeout, so a client that stops reading is dropped.
	_ = rc.SetReadDeadline(time.Time{})
	writeDeadline := func() { _ = rc.SetWriteDeadline(time.Now().Add(n.cfg.WriteTimeout)) }
	writeDeadline()

	ctx := r.Context()
	events := db.Events(ctx) // subscribed before "ready": nothing is missed
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	ready, _ := json.Marshal(map[string]string{"database": db.Address()})
	if _, err := fmt.Fprintf(w, "retry: 1000\nevent: ready\ndata: %s\n\n", ready); err != nil {
		return
	}
	if rc.Flush() != nil {
		return
	}
	n.metrics.streams.Inc()
	defer n.metrics.streams.Dec()

	heartbeat := time.NewTicker(n.cfg.Heartbeat)
	defer heartbeat.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok { // the database closed
				return
			}
			data, err := json.Marshal(ev)
			if err != nil {
				continue
			}
			writeDeadline()
			if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev.Type, data); err != nil {
				return
			}
		case <-heartbeat.C:
			writeDeadline()
			if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil {
				return
			}
		}
		// Flush every event at once: clients show changes within the second.
		if rc.Flush() != nil {
			return
		}
	}
}

// ticketResponse is the result of POST /v1/events/ticket.
type ticketResponse struct {
	Ticket    string `json:"ticket"`
	ExpiresIn int    `json:"expiresIn"` // seconds
}

// handleTicket issues a single-use ticket that admits one GET /v1/events
// within ticketTTL: for browsers, whose EventSource cannot send the
// Authorization header.
func (n *Node) handleTicket(w http.ResponseWriter, r *http.Request) {
	t, err := n.tickets.issue(time.Now())
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ticketResponse{Ticket: t, ExpiresIn: int(ticketTTL / time.Second)})
}
