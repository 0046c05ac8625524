package node

import (
	"fmt"
	"net/http"

	"github.com/latticedb/lattice/engine"
)

// leaveResponse is the result of POST /v1/databases/leave.
type leaveResponse struct {
	Address   string `json:"address"`
	Forgotten bool   `json:"forgotten"`
}

// handleLeaveDatabase closes a database on this node: it stops replicating
// it, ends its event streams, stops announcing it to invitees and takes it
// off the recently used ones. With "forget" its local data is deleted too
// (other replicas keep theirs); without, the data stays and the database
// is marked left: GET /v1/databases shows it with "left": true, the node
// does not reopen it at start and refuses actions on it until it is
// opened, created or joined again.
func (n *Node) handleLeaveDatabase(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Address string `json:"address"`
		Forget  bool   `json:"forget"`
	}
	if err := decodeBody(r, &req); err != nil {
		writeError(w, err)
		return
	}
	if err := requireField("address", req.Address != ""); err != nil {
		writeError(w, err)
		return
	}
	addr, err := engine.ParseAddress(req.Address)
	if err != nil {
		writeError(w, err)
		return
	}
	address := addr.String()
	infos, err := n.e.Databases(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	stored := false
	for _, in := range infos {
		stored = stored || in.Address == address
	}
	if !stored {
		writeError(w, fmt.Errorf("%w: %s is not on this node", engine.ErrNoDatabase, address))
		return
	}
	// Marked left first, so no request reopens it while it closes.
	n.forget(address, true)
	n.invites.unshare(address)
	if req.Forget {
		if err := n.e.Drop(r.Context(), address); err != nil {
			writeError(w, err)
			return
		}
		n.forget(address, false)
	} else if db, ok := n.e.Database(address); ok {
		if err := db.Close(); err != nil {
			writeError(w, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, leaveResponse{Address: address, Forgotten: req.Forget})
}
