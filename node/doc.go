// Package node serves one Lattice peer to people and programs that do not
// write Go: an HTTP/JSON API shaped like MongoDB's Data API, a
// server-sent-events change stream, share links (invites) with their QR
// codes, Prometheus metrics, and the embedded to-do web app.
//
// A caller starts an engine, wraps it with New and serves the node's Handler
// on a listener (Serve does both and enforces the loopback rule):
//
//	e, _ := engine.New(ctx, engine.WithDataDir(dir), engine.WithListenAddrs(listen),
//		node.DialPolicy(node.DialPolicyConfig{Listen: listenAddrs})) // what links may make it dial
//	n, _ := node.New(ctx, e, node.DefaultConfig())
//	ln, _ := net.Listen("tcp", "127.0.0.1:5080")
//	go n.Serve(ln)
//	...
//	n.Close() // stops serving and ends every event stream
//	e.Close()
//
// The node does not own the engine: close the node first, then the engine.
//
// # Routes
//
//	GET  /v1/id                  {"peerId", "addrs"}
//	GET  /v1/peers               {"peers": [{"peerId", "addrs", "kind", "transport"}]}
//	POST /v1/connect             {"addr"} -> {"peerId"}
//	POST /v1/databases           {"name", "access", "meta", "deterministic"} -> 201 {"address", "name"}
//	POST /v1/databases/open      {"address"} -> {"address", "name"}
//	POST /v1/databases/leave     {"address", "forget"} -> {"address", "forgotten"}: close it here; forget
//	                             deletes the local data, otherwise it is kept and marked "left"
//	GET  /v1/databases           {"databases": [{"address", "name", "open", "access", "meta", "left"}]}
//	GET  /v1/databases/stats?database=A  replication counters of A (engine.Stats), catch-up progress
//	                             included: {"catchup": {"runs", "blocks", "bytes", "remaining", ...}},
//	                             and "peers", the peers on the database's topic now; "documents" (live),
//	                             "history" {"blocks", "bytes", "merged", "compactions"} and "lastSnapshot"
//	                             {"height", "time", "producer", "covered"} (null if none)
//	POST /v1/databases/compact   {"database"} -> {"before": {"blocks", "bytes"}, "after": {"blocks", "bytes"}}:
//	                             compacts A while it stays open (409 archive on an archive node)
//	POST /v1/action/<name>       MongoDB Data API style actions, see below
//	GET  /v1/events?database=A   server-sent events of database A (&ticket=T in token mode, for browsers)
//	POST /v1/events/ticket       -> {"ticket", "expiresIn"}: a single-use ticket for one event stream
//	POST /v1/invites             {"database", "collection", "topic", "title"} -> {"link", "qr"}
//	POST /v1/invites/inspect     {"link"} -> {"peerId", "addrs", "database", "name", "collection", "title", "own"}, dials nothing
//	GET  /v1/invites/qr?link=L   PNG QR code of invite link L
//	POST /v1/join                {"link"} -> {"address", "name", "peerId"}
//	GET  /metrics                Prometheus text format
//	GET  /                       the to-do web app (static, embedded)
//
// # Access
//
// The access field of POST /v1/databases chooses the access controller:
//
//	absent                                   only this peer may write (the engine's default)
//	{"type": "open"}                         anyone may write
//	{"type": "static", "writers": [ids]}     the listed peer IDs may write
//	{"type": "dynamic", "admins": [ids]}     admins grant and revoke writers
//	{"type": T, "params": {...}}             any registered controller, raw parameters
//
// A type no registered controller has is 400 bad_request naming it, with or
// without params.
//
// The manifest (name, access, meta) is the database's identity: creating
// twice with equal fields, on any peer, gives the same address. The web app
// passes {"creator", "created", "title"} as meta so each new list is a new
// database (plus "auto" on the list it makes by itself, which joining
// replaces while it is still empty), and creates its TodoList with open
// access so that invitees can write. A list's to-dos are in collection
// "todos"; its current name, replicated like them, is document "list" of
// collection "about" ({"name", "deleted"}), the manifest's title until a
// rename. Leaving a list is POST /v1/databases/leave; deleting it for
// everyone deletes its to-dos, sets "deleted" and forgets it.
//
// The app keeps a list in memory, newest first, and follows the event
// stream one document at a time: an event names a document, the app reads
// that one (findOne by _id, or a burst in one find by _id $in), and
// changes that one row. It shows 200 rows and more as the list scrolls.
// Its status is the list's: "Synced with N people" from the database's
// topic peers (the "peers" of GET /v1/databases/stats), and after a join
// "Catching up… N to-dos so far" until the node has merged what it
// received and the page shows every to-do the node has.
//
// # Actions
//
// POST /v1/action/<name> takes {"database": <address>, "collection": <name>}
// plus, by action, "document", "documents", "filter", "update",
// "replacement", "sort" (an object whose key order is the sort order),
// "limit", "skip", "projection", "upsert", "field" (distinct) and
// "maxTimeMS" (find, findOne, countDocuments, distinct):
//
//	insertOne       document               -> 201 {"insertedId"}
//	insertMany      documents              -> 201 {"insertedIds"}
//	findOne         filter, sort, projection -> {"document"} (null when nothing matches)
//	find            filter, sort, limit, skip, projection -> {"documents"}
//	updateOne       filter, update, upsert -> {"matchedCount", "modifiedCount", "upsertedId"}
//	updateMany      filter, update, upsert -> same
//	replaceOne      filter, replacement, upsert -> same
//	deleteOne       filter                 -> {"deletedCount"}
//	deleteMany      filter                 -> {"deletedCount"}
//	countDocuments  filter                 -> {"count"}
//	distinct        field, filter          -> {"values"}
//
// Reads (find, findOne, countDocuments, distinct) run under a time limit:
// Config.QueryTimeout (30 s), or "maxTimeMS", an integer from 1 to that
// limit (a request may shorten it, not lengthen it; other actions refuse
// the field). Past it the answer is 504 timeout, even when the engine
// finished the read without noticing its context.
//
// Numbers keep their precision: integers that fit an int64 stay integers.
// Every action is one atomic engine call, so a request that fails (bad JSON,
// an unknown operator, a duplicate _id in insertMany) changes nothing.
//
// # Errors
//
// Every error, the refusals of the guard and of cross-origin protection
// included, is {"error": {"code", "message"}} with a fitting status:
// 400 bad_json, bad_request, bad_document, unknown_operator, bad_operand,
// bad_address; 401 unauthorized; 403 forbidden (the access controller refused
// the write, a non-loopback client or Host without a token, or a
// cross-origin browser request); 404 not_found (route or database); 405
// method_not_allowed; 409 duplicate_key; 413 too_large; 429
// too_many_streams (this client's); 502 connect_failed ("could not reach
// the inviter" or "the peer", nothing more: the reason is logged, so that a
// link cannot be used to scan ports); 503 too_many_streams (the node's),
// too_many_databases, too_many_tickets, unavailable; 504 timeout; 501
// not_implemented; 500 internal. Every response carries
// X-Content-Type-Options: nosniff.
//
// # Limits
//
// Config bounds what a client can hold (lattice node has a flag for each):
//
//	ReadHeaderTimeout    10 s   to send a request's headers
//	ReadTimeout          60 s   to send a whole request, body included
//	WriteTimeout          2 min to answer (for an event stream: to write each event or heartbeat)
//	IdleTimeout          60 s   between requests on a keep-alive connection
//	MaxStreams           256    event streams open at once (503 past it)
//	MaxStreamsPerClient   16    per client IP address, the app's and others' apart (429 past it)
//	MaxDatabases         256    databases open (503 too_many_databases past it)
//	QueryTimeout         30 s   per read, and the largest maxTimeMS
//	MaxBodyBytes         4 MiB  per request body (413 past it)
//
// A client refused by the guard (401, 403) has its connection closed after
// the answer.
//
// # Tokens and loopback
//
// Without a token the node serves loopback listeners only, answers only
// loopback clients, and only for Host headers naming a loopback host (which
// defeats DNS rebinding). With Config.Token every /v1 route and /metrics
// needs "Authorization: Bearer <token>", from that header only: a token in
// a URL ends up in histories, logs and Referer headers. Browsers cannot set
// the header on an EventSource, so GET /v1/events also takes
// ?ticket=<ticket>, a single-use ticket valid for 30 s from POST
// /v1/events/ticket (which needs the token); the web app loads QR codes
// with fetch and the header. The web app's static files are public (they
// hold no data); the app reads the token from its URL fragment
// (http://host:port/#token=T, which `lattice node` prints), keeps it in the
// browser's localStorage, drops the fragment from the address bar, and asks
// before a later #token= replaces a stored token. Unsafe cross-origin
// browser requests are refused (http.CrossOriginProtection), and so are
// event streams a browser opens for another site's page
// (Sec-Fetch-Site cross-site or same-site) or with a foreign Origin.
//
// Without a token, any local user and program can use the API: on a
// shared machine serve it on a Unix socket only its owner can open
// (`lattice node --api-socket PATH`, created 0600; Serve accepts a Unix
// listener without a token).
//
// # Addresses
//
// POST /v1/databases makes a new database each time: its manifest carries
// a random nonce, so its address cannot be guessed and two creators of one
// name never share a database. "deterministic": true leaves the nonce
// out (engine.WithDeterministicAddress). The address opens the database:
// /metrics labels a database by its name and a short hash of the address
// (TodoList#1a2b3c4d), and errors name only addresses the caller gave.
//
// # Events
//
// GET /v1/events?database=A streams engine events as
//
//	event: <write|replicated|peer-joined|peer-left>
//	data: {"type", "collection", "id", "deleted", "peer"}
//
// with a ": ping" comment every Config.Heartbeat, until the client goes away,
// the database closes or the node closes. The stream starts with an
// "event: ready" carrying {"database"} once the subscription is in place, so
// a client that reads after "ready" misses nothing.
//
// # Invites
//
// An invite link is lattice://join?peer=<peer ID>&addr=<multiaddr>&...&db=<address>
// (see Invite). The invitee's node dials the inviter and opens the database.
// A link without db ("topic": true) uses the seed demo's form: the invitee
// subscribes to the pubsub topic /lattice/invite/<inviter peer ID>, where
// the inviter announces the databases it shared in that form, to every
// peer that subscribes: anyone who knows its peer ID. Other invites are
// not announced. A collection name must be a valid name, and a link is
// fitted to what inspect and the QR route accept, or refused with 400. That form needs the engine to expose its pubsub
// (an engine with a PubSub() *pubsub.PubSub method); without it the node
// answers 501.
//
// Links are bounded: at most MaxLinkLen bytes and MaxLinkAddrs addresses,
// each at most dialpolicy.MaxAddrLen bytes. What the node dials is decided
// by its dial policy (internal/dialpolicy, put on the engine by
// DialPolicy): no loopback, link-local or unspecified targets unless the
// node listens on loopback (link-local) itself or allows local dials;
// private ranges are allowed, for LAN sync.
//
// In the web app, the share panel shows the link (with the list's name as
// its title) and its QR code; on the
// other node's app, paste the link into "Join a list", or open
// http://<that node's API>/#join=<URL-encoded link>, which shows the list
// and who shares it (POST /v1/invites/inspect) and joins only when the
// user clicks Join: nothing changes state from a URL alone.
package node
