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

// BenchmarkRotation1000 is a rotation wrapped to 1,000 readers (the
// issue's goal: at most 1 s).
func BenchmarkRotation1000(b *testing.B) {
	alice := newMember(b, seal.SuiteX25519)
	recs := make([]*seal.MemberRecord, 1000)
	for i := range recs {
		recs[i] = newMember(b, seal.SuiteX25519).rec
	}
	lower := []seal.Key{mustKey(b)}
	for b.Loop() {
		p, err := seal.NewRotation(alice.id, db, 1, mustKey(b), recs, lower, now)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(p.Encode())), "bytes")
	}
}
