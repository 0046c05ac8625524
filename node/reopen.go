package node

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/latticedb/lattice/engine"
)

// Reopening the stored databases after a start.
//
// Opening a database reads its whole store into the view: about 8 s for
// 200,000 documents on a 2-core machine (BENCHMARKS.md, "Restart of a
// 200,000-document database"). New does not wait for that: it marks every
// database it will reopen, and one goroutine (owned by the node, ended by
// Close) reopens them in turn, the most recently used first. Meanwhile
// the API answers: /v1/id and /v1/health at once, the listing with
// "opening": true, and a request about a database still reopening waits
// for it up to Config.ReopenWait (or its own context), then gets 503
// "opening" with Retry-After. Reopened one at a time, so a node with many
// databases does not read all their stores at once on a small machine.

// startReopening marks the databases of infos that the node reopens (not
// left ones, at most MaxDatabases) and starts reopening them. It holds
// them against MaxDatabases (n.opening) until each attempt ends.
func (n *Node) startReopening(infos []engine.DatabaseInfo) {
	n.mu.Lock()
	rank := make(map[string]int, len(n.recent))
	for i, a := range n.recent {
		rank[a] = i
	}
	var todo []string
	for _, info := range infos {
		if n.left[info.Address] {
			continue // left on this node: stays closed until opened or joined again
		}
		if len(todo) >= n.cfg.MaxDatabases {
			n.log.Warn("not reopening every stored database: MaxDatabases reached", "limit", n.cfg.MaxDatabases, "stored", len(infos))
			break
		}
		todo = append(todo, info.Address)
	}
	// Most recently used first (the app's own list), then by address.
	slices.SortStableFunc(todo, func(a, b string) int {
		ra, oka := rank[a]
		rb, okb := rank[b]
		switch {
		case oka && okb:
			return ra - rb
		case oka:
			return -1
		case okb:
			return 1
		}
		return 0
	})
	n.reopening = make(map[string]chan struct{}, len(todo))
	for _, a := range todo {
		n.reopening[a] = make(chan struct{})
	}
	n.opening += len(todo)
	n.mu.Unlock()
	if len(todo) == 0 {
		return
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		for _, address := range todo {
			n.reopen(address)
		}
	}()
}

// reopen reopens one stored database and ends its mark, whether it opened
// or not (a request about it then opens it itself, or says why not).
func (n *Node) reopen(address string) {
	if h := n.cfg.reopenHook; h != nil && n.ctx.Err() == nil {
		h(address)
	}
	start := time.Now()
	db, err := n.e.Open(n.ctx, address)
	switch {
	case err == nil:
		n.remember(db, false)
		n.log.Debug("reopened database", "address", address, "took", time.Since(start))
	case n.ctx.Err() == nil:
		n.log.Warn("cannot reopen database", "address", address, "error", err)
	}
	n.mu.Lock()
	ch := n.reopening[address]
	delete(n.reopening, address)
	n.opening--
	n.mu.Unlock()
	close(ch)
}

// awaitReopen waits while the database at address is still reopening
// after the start: until that ends, ctx ends, or ReopenWait passes, the
// last two answering 503 "opening".
func (n *Node) awaitReopen(ctx context.Context, address string) error {
	n.mu.Lock()
	ch := n.reopening[address]
	n.mu.Unlock()
	if ch == nil {
		return nil
	}
	t := time.NewTimer(n.cfg.ReopenWait)
	defer t.Stop()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
	case <-t.C:
	}
	e := errorf(http.StatusServiceUnavailable, "opening",
		"database %s is still opening after the node's start (reading its store): retry shortly", address)
	e.retryAfter = 1
	return e
}

// reopeningCount is how many stored databases are still reopening.
func (n *Node) reopeningCount() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.reopening)
}

// isReopening tells whether the database at address is still reopening.
func (n *Node) isReopening(address string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.reopening[address] != nil
}

// healthResponse is GET /v1/health.
type healthResponse struct {
	// Status is "ok", or "opening" while stored databases are still
	// being reopened after the start.
	Status string `json:"status"`
	// Open and Opening count the node's open databases and those still
	// reopening.
	Open    int `json:"open"`
	Opening int `json:"opening"`
}

// handleHealth answers at once, also while databases reopen: for
// supervisors and scripts that wait for a restarted node.
func (n *Node) handleHealth(w http.ResponseWriter, r *http.Request) {
	n.mu.Lock()
	resp := healthResponse{Status: "ok", Open: len(n.dbs), Opening: len(n.reopening)}
	n.mu.Unlock()
	if resp.Opening > 0 {
		resp.Status = "opening"
	}
	writeJSON(w, http.StatusOK, resp)
}
