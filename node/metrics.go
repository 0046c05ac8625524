package node

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/latticedb/lattice/discovery"
	"github.com/latticedb/lattice/engine"
	"github.com/latticedb/lattice/transports"
)

// metrics holds the node's Prometheus registry: HTTP counters, event
// streams, and a collector that reads the engine's replication counters at
// scrape time.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	streams  prometheus.Gauge
}

func newMetrics(n *Node) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lattice_http_requests_total",
			Help: "HTTP requests served, by route and status code.",
		}, []string{"route", "code"}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lattice_event_streams",
			Help: "Open server-sent event streams.",
		}),
	}
	m.reg.MustRegister(m.requests, m.streams, &engineCollector{n: n},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// instrument counts a route's requests by status code.
func (m *metrics) instrument(route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		m.requests.WithLabelValues(route, strconv.Itoa(sw.status)).Inc()
	})
}

// statusWriter records the status code; Unwrap lets http.ResponseController
// reach the underlying writer's Flush.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// engineCollector reports the engine's peers and each open database's
// replication counters.
type engineCollector struct{ n *Node }

var _ prometheus.Collector = (*engineCollector)(nil)

// statsView is engine.Stats, named locally for the table below.
type statsView = engine.Stats

var (
	descPeers          = prometheus.NewDesc("lattice_peers", "Connected peers, by connection kind (direct, holepunched or relayed) and transport.", []string{"kind", "transport"}, nil)
	descReach          = prometheus.NewDesc("lattice_reachability", "AutoNAT's reachability of this node: 1 for the current one of unknown, public, private.", []string{"reachability"}, nil)
	descPunchAttempts  = prometheus.NewDesc("lattice_holepunch_attempts_total", "Hole punch attempts (DCUtR), as initiator or responder.", nil, nil)
	descPunchSuccesses = prometheus.NewDesc("lattice_holepunch_successes_total", "Hole punch attempts that made a direct connection.", nil, nil)
	descDBs            = prometheus.NewDesc("lattice_databases_open", "Databases open on this node.", nil, nil)
	descCircuitsClosed = prometheus.NewDesc("lattice_relay_circuits_closed_total", "Relay circuits this node closed because the peer was connected directly too.", nil, nil)
	descRepunches      = prometheus.NewDesc("lattice_holepunch_redials_total", "Peers reached only through a relay that this node redialled, when it became ready to hole-punch, so that they are punched.", nil, nil)
	descSwitchRepairs  = prometheus.NewDesc("lattice_relay_switch_repairs_total", "Peers reconnected because gossipsub lost their subscriptions when a relay circuit gave way to a direct connection.", nil, nil)
	descRevivals       = prometheus.NewDesc("lattice_pubsub_revivals_total", "Peers reconnected because pubsub gave up on them while they stayed connected (the pubsub watchdog).", nil, nil)

	// Discovery: engine.DiscoveryStats, zero without discovery.
	discoveryCounters = []struct {
		desc *prometheus.Desc
		get  func(s discovery.Stats) float64
	}{
		{prometheus.NewDesc("lattice_discovery_found_total", "Peers reported by discovery sources.", nil, nil), func(s discovery.Stats) float64 { return float64(s.Found) }},
		{prometheus.NewDesc("lattice_discovery_queued_total", "Found peers queued for a dial.", nil, nil), func(s discovery.Stats) float64 { return float64(s.Queued) }},
		{prometheus.NewDesc("lattice_discovery_dropped_total", "Found peers dropped: no usable address, or pushed out of a full queue.", nil, nil), func(s discovery.Stats) float64 { return float64(s.Dropped) }},
		{prometheus.NewDesc("lattice_discovery_dropped_addrs_total", "Discovered addresses dropped: malformed, undialable, or past the per-peer cap.", nil, nil), func(s discovery.Stats) float64 { return float64(s.DroppedAddrs) }},
		{prometheus.NewDesc("lattice_discovery_dials_total", "Dials discovery started.", nil, nil), func(s discovery.Stats) float64 { return float64(s.Dialed) }},
		{prometheus.NewDesc("lattice_discovery_connected_total", "Discovery dials that connected.", nil, nil), func(s discovery.Stats) float64 { return float64(s.Connected) }},
		{prometheus.NewDesc("lattice_discovery_failed_total", "Discovery dials that failed.", nil, nil), func(s discovery.Stats) float64 { return float64(s.Failed) }},
		{prometheus.NewDesc("lattice_discovery_retried_total", "Failed discovery dials queued again.", nil, nil), func(s discovery.Stats) float64 { return float64(s.Retried) }},
	}
	discoveryGauges = []struct {
		desc *prometheus.Desc
		get  func(s discovery.Stats) float64
	}{
		{prometheus.NewDesc("lattice_discovery_dials_in_flight", "Discovery dials running now.", nil, nil), func(s discovery.Stats) float64 { return float64(s.InFlight) }},
		{prometheus.NewDesc("lattice_discovery_dials_in_flight_max", "Most discovery dials that ran at once.", nil, nil), func(s discovery.Stats) float64 { return float64(s.MaxInFlight) }},
	}

	descBlocksFetched = prometheus.NewDesc("lattice_blocks_fetched_total", "Blocks received by bitswap (whole engine).", nil, nil)
	descBitswapIn     = prometheus.NewDesc("lattice_bitswap_received_bytes_total", "Bytes received by bitswap (whole engine).", nil, nil)
	descBitswapOut    = prometheus.NewDesc("lattice_bitswap_sent_bytes_total", "Bytes sent by bitswap (whole engine).", nil, nil)

	dbLabels = []string{"database"}
	descLag  = prometheus.NewDesc("lattice_replication_lag", "Replication backlog of a database: heads waiting for go-ds-crdt plus merged changes not yet visible to queries. Zero when caught up.", dbLabels, nil)

	dbGauges = []struct {
		desc *prometheus.Desc
		get  func(s statsView) float64
	}{
		{prometheus.NewDesc("lattice_db_heads", "Current DAG heads.", dbLabels, nil), func(s statsView) float64 { return float64(s.Heads) }},
		{prometheus.NewDesc("lattice_db_height", "Current DAG height.", dbLabels, nil), func(s statsView) float64 { return float64(s.MaxHeight) }},
		{prometheus.NewDesc("lattice_db_queued_heads", "Heads waiting for go-ds-crdt.", dbLabels, nil), func(s statsView) float64 { return float64(s.QueuedHeads) }},
		{prometheus.NewDesc("lattice_db_pending_changes", "Merged changes not yet visible to queries.", dbLabels, nil), func(s statsView) float64 { return float64(s.PendingChanges) }},
		{prometheus.NewDesc("lattice_db_documents", "Live documents, all collections.", dbLabels, nil), func(s statsView) float64 { return float64(s.Documents) }},
		{prometheus.NewDesc("lattice_db_catchup_remaining_blocks", "Blocks a running catch-up knows are missing (an estimate).", dbLabels, nil), func(s statsView) float64 { return float64(s.Catchup.Remaining) }},
	}
	dbCounters = []struct {
		desc *prometheus.Desc
		get  func(s statsView) float64
	}{
		{prometheus.NewDesc("lattice_db_local_writes_total", "Documents changed by local writes.", dbLabels, nil), func(s statsView) float64 { return float64(s.LocalWrites) }},
		{prometheus.NewDesc("lattice_db_remote_applied_total", "Documents changed by remote writes.", dbLabels, nil), func(s statsView) float64 { return float64(s.RemoteApplied) }},
		{prometheus.NewDesc("lattice_db_commits_total", "Deltas written locally.", dbLabels, nil), func(s statsView) float64 { return float64(s.Commits) }},
		{prometheus.NewDesc("lattice_db_heads_sent_total", "Heads announced.", dbLabels, nil), func(s statsView) float64 { return float64(s.HeadsSent) }},
		{prometheus.NewDesc("lattice_db_heads_received_total", "Heads received in valid messages.", dbLabels, nil), func(s statsView) float64 { return float64(s.HeadsReceived) }},
		{prometheus.NewDesc("lattice_db_heads_dropped_total", "Heads dropped because the queue was full.", dbLabels, nil), func(s statsView) float64 { return float64(s.HeadsDropped) }},
		{prometheus.NewDesc("lattice_db_fetch_failures_total", "Announced heads whose block could not be fetched.", dbLabels, nil), func(s statsView) float64 { return float64(s.FetchFailures) }},
		{prometheus.NewDesc("lattice_db_rejected_total", "Messages or blocks refused (malformed or unauthorised).", dbLabels, nil), func(s statsView) float64 { return float64(s.Rejected) }},
		{prometheus.NewDesc("lattice_db_broadcast_received_bytes_total", "Broadcast bytes received.", dbLabels, nil), func(s statsView) float64 { return float64(s.BytesIn) }},
		{prometheus.NewDesc("lattice_db_broadcast_sent_bytes_total", "Broadcast bytes sent.", dbLabels, nil), func(s statsView) float64 { return float64(s.BytesOut) }},
		{prometheus.NewDesc("lattice_db_events_dropped_total", "Events a slow subscriber missed.", dbLabels, nil), func(s statsView) float64 { return float64(s.EventsDropped) }},
		{prometheus.NewDesc("lattice_db_reconnects_total", "Peers of the address book redialled successfully.", dbLabels, nil), func(s statsView) float64 { return float64(s.Reconnects) }},
		{prometheus.NewDesc("lattice_db_catchup_runs_total", "Catch-up streams started.", dbLabels, nil), func(s statsView) float64 { return float64(s.Catchup.Runs) }},
		{prometheus.NewDesc("lattice_db_catchup_failures_total", "Catch-up streams refused or broken.", dbLabels, nil), func(s statsView) float64 { return float64(s.Catchup.Failures) }},
		{prometheus.NewDesc("lattice_db_catchup_blocks_total", "Missing blocks received by catch-up.", dbLabels, nil), func(s statsView) float64 { return float64(s.Catchup.Blocks) }},
		{prometheus.NewDesc("lattice_db_catchup_bytes_total", "Bytes of the blocks received by catch-up.", dbLabels, nil), func(s statsView) float64 { return float64(s.Catchup.Bytes) }},
	}
)

// Describe implements prometheus.Collector.
func (c *engineCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPeers, descReach, descPunchAttempts, descPunchSuccesses, descDBs, descRevivals, descCircuitsClosed, descRepunches, descSwitchRepairs, descBlocksFetched, descBitswapIn, descBitswapOut, descLag} {
		ch <- d
	}
	for _, g := range discoveryCounters {
		ch <- g.desc
	}
	for _, g := range discoveryGauges {
		ch <- g.desc
	}
	for _, g := range dbGauges {
		ch <- g.desc
	}
	for _, g := range dbCounters {
		ch <- g.desc
	}
}

// Collect implements prometheus.Collector.
func (c *engineCollector) Collect(ch chan<- prometheus.Metric) {
	e := c.n.e
	type kt struct{ kind, transport string }
	counts := map[kt]int{}
	for _, p := range e.Peers() {
		conns := e.Host().Network().ConnsToPeer(p)
		if len(conns) == 0 {
			continue
		}
		k := kt{"relayed", connTransport(conns[0])}
		for _, cn := range conns {
			if !connRelayed(cn) {
				k = kt{c.n.peerKind(p, conns), connTransport(cn)}
				break
			}
		}
		counts[k]++
	}
	reach, hp := "unknown", transports.HolePunchStats{}
	var closed, repunches int64
	if t := transports.TraversalOf(e.Host()); t != nil {
		reach, hp = reachabilityName(t.Reachability()), t.HolePunches()
		closed, repunches = t.CircuitsClosed(), t.Repunches()
	}
	ch <- prometheus.MustNewConstMetric(descCircuitsClosed, prometheus.CounterValue, float64(closed))
	ch <- prometheus.MustNewConstMetric(descRepunches, prometheus.CounterValue, float64(repunches))
	ch <- prometheus.MustNewConstMetric(descSwitchRepairs, prometheus.CounterValue, float64(e.RelaySwitchRepairs()))
	for _, r := range []string{"unknown", "public", "private"} {
		v := 0.0
		if r == reach {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(descReach, prometheus.GaugeValue, v, r)
	}
	ch <- prometheus.MustNewConstMetric(descPunchAttempts, prometheus.CounterValue, float64(hp.Attempts))
	ch <- prometheus.MustNewConstMetric(descPunchSuccesses, prometheus.CounterValue, float64(hp.Successes))
	ch <- prometheus.MustNewConstMetric(descRevivals, prometheus.CounterValue, float64(e.PubsubRevivals()))
	ds := e.DiscoveryStats()
	for _, g := range discoveryCounters {
		ch <- prometheus.MustNewConstMetric(g.desc, prometheus.CounterValue, g.get(ds))
	}
	for _, g := range discoveryGauges {
		ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, g.get(ds))
	}
	for _, k := range []kt{{"direct", "tcp"}, {"direct", "quic"}, {"holepunched", "tcp"}, {"holepunched", "quic"}, {"relayed", "relay"}} {
		if _, ok := counts[k]; !ok {
			counts[k] = 0
		}
	}
	for k, v := range counts {
		ch <- prometheus.MustNewConstMetric(descPeers, prometheus.GaugeValue, float64(v), k.kind, k.transport)
	}

	dbs := c.n.openDatabases()
	ch <- prometheus.MustNewConstMetric(descDBs, prometheus.GaugeValue, float64(len(dbs)))
	var engineWide statsView
	for _, db := range dbs {
		s := db.Stats()
		addr := metricsLabel(db)
		engineWide = s
		ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, float64(s.QueuedHeads+s.PendingChanges), addr)
		for _, g := range dbGauges {
			ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, g.get(s), addr)
		}
		for _, g := range dbCounters {
			ch <- prometheus.MustNewConstMetric(g.desc, prometheus.CounterValue, g.get(s), addr)
		}
	}
	ch <- prometheus.MustNewConstMetric(descBlocksFetched, prometheus.CounterValue, float64(engineWide.BlocksFetched))
	ch <- prometheus.MustNewConstMetric(descBitswapIn, prometheus.CounterValue, float64(engineWide.BitswapDataIn))
	ch <- prometheus.MustNewConstMetric(descBitswapOut, prometheus.CounterValue, float64(engineWide.BitswapDataOut))
}

// metricsLabel is a database's "database" label: its name and a short hash
// of its address, as in TodoList#1a2b3c4d. Metrics are scraped and stored
// by other systems, which must not learn the address (it opens the
// database); the hash tells apart databases of one name.
func metricsLabel(db *engine.Database) string {
	sum := sha256.Sum256([]byte("lattice-metrics-v1\n" + db.Address()))
	return db.Name() + "#" + hex.EncodeToString(sum[:4])
}
