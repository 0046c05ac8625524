package snapshot

import (
	"bytes"
	"crypto/sha256"
	"sort"

	mh "github.com/multiformats/go-multihash"
)

// DigestSize is the size of one covered block's digest.
const DigestSize = 16

// Coverage answers "is this block in the snapshot's past" exactly: it is
// the set of covered blocks, each as the first 16 bytes of the SHA-256 of
// its multihash, sorted. 16 bytes make a false answer cost a writer about
// 2^108 hashes per covered block to grind, and a million covered blocks
// cost 16 MB.
//
// The set is exact because a block's multihash is all go-ds-crdt knows of
// a link before fetching it, and a covered block may be gone everywhere:
// a per-author version vector would need the block to read its author.
// Its zero value covers nothing.
type Coverage struct {
	digests []byte // n * DigestSize, strictly increasing
}

// Digest is the digest Coverage keeps for the block with multihash h.
func Digest(h mh.Multihash) [DigestSize]byte {
	s := sha256.Sum256(h)
	var d [DigestSize]byte
	copy(d[:], s[:DigestSize])
	return d
}

// NewCoverage builds a coverage from digests, in any order, duplicates
// allowed.
func NewCoverage(ds [][DigestSize]byte) Coverage {
	sort.Slice(ds, func(i, j int) bool { return bytes.Compare(ds[i][:], ds[j][:]) < 0 })
	out := make([]byte, 0, len(ds)*DigestSize)
	for i, d := range ds {
		if i > 0 && d == ds[i-1] {
			continue
		}
		out = append(out, d[:]...)
	}
	return Coverage{digests: out}
}

// Len is how many blocks the coverage holds.
func (c Coverage) Len() int { return len(c.digests) / DigestSize }

// Has reports whether the block with multihash h is covered.
func (c Coverage) Has(h mh.Multihash) bool {
	d := Digest(h)
	return c.hasDigest(d)
}

func (c Coverage) hasDigest(d [DigestSize]byte) bool {
	n := c.Len()
	i := sort.Search(n, func(i int) bool {
		return bytes.Compare(c.digests[i*DigestSize:(i+1)*DigestSize], d[:]) >= 0
	})
	return i < n && bytes.Equal(c.digests[i*DigestSize:(i+1)*DigestSize], d[:])
}

// Bytes is the coverage's encoding: the sorted digests, concatenated.
func (c Coverage) Bytes() []byte { return c.digests }

// CoverageFromBytes decodes Bytes; false when b is not sorted digests.
func CoverageFromBytes(b []byte) (Coverage, bool) {
	if len(b)%DigestSize != 0 {
		return Coverage{}, false
	}
	for i := DigestSize; i < len(b); i += DigestSize {
		if bytes.Compare(b[i-DigestSize:i], b[i:i+DigestSize]) >= 0 {
			return Coverage{}, false
		}
	}
	return Coverage{digests: b}, true
}
