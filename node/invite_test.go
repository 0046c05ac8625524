package node_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	mh "github.com/multiformats/go-multihash"
	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/internal/poll"
	"github.com/latticedb/lattice/node"
)

func TestInviteLinkRoundTrip(t *testing.T) {
	id, err := peer.Decode("12D3KooWGRUVh5ZQ8s5ZArrH4ydW2xVV1dGNF6TUSqQdvD2SxLGT")
	require.NoError(t, err)
	inv := node.Invite{
		Peer: id,
		Addrs: []ma.Multiaddr{
			ma.StringCast("/ip4/192.0.2.1/tcp/4001"),
			ma.StringCast("/ip6/2001:db8::1/udp/4001/quic-v1"),
		},
		Database:   "/lattice/" + dagJSONCid(t, "manifest") + "/TodoList",
		Collection: "todos",
	}
	link := inv.String()
	require.True(t, strings.HasPrefix(link, "lattice://join?peer="+id.String()+"&addr=/ip4/192.0.2.1/tcp/4001&addr=/ip6/2001:db8::1/udp/4001/quic-v1&db=/lattice/"), link)
	got, err := node.ParseInvite(link)
	require.NoError(t, err)
	require.Equal(t, inv.String(), got.String())

	// The web app's fragment form, and fully escaped query values.
	got, err = node.ParseInvite("http://127.0.0.1:5080/#join=" + url.QueryEscape(link))
	require.NoError(t, err)
	require.Equal(t, link, got.String())
	esc := "lattice://join?peer=" + id.String() + "&addr=" + url.QueryEscape("/ip4/192.0.2.1/tcp/4001/p2p/"+id.String())
	got, err = node.ParseInvite(esc)
	require.NoError(t, err)
	require.Equal(t, "/ip4/192.0.2.1/tcp/4001", got.Addrs[0].String())
	require.Empty(t, got.Database, "topic form")

	// A title for people, escaped in the link, bounded.
	inv.Title = "Café & co: “Weekly” groceries"
	got, err = node.ParseInvite(inv.String())
	require.NoError(t, err)
	require.Equal(t, inv.Title, got.Title)
	require.Equal(t, inv.String(), got.String())

	// The inviter's document count and a one-time key round-trip.
	inv.Count, inv.Key = 5026, "abcdefghijklmnopqrstuvwxyz"
	got, err = node.ParseInvite(inv.String())
	require.NoError(t, err)
	require.Equal(t, int64(5026), got.Count)
	require.Equal(t, inv.Key, got.Key)
	require.Equal(t, inv.String(), got.String())

	for _, bad := range []string{
		link + "&n=-1", link + "&n=lots", link + "&n=99999999999999999999",
		link + "&key=short", link + "&key=ABCDEFGHIJKLMNOPQRSTUVWXYZ",
		"", "https://example.com/", "lattice://other?peer=" + id.String(),
		link + "&title=" + strings.Repeat("x", node.MaxLinkTitle+1),
		link + "&title=bad%0Aline",
		link + "&title=%FF",
		"lattice://join?peer=nope&addr=/ip4/1.2.3.4/tcp/1",
		"lattice://join?peer=" + id.String(),
		"lattice://join?peer=" + id.String() + "&addr=/bogus",
		"lattice://join?peer=" + id.String() + "&addr=/ip4/1.2.3.4/tcp/1&db=/not/an/address",
	} {
		_, err := node.ParseInvite(bad)
		require.ErrorIs(t, err, node.ErrBadLink, bad)
	}
}

// TestTwoNodes: a write through A's API is readable through B's API, in
// both directions, and B joins A's list through an invite link.
func TestTwoNodes(t *testing.T) {
	a, b := startNode(t), startNode(t)

	// Connect by multiaddr, open by address.
	id := a.ok(200, "GET", "/v1/id", nil)
	addr := id["addrs"].([]any)[0].(string)
	out := b.ok(200, "POST", "/v1/connect", map[string]any{"addr": addr})
	require.Equal(t, a.e.ID().String(), out["peerId"])
	peers := b.ok(200, "GET", "/v1/peers", nil)["peers"].([]any)
	require.Len(t, peers, 1)
	require.Equal(t, "direct", peers[0].(map[string]any)["kind"])
	require.Equal(t, "tcp", peers[0].(map[string]any)["transport"])

	shared := a.createDB("Shared")
	b.ok(200, "POST", "/v1/databases/open", map[string]any{"address": shared})
	bEvents, _ := b.stream(t, shared)
	require.Equal(t, "ready", next(t, bEvents, 5*time.Second).Type)

	a.act("insertOne", shared, map[string]any{"document": map[string]any{"_id": "from-a", "title": "milk"}})
	// B learns of it through its event stream, then reads it.
	for ev := next(t, bEvents, 20*time.Second); ev.Type != "replicated"; ev = next(t, bEvents, 20*time.Second) {
	}
	doc := b.act("findOne", shared, map[string]any{"filter": map[string]any{"_id": "from-a"}})["document"]
	require.Equal(t, "milk", doc.(map[string]any)["title"])

	b.act("updateOne", shared, map[string]any{"filter": map[string]any{"_id": "from-a"}, "update": map[string]any{"$set": map[string]any{"isDone": true}}})
	waitDoc(t, a, shared, "from-a", func(d map[string]any) bool { return d["isDone"] == true })

	// The invite flow: B joins a list it has never heard of by link alone.
	c := startNode(t) // C is not connected to A yet
	list := a.createDB("TodoList")
	a.act("insertOne", list, map[string]any{"document": map[string]any{"_id": "t1", "title": "bread"}})
	inv := a.ok(200, "POST", "/v1/invites", map[string]any{"database": list, "collection": "todos"})
	link := inv["link"].(string)
	require.True(t, strings.HasPrefix(link, "lattice://join?peer="+a.e.ID().String()), link)
	require.Contains(t, link, "&db="+list)

	// The QR code is a PNG served by the node.
	res, err := a.client.Get(inv["qr"].(string))
	require.NoError(t, err)
	png, err := io.ReadAll(res.Body)
	res.Body.Close()
	require.NoError(t, err)
	require.Equal(t, "image/png", res.Header.Get("Content-Type"))
	require.Equal(t, "\x89PNG", string(png[:4]))

	// The web form opens the node's app with the link in #join=, which the
	// app's URLSearchParams decodes back to the link; it has a QR code too.
	web := inv["web"].(string)
	require.True(t, strings.HasPrefix(web, a.url+"/#join="), web)
	frag, err := url.ParseQuery(strings.TrimPrefix(web, a.url+"/#"))
	require.NoError(t, err)
	require.Equal(t, link, frag.Get("join"))
	res, err = a.client.Get(inv["webQr"].(string))
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, "image/png", res.Header.Get("Content-Type"))
	res, err = a.client.Get(a.url + "/v1/invites/qr?link=" + url.QueryEscape(link) + "&web=" + url.QueryEscape("javascript:alert(1)"))
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 400, res.StatusCode, "only an http(s) app URL")

	joined := c.ok(200, "POST", "/v1/join", map[string]any{"link": link})
	require.Equal(t, list, joined["address"])
	require.Equal(t, "TodoList", joined["name"])
	waitDoc(t, c, list, "t1", func(d map[string]any) bool { return d["title"] == "bread" })
	c.act("insertOne", list, map[string]any{"document": map[string]any{"_id": "t2", "title": "from the invitee"}})
	waitDoc(t, a, list, "t2", func(d map[string]any) bool { return true })

	// Joining again is idempotent, and replication goes on.
	again := c.ok(200, "POST", "/v1/join", map[string]any{"link": link})
	require.Equal(t, list, again["address"])
	a.act("insertOne", list, map[string]any{"document": map[string]any{"_id": "t3", "title": "after the second join"}})
	waitDoc(t, c, list, "t3", func(d map[string]any) bool { return true })

	// The joined list is the invitee's most recent database.
	dbs := c.ok(200, "GET", "/v1/databases", nil)["databases"].([]any)
	require.Equal(t, list, dbs[0].(map[string]any)["address"])

	// Topic-form invites: the database address comes over pubsub.
	status, out := a.do("POST", "/v1/invites", map[string]any{"database": list, "topic": true})
	require.Equal(t, 200, status, "%v", out)
	topicLink := out["link"].(string)
	require.NotContains(t, topicLink, "&db=")
	d := startNode(t)
	joined = d.ok(200, "POST", "/v1/join", map[string]any{"link": topicLink})
	require.Equal(t, list, joined["address"])
}

// dagJSONCid returns a dag-json CID, the kind of a manifest's.
func dagJSONCid(t testing.TB, data string) string {
	h, err := mh.Sum([]byte(data), mh.SHA2_256, -1)
	require.NoError(t, err)
	return cid.NewCidV1(cid.DagJSON, h).String()
}

// waitDoc polls findOne on tn until the document exists and ok accepts it.
func waitDoc(t testing.TB, tn *testNode, db string, id string, ok func(map[string]any) bool) {
	t.Helper()
	poll.Eventually(t, 20*time.Second, func() error {
		status, out := tn.do("POST", "/v1/action/findOne", map[string]any{"database": db, "collection": "todos", "filter": map[string]any{"_id": id}})
		if status != 200 {
			return fmt.Errorf("status %d: %v", status, out)
		}
		d, _ := out["document"].(map[string]any)
		if d == nil || !ok(d) {
			b, _ := json.Marshal(d)
			return fmt.Errorf("document %s is %s", id, b)
		}
		return nil
	})
}

// TestInviteLinksFitTheirRoutes: POST /v1/invites refuses an unbounded
// collection name with a 400, and a link made from the longest names it
// accepts (multi-byte, so escaping triples them) is one the node's own
// inspect and QR routes take, in both forms.
func TestInviteLinksFitTheirRoutes(t *testing.T) {
	a := startNode(t)
	longest := strings.Repeat("é", 64) // 128 bytes, 384 once escaped
	db := a.createDB(longest)
	status, out := a.do("POST", "/v1/invites", map[string]any{"database": db, "collection": strings.Repeat("c", 100_000)})
	require.Equal(t, 400, status, "%v", out)
	require.Equal(t, "bad_request", errCode(out))
	status, out = a.do("POST", "/v1/invites", map[string]any{"database": db, "collection": "bad\x01"})
	require.Equal(t, 400, status, "%v", out)

	inv := a.ok(200, "POST", "/v1/invites", map[string]any{"database": db, "collection": longest})
	link := inv["link"].(string)
	got := a.ok(200, "POST", "/v1/invites/inspect", map[string]any{"link": link})
	require.Equal(t, db, got["database"])
	require.Equal(t, longest, got["collection"])
	got = a.ok(200, "POST", "/v1/invites/inspect", map[string]any{"link": inv["web"]})
	require.Equal(t, db, got["database"])
	for _, qr := range []string{inv["qr"].(string), inv["webQr"].(string)} {
		res, err := a.client.Get(qr)
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, 200, res.StatusCode, qr)
		require.Equal(t, "image/png", res.Header.Get("Content-Type"))
	}
}
