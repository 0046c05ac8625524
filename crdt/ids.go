package crdt

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"sync/atomic"
	"time"
)

// NewNonce returns a fresh random nonce usable as a key component
// (16 lowercase hex characters, 64 random bits).
func NewNonce() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// IDGenerator makes ObjectID-like document ids: 24 hex characters holding a
// 4-byte big-endian Unix time in seconds, 5 random bytes fixed per generator
// and a 3-byte counter, so ids sort by creation time on one replica and are
// unique across replicas.
type IDGenerator struct {
	random  [5]byte
	counter atomic.Uint32
}

// NewIDGenerator returns a generator with fresh randomness.
func NewIDGenerator() *IDGenerator {
	g := &IDGenerator{}
	_, _ = rand.Read(g.random[:])
	var c [4]byte
	_, _ = rand.Read(c[:])
	g.counter.Store(binary.BigEndian.Uint32(c[:]))
	return g
}

// New returns a new id for the given time.
func (g *IDGenerator) New(now time.Time) string {
	var b [12]byte
	binary.BigEndian.PutUint32(b[0:4], uint32(now.Unix()))
	copy(b[4:9], g.random[:])
	c := g.counter.Add(1)
	b[9], b[10], b[11] = byte(c>>16), byte(c>>8), byte(c)
	return hex.EncodeToString(b[:])
}
