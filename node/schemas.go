package node

import (
	"encoding/json"
	"net/http"

	"github.com/latticedb/lattice/engine"
)

// The schema API of databases whose controller is dynamic:
//
//	GET  /v1/databases/schema?database=A&collection=C -> {"collection", "version", "issuer", "schema"}
//	POST /v1/databases/schema {"database", "collection", "schema"}  -> the same, after the change
//
// Only admins may change a schema (403 forbidden otherwise). The change is
// replicated like a grant; every replica that holds it judges the
// collection's later writes by it, and documents stored before stay (see
// engine.Database.SetSchema). A schema that field-level merge could break
// is refused with 400 bad_request naming the keyword. A collection no
// admin has set a schema for answers version 0 and no schema: the
// manifest's "schemas" judge it.

// schemaInfo is the answer of the schema routes.
type schemaInfo struct {
	Collection string          `json:"collection"`
	Version    uint64          `json:"version"`
	Issuer     string          `json:"issuer,omitempty"`
	Schema     json.RawMessage `json:"schema,omitempty"`
}

type schemaChange struct {
	Database   string          `json:"database"`
	Collection string          `json:"collection"`
	Schema     json.RawMessage `json:"schema"`
}

func writeSchema(w http.ResponseWriter, db *engine.Database, coll string) {
	info := schemaInfo{Collection: coll}
	if e, ok := db.Schema(coll); ok {
		info.Version, info.Issuer, info.Schema = e.Version, e.Issuer.String(), e.Schema
	}
	writeJSON(w, http.StatusOK, info)
}

func (n *Node) handleGetSchema(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	db, err := n.database(r.Context(), q.Get("database"))
	if err == nil {
		err = requireField("collection", q.Get("collection") != "")
	}
	if err != nil {
		writeError(w, err)
		return
	}
	writeSchema(w, db, q.Get("collection"))
}

func (n *Node) handleSetSchema(w http.ResponseWriter, r *http.Request) {
	var req schemaChange
	err := decodeBody(r, &req)
	for _, f := range []struct {
		name string
		ok   bool
	}{{"database", req.Database != ""}, {"collection", req.Collection != ""}, {"schema", len(req.Schema) > 0}} {
		if err == nil {
			err = requireField(f.name, f.ok)
		}
	}
	var db *engine.Database
	if err == nil {
		db, err = n.database(r.Context(), req.Database)
	}
	if err == nil {
		err = db.SetSchema(r.Context(), req.Collection, req.Schema)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	writeSchema(w, db, req.Collection)
}
