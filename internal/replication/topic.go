package replication

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"strings"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Labels that separate the hashes of a manifest CID from one another.
const (
	topicKeyLabel  = "lattice-topic-v1"
	memberKeyLabel = "lattice-member-v1"
)

// TopicKey names a database to peers without giving its address away:
// sha256("lattice-topic-v1" || manifest CID bytes). Peers see it in topic
// names and in heads and catch-up requests; it gives no way back to the
// manifest CID, which opens the database.
func TopicKey(manifest cid.Cid) [32]byte {
	h := sha256.New()
	h.Write([]byte(topicKeyLabel))
	h.Write(manifest.Bytes())
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// TopicName is the gossipsub topic of the database whose manifest is
// manifest: /lattice/db/ and the lower-case base32 of its TopicKey.
// Gossipsub shows every connected peer the topics a peer subscribes to;
// the hash lets a peer that holds the address find the topic, and gives
// one that sees the topic no way back to the address.
func TopicName(manifest cid.Cid) string {
	k := TopicKey(manifest)
	return "/lattice/db/" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(k[:]))
}

// Claim is how a requester names a database to the peer it asks (heads
// exchange, catch-up) and proves it holds the address without sending it:
// the database's TopicKey, and an HMAC keyed by a hash of the manifest CID
// over the purpose and both peer IDs. A peer that does not hold the
// address learns nothing from a claim sent to it (it cannot find the key)
// and cannot use it elsewhere: it is bound to the requester, the
// responder (both authenticated by the connection) and the protocol.
type Claim struct {
	Key   [32]byte
	Proof [32]byte
}

// claimLen is the bytes of a claim on the wire.
const claimLen = 64

// Claim purposes.
const (
	claimHeads   = "heads"
	claimCatchup = "catchup"
)

// NewClaim is from's claim to to of the database with this manifest, for
// purpose.
func NewClaim(manifest cid.Cid, purpose string, from, to peer.ID) Claim {
	return Claim{Key: TopicKey(manifest), Proof: claimProof(manifest, purpose, from, to)}
}

// Verify reports whether c proves that from holds the address of the
// database with this manifest, for purpose, to to.
func (c Claim) Verify(manifest cid.Cid, purpose string, from, to peer.ID) bool {
	want := claimProof(manifest, purpose, from, to)
	return c.Key == TopicKey(manifest) && hmac.Equal(c.Proof[:], want[:])
}

func claimProof(manifest cid.Cid, purpose string, from, to peer.ID) [32]byte {
	key := sha256.Sum256(append([]byte(memberKeyLabel), manifest.Bytes()...))
	m := hmac.New(sha256.New, key[:])
	for _, part := range [][]byte{[]byte(purpose), []byte(from), []byte(to)} {
		m.Write(appendBytes(nil, part)) // length-prefixed: no ambiguity
	}
	var p [32]byte
	m.Sum(p[:0])
	return p
}

// appendClaim appends c's wire form.
func appendClaim(b []byte, c Claim) []byte {
	return append(append(b, c.Key[:]...), c.Proof[:]...)
}

// readClaim reads a claim's wire form.
func (r *byteReader) claim() (Claim, bool) {
	if len(r.b) < claimLen {
		return Claim{}, false
	}
	var c Claim
	copy(c.Key[:], r.b[:32])
	copy(c.Proof[:], r.b[32:claimLen])
	r.b = r.b[claimLen:]
	return c, true
}
