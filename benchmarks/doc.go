// Package benchmarks holds Lattice's performance suite: the engine's
// writes, reads and replication over loopback TCP, against raw go-ds-crdt
// baselines, each an ordinary benchmark function.
//
// They run two ways. Under go test, for profiling and benchstat:
//
//	go test -run '^$' -bench . -benchtime 3s ./benchmarks/
//
// And through Run, which `lattice bench` calls: it runs the Suite with
// testing.Benchmark, judges each headline metric against its goal, and
// writes a report (Markdown into a generated section of BENCHMARKS.md, or
// JSON).
package benchmarks
