package node

import (
	"net/http"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/latticedb/lattice/accesscontrol"
	"github.com/latticedb/lattice/engine"
)

// The members API of sealed (and dynamic) databases:
//
//	GET  /v1/members?database=A          -> {"members": [{"peerId", "roles"}]}
//	POST /v1/members/grant  {"database", "peer", "role"}
//	POST /v1/members/revoke {"database", "peer", "role"}
//
// Roles are "admin", "writer" and "reader". Grant and revoke answer the
// members after the change. On a sealed database a grant asks the peer
// for its member key record (it must be reachable) and wraps the current
// epoch key to it; a revocation that removes a reader starts a new epoch.

// memberList is the answer of the members routes.
type memberList struct {
	Members []engine.Member `json:"members"`
}

func (n *Node) handleMembers(w http.ResponseWriter, r *http.Request) {
	db, err := n.database(r.Context(), r.URL.Query().Get("database"))
	if err != nil {
		writeError(w, err)
		return
	}
	n.writeMembers(w, r, db)
}

func (n *Node) writeMembers(w http.ResponseWriter, r *http.Request, db *engine.Database) {
	ms, err := db.Members(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, memberList{Members: ms})
}

type memberChange struct {
	Database string `json:"database"`
	Peer     string `json:"peer"`
	Role     string `json:"role"`
}

// parse checks a grant or revocation request.
func (n *Node) memberRequest(r *http.Request) (*engine.Database, peer.ID, accesscontrol.Role, error) {
	var req memberChange
	if err := decodeBody(r, &req); err != nil {
		return nil, "", "", err
	}
	for _, f := range []struct {
		name string
		ok   bool
	}{{"database", req.Database != ""}, {"peer", req.Peer != ""}, {"role", req.Role != ""}} {
		if err := requireField(f.name, f.ok); err != nil {
			return nil, "", "", err
		}
	}
	p, err := peer.Decode(req.Peer)
	if err != nil {
		return nil, "", "", errorf(http.StatusBadRequest, "bad_request", "peer: %v", err)
	}
	role := accesscontrol.Role(req.Role)
	switch role {
	case accesscontrol.RoleAdmin, accesscontrol.RoleWriter, accesscontrol.RoleReader:
	default:
		return nil, "", "", errorf(http.StatusBadRequest, "bad_request", "role %q: want admin, writer or reader", req.Role)
	}
	db, err := n.database(r.Context(), req.Database)
	if err != nil {
		return nil, "", "", err
	}
	return db, p, role, nil
}

func (n *Node) handleGrant(w http.ResponseWriter, r *http.Request) {
	db, p, role, err := n.memberRequest(r)
	if err == nil {
		err = db.GrantMember(r.Context(), p, role)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	n.writeMembers(w, r, db)
}

func (n *Node) handleRevoke(w http.ResponseWriter, r *http.Request) {
	db, p, role, err := n.memberRequest(r)
	if err == nil {
		err = db.RevokeMember(r.Context(), p, role)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	n.writeMembers(w, r, db)
}
