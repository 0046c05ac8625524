package sim

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Report is a run's outcome. Its JSON form is DIR/report.json, whose
// fields seed, peers, writes, converged, convergence_ms, bytes_per_write,
// connections and holepunch are the CLI contract (DESIGN.md).
type Report struct {
	Scenario string `json:"scenario"`
	Seed     uint64 `json:"seed"`
	// Mode is the clock the run was under: "virtual" (testing/synctest)
	// or "real".
	Mode   string `json:"mode"`
	Peers  int    `json:"peers"`
	Relays int    `json:"relays"`
	Writes int    `json:"writes"` // acknowledged writes
	// Converged is true when every replica held every acknowledged write
	// within the settle time and all replicas ended identical.
	Converged bool `json:"converged"`
	// ConvergenceMS are over every (write, replica other than the
	// writer) pair: the time from the write's acknowledgement to the
	// replica holding it. Pairs never reached are not in them; Missing
	// counts them.
	ConvergenceMS Percentiles `json:"convergence_ms"`
	// LastReplicaMS are over writes: the time until the last replica
	// held the write.
	LastReplicaMS Percentiles `json:"last_replica_ms"`
	Missing       int         `json:"missing"`
	// JoinCatchupMS are over late joiners: the time from a joiner's
	// start until it held every write made before it started.
	JoinCatchupMS []float64 `json:"join_catchup_ms,omitempty"`
	// Samples are the sorted convergence times (ms), for the CDF.
	Samples []float64 `json:"samples_ms,omitempty"`

	// BytesPerWrite is every byte sent (UDP payload, relays too) from
	// the start of the schedule to the end of the run, over the
	// acknowledged writes: the background (keep-alives, gossipsub's
	// heartbeat gossip, rebroadcasts) is in it.
	BytesPerWrite float64     `json:"bytes_per_write"`
	BytesSent     uint64      `json:"bytes_sent"`       // in the same span
	SetupBytes    uint64      `json:"setup_bytes_sent"` // before it: dials, reservations, opening the database
	BytesPerPeer  Percentiles `json:"bytes_per_peer"`   // spread of bytes sent per peer
	// RelayBytes is what the relays sent in the same span as BytesSent
	// (part of it): the traffic of relayed connections.
	RelayBytes uint64 `json:"relay_bytes_sent"`

	HeadsSent     uint64 `json:"heads_sent"`     // pubsub announcements published
	HeadsReceived uint64 `json:"heads_received"` // pubsub announcements received
	BlocksFetched uint64 `json:"blocks_fetched"` // DAG blocks fetched by bitswap
	CatchupBlocks uint64 `json:"catchup_blocks"` // DAG blocks received by catch-up
	HeadsDropped  uint64 `json:"heads_dropped"`  // announcements dropped on a full queue
	FetchFailures uint64 `json:"fetch_failures"` // announced heads whose block could not be fetched

	// Announcements say how each write's announcement first reached each
	// replica (over the pairs of ConvergenceMS).
	Announcements Arrivals `json:"announcements"`
	// PubsubOverRelay counts peer pairs whose gossipsub streams were on a
	// relay circuit at the end of the run although a direct connection
	// joined them: announcements between them crossed the relay's link,
	// shared with every other relayed peer, for nothing.
	PubsubOverRelay int `json:"pubsub_over_relay"`

	// Unreserved counts the peers behind NATs that held no relay
	// reservation when the schedule began (a relay holds 128): nobody
	// can dial them, they can only dial out.
	Unreserved int `json:"unreserved"`

	Connections      Connections          `json:"connections"`
	RelayConnections int                  `json:"relay_connections"` // peer-relay connections
	HolePunch        HolePunch            `json:"holepunch"`
	HolePunchByNAT   map[string]HolePunch `json:"holepunch_by_nat"`
	NATs             map[string]int       `json:"nats"`
	Diff             string               `json:"diff,omitempty"`
	Timeline         []Event              `json:"timeline"`
	PerWrite         []WriteReport        `json:"per_write"`
	ByPeer           []PeerReport         `json:"by_peer"`
	NotModelled      []string             `json:"not_modelled"`
	// ElapsedMS is the run's length on its own clock: simulated time
	// under synctest, wall time in real mode.
	ElapsedMS float64 `json:"elapsed_ms"`
}

// Percentiles summarise a distribution.
type Percentiles struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// Connections count peer pairs by how they are connected at the end.
type Connections struct {
	Direct      int `json:"direct"`
	Holepunched int `json:"holepunched"`
	Relayed     int `json:"relayed"`
}

// Arrivals count (write, replica) pairs by how the first announcement
// from the writer after the write reached the replica (see Path), and
// how many of those came on a gossipsub stream over a relay circuit.
type Arrivals struct {
	Flood  int `json:"flood"`
	Mesh   int `json:"mesh"`
	Gossip int `json:"gossip"`
	Other  int `json:"other"`
	// None: no announcement from the writer reached the replica (the
	// write came inside a later writer's history, or before a restart).
	None      int `json:"none"`
	OverRelay int `json:"over_relay"`
}

func (a *Arrivals) add(d *delivery) {
	if d == nil {
		a.None++
		return
	}
	switch d.path {
	case PathFlood:
		a.Flood++
	case PathMesh:
		a.Mesh++
	case PathGossip:
		a.Gossip++
	default:
		a.Other++
	}
	if d.relayed {
		a.OverRelay++
	}
}

// HolePunch counts DCUtR between pairs of peers: pairs that tried, and
// pairs where a try succeeded.
type HolePunch struct {
	Attempts  int `json:"attempts"`
	Successes int `json:"successes"`
}

// WriteReport is one acknowledged write: when it was made (ms after the
// start of the schedule) and when each replica had it (ms after the
// write; absent for replicas that never did).
type WriteReport struct {
	Doc     string          `json:"doc"`
	Writer  int             `json:"writer"`
	AtMS    float64         `json:"at_ms"`
	Reached map[int]float64 `json:"reached_ms"`
}

// PeerReport is one peer's part.
type PeerReport struct {
	NAT       NATType `json:"nat"`
	LatencyMS float64 `json:"latency_ms"`
	BytesSent uint64  `json:"bytes_sent"`
	Conns     int     `json:"conns"`
	Documents int     `json:"documents"`
}

// NotModelled lists what a run does not simulate, for every report.
var NotModelled = []string{
	"bitswap's client delays every message after the first by clamp(20 ms, 2 s, peers x 125 us), counting all peers of the process's bitswap instances it knows of, which an in-process network of many engines inflates",
	"CPU: every peer shares the machine's cores, so a large network slows down the clock of the real-time mode (virtual time under synctest hides it)",
	"a crash closes the peer's host, then its engine (synced pebble writes); it is not a kill -9 (engine's crash tests do that with child processes)",
	"AutoNAT: reachability is forced from the NAT type; identify's observed addresses are real",
	"one peer per NAT (no LAN neighbours, so no hairpinning question arises), IPv4 only, QUIC only (simnet carries UDP)",
	"bandwidth is per NAT mapping, so a symmetric NAT's peer gets a link per destination",
	"loss is uniform per packet (no bursts), no jitter beyond simnet's queues; latency is per access link, not per path",
	"churn beyond the scenario's crashes and late joiners (no peer leaves for good)",
}

func pct(xs []float64) Percentiles {
	if len(xs) == 0 {
		return Percentiles{}
	}
	s := slices.Clone(xs)
	sort.Float64s(s)
	at := func(q float64) float64 {
		i := int(math.Ceil(q*float64(len(s)))) - 1
		return s[max(0, min(i, len(s)-1))]
	}
	return Percentiles{P50: at(0.5), P90: at(0.9), P99: at(0.99), Max: s[len(s)-1]}
}

func isCircuit(a string) bool { return strings.Contains(a, "/p2p-circuit") }

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (r *runner) report(converged bool) *Report {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep := &Report{
		Scenario: r.s.Name, Seed: r.s.Seed, Mode: r.o.Mode, Peers: len(r.peers), Relays: len(r.relays),
		Writes: len(r.writes), Timeline: r.plan.Events, NotModelled: NotModelled,
		HolePunchByNAT: map[string]HolePunch{}, NATs: map[string]int{},
	}
	var samples []float64
	var last []float64
	for _, w := range r.writes {
		wr := WriteReport{Doc: w.doc, Writer: w.writer, AtMS: ms(w.at.Sub(r.start)), Reached: map[int]float64{}}
		worst := 0.0
		complete := true
		for _, p := range r.peers {
			if p.idx == w.writer {
				continue
			}
			p.mu.Lock()
			at, ok := p.arrivals[w.doc]
			joined := p.joinedAt
			p.mu.Unlock()
			if !ok {
				rep.Missing++
				complete = false
				continue
			}
			from := w.at
			if joined.After(from) {
				from = joined // a late joiner could not have it before it started
			}
			d := ms(max(0, at.Sub(from)))
			wr.Reached[p.idx] = d
			rep.Announcements.add(r.firstAnnouncement(w, p))
			samples = append(samples, d)
			worst = max(worst, d)
		}
		if complete {
			last = append(last, worst)
		}
		rep.PerWrite = append(rep.PerWrite, wr)
	}
	for _, p := range r.peers {
		p.mu.Lock()
		joined := p.joinedAt
		worst, complete := 0.0, !joined.IsZero()
		for _, w := range r.writes {
			if joined.IsZero() || !w.at.Before(joined) {
				continue
			}
			at, ok := p.arrivals[w.doc]
			if !ok {
				complete = false
				break
			}
			worst = max(worst, ms(at.Sub(joined)))
		}
		p.mu.Unlock()
		if complete {
			rep.JoinCatchupMS = append(rep.JoinCatchupMS, worst)
		}
	}
	sort.Float64s(samples)
	rep.Samples = samples
	rep.ConvergenceMS = pct(samples)
	rep.LastReplicaMS = pct(last)

	var total uint64
	var perPeer []float64
	for _, nd := range r.nw.Nodes() {
		b, _ := nd.Sent()
		total += b
	}
	nat := map[peer.ID]NATType{}
	isRelay := map[peer.ID]bool{}
	for _, rs := range r.relays {
		isRelay[rs.ID()] = true
	}
	var dumps []string
	for _, p := range r.peers {
		b, _ := p.node.Sent()
		perPeer = append(perPeer, float64(b))
		if p.h != nil {
			nat[p.h.ID()] = p.node.NAT
		}
		rep.NATs[p.node.NAT.String()]++
		pr := PeerReport{NAT: p.node.NAT, LatencyMS: ms(p.node.Latency), BytesSent: b}
		if p.isUp() && p.db != nil {
			st := p.db.Stats()
			rep.HeadsSent += st.HeadsSent
			rep.HeadsReceived += st.HeadsReceived
			rep.BlocksFetched += st.BlocksFetched
			rep.CatchupBlocks += st.Catchup.Blocks
			rep.HeadsDropped += st.HeadsDropped
			rep.FetchFailures += st.FetchFailures
			pr.Documents = st.Documents
			pr.Conns = len(p.h.Network().Conns())
			d, err := dumpJSON(ctx, p.db)
			if err != nil {
				d = "error: " + err.Error()
			}
			dumps = append(dumps, d)
		} else {
			dumps = append(dumps, "(down)")
		}
		rep.ByPeer = append(rep.ByPeer, pr)
	}
	rep.SetupBytes = r.setupBytes
	rep.Unreserved = r.unreserved
	for _, nd := range r.relayNodes {
		b, _ := nd.Sent()
		rep.RelayBytes += b
	}
	rep.RelayBytes -= min(rep.RelayBytes, r.relaySetup)
	rep.BytesSent = total - min(total, r.setupBytes)
	if rep.Writes > 0 {
		rep.BytesPerWrite = float64(rep.BytesSent) / float64(rep.Writes)
	}
	rep.BytesPerPeer = pct(perPeer)

	// Connections between peers, by kind, counted once per pair.
	seen := map[[2]peer.ID]bool{}
	for _, p := range r.peers {
		if !p.isUp() {
			continue
		}
		for _, c := range p.h.Network().Conns() {
			remote := c.RemotePeer()
			if isRelay[remote] {
				rep.RelayConnections++
				continue
			}
			k := pairKey(p.h.ID(), remote)
			if seen[k] {
				continue
			}
			seen[k] = true
			rep.Connections.add(p.h, remote, r.punch)
		}
	}
	stale := map[[2]peer.ID]bool{}
	for _, p := range r.peers {
		if !p.isUp() {
			continue
		}
		for _, remote := range p.h.Network().Peers() {
			if !isRelay[remote] && pubsubOverRelay(p.h, remote) {
				stale[pairKey(p.h.ID(), remote)] = true
			}
		}
	}
	rep.PubsubOverRelay = len(stale)
	for k, pp := range r.punch.Pairs() {
		a, b := nat[k[0]], nat[k[1]]
		if b < a {
			a, b = b, a
		}
		name := a.String() + "/" + b.String()
		if pp.Attempts == 0 {
			continue
		}
		hp := rep.HolePunchByNAT[name]
		{
			hp.Attempts++
			rep.HolePunch.Attempts++
			if pp.Succeeded {
				hp.Successes++
				rep.HolePunch.Successes++
			}
		}
		rep.HolePunchByNAT[name] = hp
	}

	identical := true
	for i, d := range dumps {
		if d != dumps[0] {
			identical = false
			rep.Diff += fmt.Sprintf("replica %d differs from replica 0:\n  %s\n  vs\n  %s\n", i, clip(d), clip(dumps[0]))
		}
	}
	rep.Converged = converged && identical && rep.Missing == 0
	return rep
}

func clip(s string) string {
	if len(s) > 2000 {
		return s[:2000] + "..."
	}
	return s
}

// add counts the best connection between h and remote: direct beats
// relayed, and a direct connection between a pair DCUtR succeeded for is
// hole-punched.
func (c *Connections) add(h host.Host, remote peer.ID, log *PunchLog) {
	direct := false
	any := false
	for _, conn := range h.Network().ConnsToPeer(remote) {
		any = true
		if !isCircuit(conn.RemoteMultiaddr().String()) {
			direct = true
		}
	}
	switch {
	case !any:
	case !direct:
		c.Relayed++
	default:
		if pp, ok := log.Pair(h.ID(), remote); ok && pp.Succeeded {
			c.Holepunched++
		} else {
			c.Direct++
		}
	}
}

// WriteSummary prints the report as a table.
func (rep *Report) WriteSummary(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range rep.summaryRows() {
		fmt.Fprintf(tw, "%s\t%s\n", r[0], r[1])
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if rep.Diff != "" {
		_, err := fmt.Fprintf(w, "replicas differ:\n%s", rep.Diff)
		return err
	}
	return nil
}

// summaryRows are the summary's rows, name and value: WriteSummary
// aligns them for a terminal, report.html makes a table of them.
func (rep *Report) summaryRows() [][2]string {
	var rows [][2]string
	row := func(k string, f string, a ...any) { rows = append(rows, [2]string{k, fmt.Sprintf(f, a...)}) }
	row("scenario", "%s (seed %d, %s time, %.1f s on that clock)", rep.Scenario, rep.Seed, rep.Mode, rep.ElapsedMS/1000)
	nats := make([]string, 0, len(rep.NATs))
	for _, t := range NATTypes {
		if n := rep.NATs[t.String()]; n > 0 {
			nats = append(nats, fmt.Sprintf("%s %d", t, n))
		}
	}
	row("peers", "%d + %d relays (%s)", rep.Peers, rep.Relays, strings.Join(nats, ", "))
	row("writes", "%d acknowledged", rep.Writes)
	row("converged", "%v (%d (write, replica) pairs missing)", rep.Converged, rep.Missing)
	c := rep.ConvergenceMS
	row("convergence ms", "p50 %.0f  p90 %.0f  p99 %.0f  max %.0f", c.P50, c.P90, c.P99, c.Max)
	l := rep.LastReplicaMS
	row("last replica ms", "p50 %.0f  p90 %.0f  p99 %.0f  max %.0f", l.P50, l.P90, l.P99, l.Max)
	if len(rep.JoinCatchupMS) > 0 {
		row("late joiners", "caught up on the history in %v ms", rep.JoinCatchupMS)
	}
	row("bytes per write", "%.0f (all peers and relays from the first event on: %d bytes; %d before)", rep.BytesPerWrite, rep.BytesSent, rep.SetupBytes)
	b := rep.BytesPerPeer
	row("bytes per peer", "p50 %.0f  p90 %.0f  max %.0f (relays sent %d)", b.P50, b.P90, b.Max, rep.RelayBytes)
	row("pubsub heads", "%d sent, %d received", rep.HeadsSent, rep.HeadsReceived)
	row("DAG blocks", "%d fetched by bitswap, %d by catch-up (%d heads dropped, %d fetches failed)", rep.BlocksFetched, rep.CatchupBlocks, rep.HeadsDropped, rep.FetchFailures)
	a := rep.Announcements
	row("announcements", "first reached a replica by flood %d, mesh %d, gossip %d, other %d, none %d (%d over a relay)", a.Flood, a.Mesh, a.Gossip, a.Other, a.None, a.OverRelay)
	cn := rep.Connections
	row("peer connections", "direct %d  holepunched %d  relayed %d  (+%d to relays; gossipsub on a circuit beside a direct connection: %d)", cn.Direct, cn.Holepunched, cn.Relayed, rep.RelayConnections, rep.PubsubOverRelay)
	row("relay reservations", "%d peers behind NATs had none when the schedule began", rep.Unreserved)
	row("hole punches", "%d pairs tried, %d succeeded", rep.HolePunch.Attempts, rep.HolePunch.Successes)
	keys := make([]string, 0, len(rep.HolePunchByNAT))
	for k := range rep.HolePunchByNAT {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		hp := rep.HolePunchByNAT[k]
		row("  "+k, "%d/%d", hp.Successes, hp.Attempts)
	}
	return rows
}
