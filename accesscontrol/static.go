package accesscontrol

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/libp2p/go-libp2p/core/peer"
)

// TypeStatic is the type of the static controller.
const TypeStatic = "static"

// staticParams is the JSON form of a static controller's params.
type staticParams struct {
	Writers []peer.ID `json:"writers"`
}

// Static returns the config of a database only the given peers may write to.
// The list is sorted and deduplicated, so equal sets give equal manifests
// (and so equal addresses). An empty list gives a config that NewStatic
// refuses: use Open for open access.
func Static(writers ...peer.ID) Config {
	return Config{Type: TypeStatic, Params: mustJSON(staticParams{Writers: sortedIDs(writers)})}
}

// StaticController lets a fixed set of peers write. It refuses writes that
// carry access-control entries: its writer list is pinned by the manifest.
type StaticController struct {
	writers map[peer.ID]struct{}
	list    []peer.ID
}

var _ Controller = (*StaticController)(nil)

// NewStatic is the factory of the "static" controller. params are
// {"writers": [peer IDs...]} with at least one writer.
func NewStatic(params json.RawMessage, _ Env) (Controller, error) {
	var p staticParams
	if err := decodeParams(TypeStatic, params, &p); err != nil {
		return nil, err
	}
	ids := sortedIDs(p.Writers)
	if len(ids) == 0 {
		return nil, badConfig("a static controller needs at least one writer; use accesscontrol.Open() for open access")
	}
	c := &StaticController{writers: make(map[peer.ID]struct{}, len(ids)), list: ids}
	for _, id := range ids {
		c.writers[id] = struct{}{}
	}
	return c, nil
}

// Type returns "static".
func (c *StaticController) Type() string { return TypeStatic }

// Writers returns the writers, sorted.
func (c *StaticController) Writers() []peer.ID { return append([]peer.ID(nil), c.list...) }

// CanWrite allows writes authored by one of the writers.
func (c *StaticController) CanWrite(_ context.Context, w Write) error {
	if w.ACL {
		return denied("a static database has no access-control entries; its writers are fixed by the manifest")
	}
	if _, ok := c.writers[w.Author]; !ok {
		return denied("peer %s is not a writer of this database", authorString(w.Author))
	}
	return nil
}

// CanAnnounce admits the writers: only they have heads worth announcing.
func (c *StaticController) CanAnnounce(_ context.Context, p peer.ID) error {
	if _, ok := c.writers[p]; !ok {
		return denied("peer %s is not a writer of this database", authorString(p))
	}
	return nil
}

var _ AnnounceGate = (*StaticController)(nil)

// authorString renders a possibly empty or invalid peer ID for an error.
func authorString(id peer.ID) string {
	if id == "" {
		return "<none>"
	}
	return fmt.Sprintf("%.64s", id.String())
}
