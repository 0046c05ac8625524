package accesscontrol

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/libp2p/go-libp2p/core/peer"
)

// TypeStatic is the type of the static controller.
const TypeStatic = "static"

// staticParams is the JSON form of a static controller's params.
type staticParams struct {
	Writers []peer.ID `json:"writers"`
	// Readers may read a sealed database without writing it. Absent in
	// manifests made before it and in those without readers: their
	// address is unchanged.
	Readers []peer.ID `json:"readers,omitempty"`
}

// Static returns the config of a database only the given peers may write to.
// The list is sorted and deduplicated, so equal sets give equal manifests
// (and so equal addresses). An empty list gives a config that NewStatic
// refuses: use Open for open access.
func Static(writers ...peer.ID) Config {
	return Config{Type: TypeStatic, Params: mustJSON(staticParams{Writers: sortedIDs(writers)})}
}

// StaticReaders returns the config of a database only writers may write
// to and only writers and readers may read (when it is sealed: see
// ReadGate). Both lists are sorted and deduplicated; a peer in both is a
// writer. Like the writers, the readers are fixed by the manifest.
func StaticReaders(writers, readers []peer.ID) Config {
	w := sortedIDs(writers)
	var r []peer.ID
	for _, id := range sortedIDs(readers) {
		if !slices.Contains(w, id) {
			r = append(r, id)
		}
	}
	return Config{Type: TypeStatic, Params: mustJSON(staticParams{Writers: w, Readers: r})}
}

// StaticController lets a fixed set of peers write. It refuses writes that
// carry access-control entries: its writer list is pinned by the manifest.
type StaticController struct {
	writers map[peer.ID]struct{}
	list    []peer.ID
	readers map[peer.ID]struct{} // readers that do not write
	rlist   []peer.ID
}

var _ Controller = (*StaticController)(nil)

// NewStatic is the factory of the "static" controller. params are
// {"writers": [peer IDs...], "readers": [peer IDs...]} with at least one
// writer; readers are optional.
func NewStatic(params json.RawMessage, _ Env) (Controller, error) {
	var p staticParams
	if err := decodeParams(TypeStatic, params, &p); err != nil {
		return nil, err
	}
	ids := sortedIDs(p.Writers)
	if len(ids) == 0 {
		return nil, badConfig("a static controller needs at least one writer; use accesscontrol.Open() for open access")
	}
	c := &StaticController{writers: make(map[peer.ID]struct{}, len(ids)), list: ids, readers: map[peer.ID]struct{}{}}
	for _, id := range ids {
		c.writers[id] = struct{}{}
	}
	for _, id := range sortedIDs(p.Readers) {
		if _, w := c.writers[id]; !w {
			c.readers[id] = struct{}{}
			c.rlist = append(c.rlist, id)
		}
	}
	return c, nil
}

// Type returns "static".
func (c *StaticController) Type() string { return TypeStatic }

// Writers returns the writers, sorted.
func (c *StaticController) Writers() []peer.ID { return append([]peer.ID(nil), c.list...) }

// Readers returns the readers that are not writers, sorted.
func (c *StaticController) Readers() []peer.ID { return append([]peer.ID(nil), c.rlist...) }

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
