// Package sim runs many real Lattice peers in one process on a simulated
// network, behind simulated NATs and relays, and measures how fast their
// replicas converge.
//
// Every simulated peer is a real engine (engine.New with engine.WithHost):
// real libp2p host, gossipsub, bitswap, the DAG sync and catch-up,
// go-ds-crdt and access control. Only the network is simulated: hosts
// speak QUIC over github.com/marcopolo/simnet (per-packet latency, a token
// bucket and FQ-CoDel queue per link), as go-libp2p's x/simlibp2p does,
// and each peer reaches it through a gateway: a NAT of its type, or none
// for public peers. Relays (package transports/relay, as lattice relay
// runs them) and bootstrap peers are public.
//
// # NATs
//
// The NAT router follows RFC 4787: endpoint-independent or
// endpoint-dependent mapping, endpoint-independent, address-dependent or
// address-and-port-dependent filtering, idle mappings forgotten after a
// timeout (refreshed by outbound packets), no hairpinning. The classic
// types (full cone, address-restricted, port-restricted, symmetric) are
// combinations of these (NATType.Behaviour). Hole punching is go-libp2p's
// own DCUtR, driven by identify's real observed addresses; PairOutcome
// states, and TestNATPairTable pins, what it achieves for each pair.
//
// # Scenarios
//
// A Scenario (JSON; DefaultScenario is embedded) gives the peer count, the
// share behind NATs and their mix, relays, access-link latencies and
// bandwidth and loss, how many peers each dials (the rest is gossipsub's
// mesh), a write load, partitions that heal, crashes with restart (the
// peer keeps its pebble store; several crash entries make churn) and late
// joiners, which catch up on the history. Scenario.Plan draws everything random from the
// seed: the same seed gives the same schedule of events. Run carries a
// scenario out and returns a Report; Report.WriteFiles writes
// report.json, report.html and two SVG plots.
//
// # Where the time goes
//
// Each peer's gossipsub has a raw tracer (engine.WithPubsubTracer): the
// report says how each write's announcement first reached each replica
// (straight from its writer, from a mesh neighbour, by IHAVE/IWANT
// gossip) and how often on a stream over a relay circuit, and counts peer
// pairs whose gossipsub streams stayed on a circuit beside a direct
// connection. Options.Tail lists the slow (write, replica) pairs with the
// replica's mesh and the path of the announcement. That is how the
// seconds-long p99 tail at 100 peers was found: gossipsub's streams stayed
// on the relay circuits opened before the hole punches, so a few replicas
// heard every announcement through a relay's shared link (see
// BENCHMARKS.md, "Network simulator", and TestGossipLeavesTheRelay).
//
// # Virtual time
//
// Inside testing/synctest.Test, Run's clock is the bubble's: simulated
// minutes cost seconds of wall time, and idle waits cost nothing. Pass
// Options.Mode "virtual" so the report says so. lattice sim runs in real
// time, where every peer shares the machine's cores and a large network
// slows down its own clock. Unlike x/simlibp2p, identify's address
// discovery stays on: it did not stall synctest here, and hole punching
// needs the observed addresses it provides.
//
// # What is not modelled
//
// See NotModelled, copied into every report. The largest distortion of an
// in-process network: bitswap's client delays every message after the
// first by clamp(20 ms, 2 s, peers x 125 us), counting the peers it knows,
// which grows with the simulated network as it would not per real peer.
//
// # Beyond one process
//
// One process holds a few hundred engines on a large machine. Beyond that
// there are two existing engines, and neither needs a change to Lattice's
// code, only to how peers are started:
//
//   - Shadow (shadow.github.io) runs unmodified Linux binaries on a
//     simulated network in virtual time on one large host: each
//     simulated host runs `lattice node --data DIR --listen ... --relay
//     ...`, `lattice relay` runs on public hosts, and Shadow's network
//     graph (GML) gives latencies, bandwidth and loss. Shadow has no NAT
//     model; peers behind NATs would be hosts reachable only through a
//     relay (a firewall in the graph), or a NAT process of our own on a
//     router host. Lattice would need: a workload driver (a small client
//     of the HTTP API making writes at scheduled times, from a seed), a
//     change feed it logs with timestamps (the API's server-sent events
//     already carry each change), and a collector that merges the logs
//     into the same Report. Shadow intercepts syscalls, so Go's runtime
//     must work under it (it does, with GOMAXPROCS=1 per process advised).
//   - A Kubernetes cluster, in real time: one pod per peer running
//     `lattice node`, relays as a Deployment with a Service, network
//     policies to cut partitions (deny ingress and egress between label
//     sets, lifted to heal), pod deletion for crashes (a StatefulSet keeps
//     the volume, so the peer restarts with its store), and tc/netem in
//     an init container for latency and loss. NATs would be a sidecar or a
//     router pod with iptables MASQUERADE (symmetric by default; full cone
//     needs a netfilter module). Lattice would need the same driver and
//     collector, plus clock alignment between nodes (the collector
//     measures against the writer's clock, so skew must be bounded, e.g.
//     chrony in the cluster).
//
// Either would measure what Run measures, at 1,000 to 10,000 peers:
// convergence percentiles against gossip hops times link latency, bytes
// per write and per peer, how many peers end up relayed, and whether the
// relays' reservation and circuit limits hold.
package sim
