package node

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
	"rsc.io/qr"

	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/dialpolicy"
	"github.com/latticedb/lattice/internal/natgate"
)

// InviteScheme is the URL scheme of invite links.
const InviteScheme = "lattice"

// Bounds of invite links, which come from strangers: a link is at most
// MaxLinkLen bytes (a web app URL carrying one may be longer by its
// escaping) and carries at most MaxLinkAddrs addresses, each at most
// dialpolicy.MaxAddrLen bytes in binary form. Links this node makes stay
// within them, and their QR codes scannable.
const (
	MaxLinkLen   = 2048
	MaxLinkAddrs = 8
	// MaxLinkTitle bounds an invite's title, in bytes of UTF-8.
	MaxLinkTitle = 200
)

// Invite is a share link: who to dial (a peer ID and its dialable addresses,
// relay circuit addresses included once the node has them) and which
// database to open. Its text form is
//
//	lattice://join?peer=<peer ID>&addr=<multiaddr>&addr=...&db=<address>&collection=<name>&title=<text>
//
// where each addr is a multiaddr without the /p2p/<peer ID> suffix. Without
// db, the invitee learns the database from the inviter's invite topic
// (InviteTopic), where the inviter announces it to every subscriber: anyone
// who knows the inviter's peer ID. Only invites asked for in that form
// ("topic": true) are announced. collection is a hint for applications (the
// web app uses "todos"); title is what the inviter calls the database ("My
// to-dos"), shown to the invitee before joining: a claim of the inviter's,
// as trustworthy as the link.
type Invite struct {
	// Peer is the inviter.
	Peer peer.ID
	// Addrs are the inviter's dialable addresses, without /p2p/<Peer>.
	Addrs []ma.Multiaddr
	// Database is the shared database's address; empty in the topic form.
	Database string
	// Collection optionally names the collection the invite is about.
	Collection string
	// Title optionally names the database for people: at most
	// MaxLinkTitle bytes of UTF-8 without control characters.
	Title string
	// Count is how many documents the inviter's replica held in the
	// collection when it made the link (n=): a hint for the invitee's
	// catch-up ("3,100 of 5,026"), as trustworthy as the link; 0 when
	// unknown.
	Count int64
	// Key, on a database whose members are named (dynamic or sealed),
	// is the one-time key the invitee redeems with the inviter to become
	// a member (see InviteGrantProtocol): 26 characters of lower-case
	// base32.
	Key string
}

// InviteTopic is the pubsub topic on which a peer announces the databases it
// shares by invite: /lattice/invite/<peer ID>.
func InviteTopic(p peer.ID) string { return "/lattice/invite/" + p.String() }

// String formats the link. Slashes and colons stay unescaped, so the link is
// readable and its QR code small.
func (inv Invite) String() string {
	var b strings.Builder
	b.WriteString(InviteScheme + "://join?peer=" + inv.Peer.String())
	for _, a := range inv.Addrs {
		b.WriteString("&addr=" + linkEscape(a.String()))
	}
	if inv.Database != "" {
		b.WriteString("&db=" + linkEscape(inv.Database))
	}
	if inv.Key != "" {
		b.WriteString("&key=" + inv.Key)
	}
	if inv.Count > 0 {
		b.WriteString("&n=" + strconv.FormatInt(inv.Count, 10))
	}
	if inv.Collection != "" {
		b.WriteString("&collection=" + linkEscape(inv.Collection))
	}
	if inv.Title != "" {
		b.WriteString("&title=" + url.QueryEscape(inv.Title))
	}
	return b.String()
}

func linkEscape(s string) string {
	return strings.NewReplacer("%2F", "/", "%3A", ":").Replace(url.QueryEscape(s))
}

// AddrInfo is the inviter's peer ID and addresses, for dialing.
func (inv Invite) AddrInfo() peer.AddrInfo {
	return peer.AddrInfo{ID: inv.Peer, Addrs: inv.Addrs}
}

// ParseInvite parses an invite link. Besides lattice://join?..., it accepts
// a web app URL whose fragment is join=<URL-encoded invite link>. Errors wrap
// ErrBadLink.
func ParseInvite(link string) (Invite, error) {
	link = strings.TrimSpace(link)
	if len(link) > 3*MaxLinkLen {
		return Invite{}, fmt.Errorf("%w: %d bytes long, the limit is %d", ErrBadLink, len(link), MaxLinkLen)
	}
	u, err := url.Parse(link)
	if err != nil {
		return Invite{}, fmt.Errorf("%w: %v", ErrBadLink, err)
	}
	if (u.Scheme == "http" || u.Scheme == "https") && strings.HasPrefix(u.Fragment, "join=") {
		inner, err := url.QueryUnescape(strings.TrimPrefix(u.Fragment, "join="))
		if err != nil {
			return Invite{}, fmt.Errorf("%w: fragment: %v", ErrBadLink, err)
		}
		if strings.HasPrefix(inner, "http") {
			return Invite{}, fmt.Errorf("%w: nested web link", ErrBadLink)
		}
		return ParseInvite(inner)
	}
	if u.Scheme != InviteScheme || (u.Host != "join" && u.Opaque != "join") {
		return Invite{}, fmt.Errorf("%w: want %s://join?peer=...&addr=...&db=..., got %q", ErrBadLink, InviteScheme, truncate(link, 80))
	}
	if len(link) > MaxLinkLen {
		return Invite{}, fmt.Errorf("%w: %d bytes long, the limit is %d", ErrBadLink, len(link), MaxLinkLen)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return Invite{}, fmt.Errorf("%w: %v", ErrBadLink, err)
	}
	if len(q["addr"]) > MaxLinkAddrs {
		return Invite{}, fmt.Errorf("%w: %d addresses, the limit is %d", ErrBadLink, len(q["addr"]), MaxLinkAddrs)
	}
	var inv Invite
	if inv.Peer, err = peer.Decode(q.Get("peer")); err != nil {
		return Invite{}, fmt.Errorf("%w: bad peer ID %q", ErrBadLink, truncate(q.Get("peer"), 80))
	}
	for _, s := range q["addr"] {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return Invite{}, fmt.Errorf("%w: bad addr %q: %v", ErrBadLink, truncate(s, 80), err)
		}
		if len(a.Bytes()) > dialpolicy.MaxAddrLen {
			return Invite{}, fmt.Errorf("%w: an address of %d bytes, the limit is %d", ErrBadLink, len(a.Bytes()), dialpolicy.MaxAddrLen)
		}
		// Accept addresses with the inviter's /p2p/ suffix too.
		if tr, id := peer.SplitAddr(a); id != "" {
			if id != inv.Peer {
				return Invite{}, fmt.Errorf("%w: addr %q names another peer", ErrBadLink, s)
			}
			a = tr
		}
		if a == nil {
			continue
		}
		inv.Addrs = append(inv.Addrs, a)
	}
	if len(inv.Addrs) == 0 {
		return Invite{}, fmt.Errorf("%w: no addr to dial", ErrBadLink)
	}
	if inv.Database = q.Get("db"); inv.Database != "" {
		if _, err := engine.ParseAddress(inv.Database); err != nil {
			return Invite{}, fmt.Errorf("%w: %v", ErrBadLink, err)
		}
	}
	if inv.Key = q.Get("key"); inv.Key != "" && !validKey(inv.Key) {
		return Invite{}, fmt.Errorf("%w: a malformed invite key", ErrBadLink)
	}
	if n := q.Get("n"); n != "" {
		if inv.Count, err = strconv.ParseInt(n, 10, 64); err != nil || inv.Count < 0 || inv.Count > maxLinkCount {
			return Invite{}, fmt.Errorf("%w: the document count %q is not a number from 0 to %d", ErrBadLink, truncate(n, 20), maxLinkCount)
		}
	}
	inv.Collection = q.Get("collection")
	inv.Title = q.Get("title")
	if err := checkTitle(inv.Title); err != nil {
		return Invite{}, fmt.Errorf("%w: %v", ErrBadLink, err)
	}
	return inv, nil
}

// maxLinkCount bounds the document count a link may claim.
const maxLinkCount = 1 << 40

// validKey accepts an invite key: inviteKeyLen characters of lower-case
// base32.
func validKey(k string) bool {
	if len(k) != inviteKeyLen {
		return false
	}
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= '2' && r <= '7') {
			return false
		}
	}
	return true
}

// checkTitle accepts an invite title: at most MaxLinkTitle bytes of valid
// UTF-8 without control characters.
func checkTitle(t string) error {
	if len(t) > MaxLinkTitle {
		return fmt.Errorf("title of %d bytes, the limit is %d", len(t), MaxLinkTitle)
	}
	if !utf8.ValidString(t) {
		return errors.New("title is not UTF-8")
	}
	if strings.IndexFunc(t, unicode.IsControl) >= 0 {
		return errors.New("title has control characters")
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// inviteAddrs chooses the addresses a link carries: relay circuits first
// (for a node behind a NAT they are the ones that work from elsewhere, and
// must not be cut by the limit), then public, private and loopback ones;
// link-local ones are dropped. The invitee's libp2p dials direct addresses
// before relayed ones whatever their order.
func inviteAddrs(as []ma.Multiaddr) []ma.Multiaddr {
	rank := func(a ma.Multiaddr) int {
		switch {
		case natgate.Relayed(a):
			return -1
		case manet.IsIPLoopback(a):
			return 2
		case manet.IsPrivateAddr(a):
			return 1
		}
		return 0
	}
	var out []ma.Multiaddr
	for _, a := range as {
		tr, _ := peer.SplitAddr(a)
		if tr == nil || manet.IsIP6LinkLocal(tr) {
			continue
		}
		out = append(out, tr)
	}
	// Within a rank, WebSocket addresses first: they are the only ones a
	// browser peer can dial, and must not be cut by the limit.
	ws := func(a ma.Multiaddr) int {
		if _, err := a.ValueForProtocol(ma.P_WS); err == nil {
			return 0
		}
		if _, err := a.ValueForProtocol(ma.P_WSS); err == nil {
			return 0
		}
		return 1
	}
	slices.SortStableFunc(out, func(a, b ma.Multiaddr) int {
		if d := rank(a) - rank(b); d != 0 {
			return d
		}
		return ws(a) - ws(b)
	})
	if len(out) > MaxLinkAddrs {
		out = out[:MaxLinkAddrs]
	}
	return out
}

// inviteResponse is the result of POST /v1/invites.
type inviteResponse struct {
	Link string `json:"link"`
	QR   string `json:"qr"`
	// Web is the link in the form a phone camera opens: this node's app
	// (as the caller reached it) with #join=<link>; WebQR its QR code.
	Web   string `json:"web"`
	WebQR string `json:"webQr"`
	// Peer is the link in the form that opens the browser peer on this
	// node (/peer/#join=<link>): the phone keeps the list itself and works
	// offline. PeerQR is its QR code. Both are empty when the node serves
	// no browser peer (Config.PeerAssets) or the link is too long for it.
	Peer     string `json:"peer,omitempty"`
	PeerQR   string `json:"peerQr,omitempty"`
	PeerID   string `json:"peerId"`
	Database string `json:"database"`
	// Role and Expires describe the invite's one-time key, on a database
	// whose members are named: what the invitee becomes and until when
	// (RFC 3339). Both are absent for other databases.
	Role    string `json:"role,omitempty"`
	Expires string `json:"expires,omitempty"`
}

func (n *Node) handleInvite(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Database   string `json:"database"`
		Collection string `json:"collection"`
		// Topic leaves the database out of the link: the invitee learns it
		// from the inviter's invite topic.
		Topic bool `json:"topic"`
		// Title names the database in the link, for the invitee.
		Title string `json:"title"`
		// Role is what the invitee becomes on a database whose members
		// are named (dynamic or sealed): "reader", "writer" (the default
		// where the controller grants it) or "admin". ExpiresIn is how
		// long the invite works, in seconds (default 7 days).
		Role      string `json:"role"`
		ExpiresIn int64  `json:"expiresIn"`
	}
	if err := decodeBody(r, &req); err != nil {
		writeError(w, err)
		return
	}
	if req.Collection != "" {
		if err := engine.ValidateCollectionName(req.Collection); err != nil {
			writeError(w, errorf(http.StatusBadRequest, "bad_request", "collection: %v", err))
			return
		}
	}
	db, err := n.database(r.Context(), req.Database)
	if err != nil {
		writeError(w, err)
		return
	}
	if err := checkTitle(req.Title); err != nil {
		writeError(w, errorf(http.StatusBadRequest, "bad_request", "%v", err))
		return
	}
	inv := Invite{Peer: n.e.ID(), Addrs: inviteAddrs(n.e.Addrs()), Database: db.Address(), Collection: req.Collection, Title: req.Title}
	if req.Collection != "" {
		// For the invitee's catch-up: how many to-dos to expect.
		if c, err := db.Collection(req.Collection).CountDocuments(r.Context(), nil); err == nil {
			inv.Count = c
		}
	}
	if len(inv.Addrs) == 0 {
		writeError(w, errorf(http.StatusServiceUnavailable, "unavailable", "this peer has no dialable address yet"))
		return
	}
	role, err := inviteRole(db, n.e.ID().String(), req.Role)
	if err != nil {
		writeError(w, err)
		return
	}
	ttl := DefaultInviteTTL
	if req.ExpiresIn != 0 {
		if req.ExpiresIn < 0 || req.ExpiresIn > int64(MaxInviteTTL/time.Second) {
			writeError(w, errorf(http.StatusBadRequest, "bad_request", "expiresIn: %d seconds, want 1 to %d", req.ExpiresIn, int64(MaxInviteTTL/time.Second)))
			return
		}
		ttl = time.Duration(req.ExpiresIn) * time.Second
	}
	var expires time.Time
	if role != "" {
		if inv.Key, expires, err = n.keys.add(db.Address(), role, ttl); err != nil {
			writeError(w, err)
			return
		}
	}
	if req.Topic {
		// Only the topic form announces the address, and then to every
		// peer that subscribes to this node's invite topic.
		n.invites.share(db.Address(), db.Name(), req.Collection)
		inv.Database = ""
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	origin := scheme + "://" + r.Host
	link, err := fitLink(inv, origin)
	if err != nil {
		writeError(w, err)
		return
	}
	qrURL := origin + "/v1/invites/qr?link=" + url.QueryEscape(link)
	res := inviteResponse{Link: link, QR: qrURL, Web: WebLink(origin, link),
		WebQR: qrURL + "&web=" + url.QueryEscape(origin), PeerID: inv.Peer.String(), Database: db.Address(), Role: string(role)}
	if role != "" {
		res.Expires = expires.UTC().Format(time.RFC3339)
	}
	if n.cfg.PeerAssets != nil && inv.Database != "" {
		if _, err := qr.Encode(WebLink(origin+"/peer", link), qr.M); err == nil {
			res.Peer, res.PeerQR = WebLink(origin+"/peer", link), qrURL+"&web="+url.QueryEscape(origin+"/peer")
		}
	}
	writeJSON(w, http.StatusOK, res)
}

// fitLink formats inv as a link this node's own routes accept: ParseInvite
// (inspect, join) takes it and the QR route can draw it, in both its forms
// (the link, and the web link on origin). Addresses are dropped from the
// end (relay circuits come first) until it fits; a link that does not fit
// with one address is a 400.
func fitLink(inv Invite, origin string) (string, error) {
	for {
		link := inv.String()
		_, perr := ParseInvite(link)
		_, qerr := qr.Encode(link, qr.M)
		var werr error
		if perr == nil && qerr == nil && checkWebBase(origin) == nil {
			_, werr = qr.Encode(WebLink(origin, link), qr.M)
		}
		if perr == nil && qerr == nil && werr == nil {
			return link, nil
		}
		if len(inv.Addrs) <= 1 {
			return "", errorf(http.StatusBadRequest, "bad_request",
				"the invite link would be %d bytes, too long for a link or its QR code (at most %d); use a shorter collection name", len(link), MaxLinkLen)
		}
		inv.Addrs = inv.Addrs[:len(inv.Addrs)-1]
	}
}

// WebLink is an invite link in the form a phone camera can open:
// base (a node's app, http://host:port) with #join=<link>. The app shows
// what the link would join and joins when the user clicks Join.
func WebLink(base, link string) string {
	return strings.TrimRight(base, "/") + "/#join=" + url.QueryEscape(link)
}

// checkWebBase accepts an http(s) URL of a node's app: scheme, host, no
// query or fragment.
func checkWebBase(base string) error {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return errorf(http.StatusBadRequest, "bad_request", "web %q: want the http(s) URL of a node's app, like http://192.168.1.20:5080", base)
	}
	return nil
}

func (n *Node) handleInviteQR(w http.ResponseWriter, r *http.Request) {
	link := r.URL.Query().Get("link")
	if _, err := ParseInvite(link); err != nil {
		writeError(w, err)
		return
	}
	text := link
	if base := r.URL.Query().Get("web"); base != "" {
		if err := checkWebBase(base); err != nil {
			writeError(w, err)
			return
		}
		text = WebLink(base, link)
	}
	png, err := QRPNG(text)
	if err != nil {
		writeError(w, errorf(http.StatusBadRequest, "bad_request", "%v", err))
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "private, max-age=3600")
	_, _ = w.Write(png)
}

// QRPNG renders text as a QR code PNG (error correction level M, 6 pixels
// per module, with the standard quiet zone).
func QRPNG(text string) ([]byte, error) {
	c, err := qr.Encode(text, qr.M)
	if err != nil {
		return nil, err
	}
	c.Scale = 6
	return c.PNG(), nil
}

// inspectResponse is the result of POST /v1/invites/inspect.
type inspectResponse struct {
	PeerID     string   `json:"peerId"`
	Addrs      []string `json:"addrs"`
	Database   string   `json:"database,omitempty"`
	Name       string   `json:"name,omitempty"`
	Collection string   `json:"collection,omitempty"`
	Title      string   `json:"title,omitempty"` // the inviter's name for the database
	Count      int64    `json:"count,omitempty"` // documents the inviter held in the collection (a hint)
	Own        bool     `json:"own"`             // the link is this node's own
}

// handleInspect parses an invite link without dialing anything, so that an
// application can show what the link would join, and who shares it, before
// the user agrees to join.
func (n *Node) handleInspect(w http.ResponseWriter, r *http.Request) {
	link, ok := linkBody(w, r)
	if !ok {
		return
	}
	inv, err := ParseInvite(link)
	if err != nil {
		writeError(w, err)
		return
	}
	out := inspectResponse{PeerID: inv.Peer.String(), Addrs: addrStrings(inv.Addrs), Database: inv.Database,
		Collection: inv.Collection, Title: inv.Title, Count: inv.Count, Own: inv.Peer == n.e.ID()}
	if a, err := engine.ParseAddress(inv.Database); err == nil {
		out.Name = a.Name
	}
	writeJSON(w, http.StatusOK, out)
}

// linkBody reads the {"link": ...} body of the inspect and join routes,
// answering the client itself when it is bad.
func linkBody(w http.ResponseWriter, r *http.Request) (string, bool) {
	var req struct {
		Link string `json:"link"`
	}
	if err := decodeBody(r, &req); err != nil {
		writeError(w, err)
		return "", false
	}
	if err := requireField("link", req.Link != ""); err != nil {
		writeError(w, err)
		return "", false
	}
	return req.Link, true
}

func (n *Node) handleJoin(w http.ResponseWriter, r *http.Request) {
	link, ok := linkBody(w, r)
	if !ok {
		return
	}
	db, inv, err := n.Join(r.Context(), link)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, databaseResponse{Address: db.Address(), Name: db.Name(), PeerID: inv.Peer.String(), Sealed: db.Sealed()})
}

// Join follows an invite link: it dials the inviter, learns the database
// address (from the link, or from the inviter's invite topic), and opens the
// database, fetching its manifest from the inviter.
func (n *Node) Join(ctx context.Context, link string) (*engine.Database, Invite, error) {
	inv, err := ParseInvite(link)
	if err != nil {
		return nil, inv, err
	}
	if inv.Peer == n.e.ID() {
		// Our own link: nothing to dial.
		if inv.Database == "" {
			return nil, inv, errorf(http.StatusBadRequest, "bad_request", "this is this node's own invite link")
		}
		db, err := n.open(ctx, inv.Database)
		return db, inv, err
	}
	address := inv.Database
	if address == "" {
		// Subscribe before dialing so the inviter sees us join the topic as
		// soon as we connect.
		ctx, cancel := context.WithTimeout(ctx, n.cfg.OpenTimeout)
		defer cancel()
		wait, err := n.invites.await(ctx, inv.Peer)
		if err != nil {
			return nil, inv, err
		}
		if err := n.connect(ctx, inv.AddrInfo(), "the inviter"); err != nil {
			wait.cancel()
			return nil, inv, err
		}
		if address, err = wait.result(); err != nil {
			return nil, inv, err
		}
	} else if err := n.connect(ctx, inv.AddrInfo(), "the inviter"); err != nil {
		return nil, inv, err
	}
	if inv.Key != "" && !n.holds(ctx, address) {
		// Become a member first, so the database opens readable.
		if err := n.claimInvite(ctx, inv, address); err != nil {
			return nil, inv, err
		}
	}
	db, err := n.open(ctx, address)
	return db, inv, err
}
