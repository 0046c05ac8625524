// Package simtest runs real engines on a simulated network inside
// testing/synctest, so replication tests are deterministic in time: every
// engine gets a host on its own node of a sim.Network (simnet underneath,
// QUIC over in-process packets) through engine.WithHost, and the bubble's
// virtual clock drives every timer of the engines, of gossipsub, QUIC and
// go-ds-crdt. A wait of simulated minutes costs milliseconds; a test that
// waits for a condition waits for an event, never for the machine.
//
//	func TestX(t *testing.T) {
//		synctest.Test(t, func(t *testing.T) {
//			n := simtest.New(t, 1)
//			a, b := n.Engine(), n.Engine()
//			n.ConnectAll(a, b)
//			...
//			n.Converged(30*time.Second, 1, ca, cb)
//		})
//	}
//
// Seeds: the seed fixes the network's layout (each node's latency) and
// every engine's identity, so a failure replays with the same peers and
// links; LATTICE_SIMTEST_SEED overrides it (the seed is logged), and
// LATTICE_SIMTEST_LOG=debug shows the engines' logs. Go's
// scheduler still interleaves goroutines as it likes, so a replay is the
// same network and the same virtual time line, not the same schedule.
//
// What must hold for an engine under synctest (learnt making this
// harness): nothing in the bubble may wait on real I/O, since time moves
// only when every goroutine of the bubble is durably blocked: so no
// loopback sockets (the hosts are sim's), no mDNS, no DHT on real
// sockets, and the store in memory, never pebble: pebble keeps pooled
// objects holding channels across all its databases in the process, a
// channel made inside a bubble belongs to it, and a pebble flush outside
// the bubble that reuses one dies with "send on synctest channel from
// outside bubble". A peer that restarts keeps its data in a memory store
// of its own (NewPeer(true), engine.WithDatastore). Everything the bubble started
// must end before the bubble's function returns: the harness closes engines,
// then hosts, then the network, and synctest fails the test if a
// goroutine is left. The engine's clock (engine.WithClock) defaults to
// time.Now, which inside the bubble is already virtual.
//
// It is for tests only; production code never imports it.
package simtest
