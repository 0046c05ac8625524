package replication

import (
	"crypto/sha256"
	"encoding/base32"
	"strings"

	"github.com/ipfs/go-cid"
)

// topicKeyLabel separates topic names from every other hash of a manifest
// CID.
const topicKeyLabel = "lattice-topic-v1"

// TopicName is the gossipsub topic of the database whose manifest is
// manifest: /lattice/db/ and the lower-case base32 of
// sha256("lattice-topic-v1" || manifest CID bytes). Gossipsub shows every
// connected peer the topics a peer subscribes to; the hash lets a peer that
// holds the address find the topic, and gives one that sees the topic no
// way back to the address.
func TopicName(manifest cid.Cid) string {
	h := sha256.New()
	h.Write([]byte(topicKeyLabel))
	h.Write(manifest.Bytes())
	return "/lattice/db/" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(h.Sum(nil)))
}
