package node_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/discovery"
	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/internal/poll"
	"github.com/latticedb/lattice/node"
	"github.com/latticedb/lattice/query"
)

func TestID(t *testing.T) {
	a := startNode(t)
	out := a.ok(200, "GET", "/v1/id", nil)
	require.Equal(t, a.e.ID().String(), out["peerId"])
	addrs := out["addrs"].([]any)
	require.NotEmpty(t, addrs)
	require.Contains(t, addrs[0], "/p2p/"+a.e.ID().String())
	require.Contains(t, []any{"unknown", "public", "private"}, out["reachability"])
	require.Equal(t, map[string]any{"ready": false, "attempts": json.Number("0"), "successes": json.Number("0")}, out["holePunch"])
}

func TestActions(t *testing.T) {
	a := startNode(t)
	db := a.createDB("Things")

	// Inserts: 201, generated and caller's ids.
	out := a.act("insertOne", db, map[string]any{"document": map[string]any{"title": "milk", "n": 1, "isDone": false}})
	milk := out["insertedId"]
	require.NotEmpty(t, milk)
	out = a.act("insertMany", db, map[string]any{"documents": []any{
		map[string]any{"_id": "b", "title": "bread", "n": 2, "isDone": true, "tags": []any{"food", "bakery"}},
		map[string]any{"_id": "c", "title": "cheese", "n": 3, "isDone": false, "tags": []any{"food"}},
		// Beyond float64's exact range: must come back unchanged.
		map[string]any{"_id": "big", "title": "big", "n": json.Number("9007199254740993"), "isDone": true},
	}})
	require.Equal(t, []any{"b", "c", "big"}, out["insertedIds"])

	// findOne: found, projected; not found is {"document": null}.
	out = a.act("findOne", db, map[string]any{"filter": map[string]any{"_id": "big"}})
	require.Equal(t, json.Number("9007199254740993"), out["document"].(map[string]any)["n"])
	out = a.act("findOne", db, map[string]any{"filter": map[string]any{"isDone": true}, "sort": map[string]any{"n": -1}, "projection": map[string]any{"title": 1}})
	require.Equal(t, map[string]any{"_id": "big", "title": "big"}, out["document"])
	out = a.act("findOne", db, map[string]any{"filter": map[string]any{"title": "nope"}})
	require.Contains(t, out, "document")
	require.Nil(t, out["document"])

	// find with a multi-key sort whose key order matters, skip and limit.
	body := `{"database":"` + db + `","collection":"todos","filter":{"n":{"$gte":1}},"sort":{"isDone":1,"n":-1},"skip":1,"limit":2,"projection":{"_id":0,"title":1}}`
	out = a.ok(200, "POST", "/v1/action/find", body)
	require.Equal(t, []any{map[string]any{"title": "milk"}, map[string]any{"title": "big"}}, out["documents"])
	out = a.act("find", db, map[string]any{"filter": map[string]any{"title": "none"}})
	require.Equal(t, []any{}, out["documents"])

	// Updates.
	out = a.act("updateOne", db, map[string]any{"filter": map[string]any{"_id": "c"}, "update": map[string]any{"$set": map[string]any{"isDone": true}, "$inc": map[string]any{"n": 10}}})
	require.Equal(t, map[string]any{"matchedCount": json.Number("1"), "modifiedCount": json.Number("1")}, out)
	out = a.act("updateMany", db, map[string]any{"filter": map[string]any{"tags": "food"}, "update": map[string]any{"$addToSet": map[string]any{"tags": "shop"}}})
	require.Equal(t, json.Number("2"), out["matchedCount"])
	out = a.act("updateOne", db, map[string]any{"filter": map[string]any{"_id": "new"}, "update": map[string]any{"$set": map[string]any{"title": "upserted"}}, "upsert": true})
	require.Equal(t, "new", out["upsertedId"])
	out = a.act("replaceOne", db, map[string]any{"filter": map[string]any{"_id": "new"}, "replacement": map[string]any{"title": "replaced", "n": 7}})
	require.Equal(t, json.Number("1"), out["modifiedCount"])
	out = a.act("findOne", db, map[string]any{"filter": map[string]any{"_id": "new"}})
	require.Equal(t, map[string]any{"_id": "new", "title": "replaced", "n": json.Number("7")}, out["document"])

	// Counting and distinct.
	out = a.act("countDocuments", db, map[string]any{"filter": map[string]any{"isDone": true}})
	require.Equal(t, json.Number("3"), out["count"])
	out = a.act("distinct", db, map[string]any{"field": "tags"})
	require.Equal(t, []any{"bakery", "food", "shop"}, out["values"])

	// Deletes.
	out = a.act("deleteOne", db, map[string]any{"filter": map[string]any{"_id": milk}})
	require.Equal(t, json.Number("1"), out["deletedCount"])
	out = a.act("deleteMany", db, map[string]any{"filter": map[string]any{"isDone": true}})
	require.Equal(t, json.Number("3"), out["deletedCount"])
	out = a.act("countDocuments", db, nil)
	require.Equal(t, json.Number("1"), out["count"])

	// Databases are listed, most recently used first.
	other := a.createDB("Other")
	out = a.ok(200, "GET", "/v1/databases", nil)
	dbs := out["databases"].([]any)
	require.Len(t, dbs, 2)
	require.Equal(t, other, dbs[0].(map[string]any)["address"])
	require.Equal(t, true, dbs[1].(map[string]any)["open"])
	require.Equal(t, "open", dbs[1].(map[string]any)["access"])
	out = a.ok(200, "POST", "/v1/databases/open", map[string]any{"address": db})
	require.Equal(t, "Things", out["name"])

	// Its counters, catch-up progress included.
	out = a.ok(200, "GET", "/v1/databases/stats?database="+url.QueryEscape(db), nil)
	require.Equal(t, json.Number("1"), out["documents"])
	require.Contains(t, out, "catchup")
	require.Contains(t, out["catchup"], "remaining")
}

func TestErrors(t *testing.T) {
	a := startNode(t, func(c *node.Config) { c.MaxBodyBytes = 64 << 10 })
	db := a.createDB("Errors")
	a.act("insertOne", db, map[string]any{"document": map[string]any{"_id": "x", "n": 1}})
	unknownDB := strings.Replace(db, "/Errors", "/Other", 1)
	// A valid address of a database nobody has: same CID shape, other name.
	big := `{"database":"` + db + `","collection":"todos","document":{"s":"` + strings.Repeat("a", 70<<10) + `"}}`

	cases := []struct {
		name   string
		method string
		path   string
		body   string
		status int
		code   string
	}{
		{"bad JSON", "POST", "/v1/action/insertOne", `{"database":`, 400, "bad_json"},
		{"empty body", "POST", "/v1/action/insertOne", ``, 400, "bad_json"},
		{"trailing data", "POST", "/v1/action/find", `{"database":"` + db + `","collection":"todos"} {}`, 400, "bad_json"},
		{"unknown field", "POST", "/v1/action/find", `{"database":"` + db + `","collection":"todos","filters":{}}`, 400, "bad_request"},
		{"missing database", "POST", "/v1/action/find", `{"collection":"todos"}`, 400, "bad_request"},
		{"missing collection", "POST", "/v1/action/find", `{"database":"` + db + `"}`, 400, "bad_request"},
		{"unknown operator", "POST", "/v1/action/find", `{"database":"` + db + `","collection":"todos","filter":{"n":{"$foo":1}}}`, 400, "unknown_operator"},
		{"unknown update operator", "POST", "/v1/action/updateMany", `{"database":"` + db + `","collection":"todos","filter":{},"update":{"$frob":{"n":1}}}`, 400, "unknown_operator"},
		{"update without operator", "POST", "/v1/action/updateOne", `{"database":"` + db + `","collection":"todos","filter":{},"update":{"n":2}}`, 400, "bad_request"},
		{"bad operand", "POST", "/v1/action/find", `{"database":"` + db + `","collection":"todos","filter":{"n":{"$in":5}}}`, 400, "bad_operand"},
		{"bad document", "POST", "/v1/action/insertOne", `{"database":"` + db + `","collection":"todos","document":{"$bad":1}}`, 400, "bad_document"},
		{"document not an object", "POST", "/v1/action/insertOne", `{"database":"` + db + `","collection":"todos","document":[1]}`, 400, "bad_request"},
		{"bad sort", "POST", "/v1/action/find", `{"database":"` + db + `","collection":"todos","sort":{"n":2}}`, 400, "bad_request"},
		{"negative limit", "POST", "/v1/action/find", `{"database":"` + db + `","collection":"todos","limit":-1}`, 400, "bad_operand"},
		{"deleteMany without filter", "POST", "/v1/action/deleteMany", `{"database":"` + db + `","collection":"todos"}`, 400, "bad_request"},
		{"duplicate key", "POST", "/v1/action/insertOne", `{"database":"` + db + `","collection":"todos","document":{"_id":"x"}}`, 409, "duplicate_key"},
		{"malformed address", "POST", "/v1/action/find", `{"database":"/nope","collection":"todos"}`, 400, "bad_address"},
		{"unknown database", "POST", "/v1/action/find", `{"database":"` + unknownDB + `","collection":"todos"}`, 404, "not_found"},
		{"unknown database events", "GET", "/v1/events?database=" + unknownDB, ``, 404, "not_found"},
		{"unknown action", "POST", "/v1/action/explode", `{}`, 404, "not_found"},
		{"unknown route", "GET", "/v1/nothing", ``, 404, "not_found"},
		{"wrong method", "DELETE", "/v1/databases", ``, 405, "method_not_allowed"},
		{"oversized body", "POST", "/v1/action/insertOne", big, 413, "too_large"},
		{"bad access", "POST", "/v1/databases", `{"name":"x","access":{"type":"static","writers":["nope"]}}`, 400, "bad_request"},
		{"bad connect addr", "POST", "/v1/connect", `{"addr":"/ip4/127.0.0.1/tcp/1"}`, 400, "bad_request"},
		{"bad link", "POST", "/v1/join", `{"link":"https://example.com"}`, 400, "bad_request"},
		{"regex too long", "POST", "/v1/action/find", `{"database":"` + db + `","collection":"todos","filter":{"s":{"$regex":"` + strings.Repeat("a", query.MaxRegexLength+1) + `"}}}`, 400, "limit_exceeded"},
		{"regex program too large", "POST", "/v1/action/find", `{"database":"` + db + `","collection":"todos","filter":{"s":{"$regex":"[a-z]{1,1000}[0-9]{1,1000}[a-z]{1,1000}"}}}`, 400, "limit_exceeded"},
		{"$each over cap", "POST", "/v1/action/updateOne", `{"database":"` + db + `","collection":"todos","filter":{"_id":"x"},"update":{"$addToSet":{"t":{"$each":[` + strings.Repeat("1,", query.MaxEachItems) + `1]}}}}`, 400, "limit_exceeded"},
		{"insertMany over cap", "POST", "/v1/action/insertMany", `{"database":"` + db + `","collection":"todos","documents":[` + strings.Repeat("{},", engine.DefaultMaxBatchDocuments) + `{}]}`, 400, "limit_exceeded"},
		// Refused at the cap, before the rest is decoded: a malformed
		// element past it is never reached.
		{"insertMany over cap, malformed after", "POST", "/v1/action/insertMany", `{"database":"` + db + `","collection":"todos","documents":[` + strings.Repeat("{},", engine.DefaultMaxBatchDocuments+10) + `7]}`, 400, "limit_exceeded"},
		{"insertMany not an array", "POST", "/v1/action/insertMany", `{"database":"` + db + `","collection":"todos","documents":{"a":1}}`, 400, "bad_request"},
		{"insertMany empty", "POST", "/v1/action/insertMany", `{"database":"` + db + `","collection":"todos","documents":[]}`, 400, "bad_request"},
		{"insertMany element not an object", "POST", "/v1/action/insertMany", `{"database":"` + db + `","collection":"todos","documents":[{},3]}`, 400, "bad_request"},
		{"insertMany bad number", "POST", "/v1/action/insertMany", `{"database":"` + db + `","collection":"todos","documents":[{"n":1e999}]}`, 400, "bad_json"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var body any
			if c.body != "" {
				body = c.body
			}
			status, out := a.do(c.method, c.path, body)
			require.Equal(t, c.status, status, "%v", out)
			require.Equal(t, c.code, errCode(out), "%v", out)
			require.NotEmpty(t, out["error"].(map[string]any)["message"])
		})
	}

	// Nothing was half-applied: insertMany with one duplicate inserts none,
	// updateMany with a failing update changes none.
	status, out := a.do("POST", "/v1/action/insertMany", map[string]any{"database": db, "collection": "todos",
		"documents": []any{map[string]any{"_id": "y"}, map[string]any{"_id": "x"}}})
	require.Equal(t, 409, status, "%v", out)
	a.act("insertOne", db, map[string]any{"document": map[string]any{"_id": "s", "n": "a string"}})
	status, out = a.do("POST", "/v1/action/updateMany", map[string]any{"database": db, "collection": "todos",
		"filter": map[string]any{}, "update": map[string]any{"$inc": map[string]any{"n": 1}}})
	require.Equal(t, 400, status, "%v", out)
	out = a.act("find", db, map[string]any{"sort": map[string]any{"_id": 1}})
	require.Equal(t, []any{
		map[string]any{"_id": "s", "n": "a string"},
		map[string]any{"_id": "x", "n": json.Number("1")},
	}, out["documents"])
}

// TestUnknownAccessType: an access-controller type nobody registered is the
// client's mistake (400) and the answer names it, with or without params;
// "needs params" would send the user looking for params that cannot help.
func TestUnknownAccessType(t *testing.T) {
	a := startNode(t)
	for _, body := range []string{
		`{"name":"x","access":{"type":"nope","params":{}}}`,
		`{"name":"x","access":{"type":"nope"}}`,
	} {
		status, out := a.do("POST", "/v1/databases", body)
		require.Equal(t, 400, status, "%s: %v", body, out)
		require.Equal(t, "bad_request", errCode(out), "%s: %v", body, out)
		msg := out["error"].(map[string]any)["message"].(string)
		require.Contains(t, msg, `"nope"`, body)
		require.Contains(t, msg, "unknown", body)
		require.NotContains(t, msg, "needs params", body)
	}
	// A known type without its params still says what is missing.
	status, out := a.do("POST", "/v1/databases", `{"name":"x","access":{"type":"token"}}`)
	require.Equal(t, 400, status, "%v", out)
	require.Contains(t, out["error"].(map[string]any)["message"], "token")
}

func TestForbiddenWrite(t *testing.T) {
	a, b := startNode(t), startNode(t)
	// Only B may write to this database; A holds it but cannot write.
	out := a.ok(201, "POST", "/v1/databases", map[string]any{"name": "Theirs",
		"access": map[string]any{"type": "static", "writers": []string{b.e.ID().String()}}})
	status, out := a.do("POST", "/v1/action/insertOne", map[string]any{"database": out["address"], "collection": "todos", "document": map[string]any{"a": 1}})
	require.Equal(t, 403, status, "%v", out)
	require.Equal(t, "forbidden", errCode(out))
}

func TestMetrics(t *testing.T) {
	a := startNode(t)
	db := a.createDB("Metrics")
	a.act("insertOne", db, map[string]any{"document": map[string]any{"a": 1}})
	res, err := a.client.Get(a.url + "/metrics")
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, 200, res.StatusCode)
	text := readAll(t, res)
	// The label is the name and a short hash, never the address (which
	// opens the database, and metrics travel to other systems).
	sum := sha256.Sum256([]byte("lattice-metrics-v1\n" + db))
	label := "Metrics#" + hex.EncodeToString(sum[:4])
	addr, err := engine.ParseAddress(db)
	require.NoError(t, err)
	require.NotContains(t, text, addr.Manifest.String())
	for _, want := range []string{
		`lattice_peers{kind="direct",transport="tcp"} 0`,
		`lattice_db_local_writes_total{database="` + label + `"} 1`,
		`lattice_replication_lag{database="` + label + `"}`,
		`lattice_db_heads{database="` + label + `"}`,
		`lattice_blocks_fetched_total`,
		`lattice_peers{kind="holepunched",transport="quic"} 0`,
		`lattice_reachability{reachability="unknown"} 1`,
		`lattice_holepunch_attempts_total 0`,
		`lattice_holepunch_successes_total 0`,
		`lattice_http_requests_total{code="201",route="/v1/action/{name}"} 1`,
	} {
		require.Contains(t, text, want)
	}
}

func TestWebAppServed(t *testing.T) {
	a := startNode(t)
	for path, ctype := range map[string]string{"/": "text/html", "/app.js": "text/javascript", "/app.css": "text/css", "/favicon.svg": "image/svg+xml"} {
		res, err := a.client.Get(a.url + path)
		require.NoError(t, err)
		body := readAll(t, res)
		res.Body.Close()
		require.Equal(t, 200, res.StatusCode, path)
		require.Contains(t, res.Header.Get("Content-Type"), ctype, path)
		require.NotEmpty(t, body)
		require.Contains(t, res.Header.Get("Content-Security-Policy"), "default-src 'self'")
	}
	res, err := a.client.Get(a.url + "/")
	require.NoError(t, err)
	defer res.Body.Close()
	html := readAll(t, res)
	require.NotContains(t, html, "http://", "the app must not load anything from elsewhere")
	require.NotContains(t, html, "https://")
}

func readAll(t testing.TB, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return string(b)
}

// TestMetricsDiscoveryAndWatchdog: /metrics reports what discovery found
// and dialled (engine.DiscoveryStats) and the pubsub watchdog's revivals.
func TestMetricsDiscoveryAndWatchdog(t *testing.T) {
	a := startNode(t)
	b := startNodeWith(t, []engine.Option{
		engine.WithDiscovery(discovery.Bootstrap(peer.AddrInfo{ID: a.e.ID(), Addrs: a.e.Host().Addrs()})),
		engine.WithPubsubWatchdog(time.Second),
	})
	var text string
	poll.Eventually(t, 60*time.Second, func() error {
		res, err := b.client.Get(b.url + "/metrics")
		if err != nil {
			return err
		}
		text = readAll(t, res)
		res.Body.Close()
		if !strings.Contains(text, "lattice_discovery_connected_total 1\n") {
			return errors.New("discovery has not connected a yet")
		}
		return nil
	})
	for _, want := range []string{
		"lattice_discovery_found_total ",
		"lattice_discovery_dials_total 1\n",
		"lattice_discovery_dropped_total 0\n",
		"lattice_discovery_dials_in_flight 0\n",
		"lattice_discovery_dials_in_flight_max 1\n",
		"lattice_pubsub_revivals_total 0\n",
		"lattice_relay_circuits_closed_total 0\n",
		"lattice_holepunch_redials_total 0\n",
		"lattice_relay_switch_repairs_total 0\n",
	} {
		require.Contains(t, text, want)
	}
	require.NotContains(t, text, "lattice_discovery_found_total 0\n")
	// a has no discovery: its counters are there, at zero.
	res, err := a.client.Get(a.url + "/metrics")
	require.NoError(t, err)
	defer res.Body.Close()
	require.Contains(t, readAll(t, res), "lattice_discovery_found_total 0\n")
}

// TestCreateGivesUniqueAddresses: README's open "Notes" created twice (or
// by two strangers) is two databases; "deterministic": true asks for the
// address that follows from the name and rules.
func TestCreateGivesUniqueAddresses(t *testing.T) {
	a := startNode(t)
	body := map[string]any{"name": "Notes", "access": map[string]any{"type": "open"}}
	one := a.ok(201, "POST", "/v1/databases", body)["address"].(string)
	two := a.ok(201, "POST", "/v1/databases", body)["address"].(string)
	require.NotEqual(t, one, two)
	body["deterministic"] = true
	det1 := a.ok(201, "POST", "/v1/databases", body)["address"].(string)
	det2 := a.ok(201, "POST", "/v1/databases", body)["address"].(string)
	require.Equal(t, det1, det2)
	require.NotEqual(t, one, det1)
}
