// Package benchmarks holds Lattice's performance suite: go test -bench
// benchmarks of the engine against a raw go-ds-crdt baseline, whose results
// are recorded in BENCHMARKS.md with the command that produced them.
//
//	go test -run '^$' -bench . -benchtime 3s ./benchmarks/
package benchmarks
