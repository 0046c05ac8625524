package seal_test

import (
	"testing"

	"github.com/latticedb/lattice/internal/seal"
)

// The per-key costs a sealed write adds: one value sealed and a few key
// components sealed per CRDT key.

func BenchmarkSealValue100B(b *testing.B) {
	k := mustKey(b)
	v := make([]byte, 100)
	aad := []byte("/lattice/bafy.../db\x00/d/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx/yyyyyyyyyyyyyyyyyyyy/f/zzzzzzzz")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := seal.SealValue(k, v, aad); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpenValue100B(b *testing.B) {
	k := mustKey(b)
	s, _ := seal.SealValue(k, make([]byte, 100), nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := seal.OpenValueWith(k, s, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSealName(b *testing.B) {
	n, _ := seal.NewNames(mustKey(b))
	b.ReportAllocs()
	for b.Loop() {
		_ = n.Seal("field", "title")
	}
}
