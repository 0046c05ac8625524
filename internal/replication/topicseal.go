package replication

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"fmt"

	"github.com/ipfs/go-cid"
)

// Broadcasts are sealed to the address. Gossipsub shows every connected
// peer the topics of its neighbours, and any peer may subscribe to a
// topic it saw: it then receives whatever is published there. So each
// broadcast message is encrypted with a key only holders of the address
// can derive, and a subscriber without it receives ciphertext:
//
//	'S' 0x01, 12-byte random nonce, AES-256-GCM(key, nonce, message,
//	          additional data: the TopicKey)
//	key = sha256("lattice-topic-seal-v1" || manifest CID bytes)
//
// The key is neither the TopicKey nor derivable from it. A message that
// does not open under the key is malformed (ErrBadMessage): its sender
// does not hold the address or sent garbage. Sizes and timing stay
// visible to a subscriber; contents (heads, inline blocks) do not.
const (
	topicSealLabel   = "lattice-topic-seal-v1"
	topicSealMagic   = 'S'
	topicSealVersion = 1
	topicSealHeader  = 2 + 12
)

// topicSeal seals and opens one database's broadcasts.
type topicSeal struct {
	aead cipher.AEAD
	ad   []byte // the TopicKey
}

// newTopicSeal is the seal of the database whose manifest is manifest.
func newTopicSeal(manifest cid.Cid) *topicSeal {
	h := sha256.New()
	h.Write([]byte(topicSealLabel))
	h.Write(manifest.Bytes())
	block, err := aes.NewCipher(h.Sum(nil))
	if err != nil {
		panic(err) // a 32-byte key always makes a cipher
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	k := TopicKey(manifest)
	return &topicSeal{aead: aead, ad: k[:]}
}

// seal encrypts an encoded broadcast message.
func (s *topicSeal) seal(msg []byte) []byte {
	out := make([]byte, topicSealHeader, topicSealHeader+len(msg)+s.aead.Overhead())
	out[0], out[1] = topicSealMagic, topicSealVersion
	if _, err := rand.Read(out[2:topicSealHeader]); err != nil {
		panic(err) // crypto/rand does not fail
	}
	return s.aead.Seal(out, out[2:topicSealHeader], msg, s.ad)
}

// open decrypts a sealed broadcast; a message in another version is
// ErrUnsupportedMessage, one that does not open ErrBadMessage.
func (s *topicSeal) open(data []byte) ([]byte, error) {
	if len(data) < 2 || data[0] != topicSealMagic {
		return nil, fmt.Errorf("%w: not sealed", ErrBadMessage)
	}
	if data[1] != topicSealVersion {
		return nil, fmt.Errorf("%w: sealed broadcast version %d", ErrUnsupportedMessage, data[1])
	}
	if len(data) < topicSealHeader+s.aead.Overhead() {
		return nil, fmt.Errorf("%w: sealed broadcast too short", ErrBadMessage)
	}
	msg, err := s.aead.Open(nil, data[2:topicSealHeader], data[topicSealHeader:], s.ad)
	if err != nil {
		return nil, fmt.Errorf("%w: does not open with this database's key", ErrBadMessage)
	}
	return msg, nil
}

// SealBroadcast seals an encoded broadcast message (EncodeMessage) for
// the topic of the database whose manifest is manifest, as a member
// publishes it: for tools and tests that play a peer holding the
// address.
func SealBroadcast(manifest cid.Cid, msg []byte) []byte {
	return newTopicSeal(manifest).seal(msg)
}

// OpenBroadcast opens a broadcast sealed for the topic of the database
// whose manifest is manifest (SealBroadcast's inverse), for tools and
// tests that hold the address.
func OpenBroadcast(manifest cid.Cid, data []byte) ([]byte, error) {
	return newTopicSeal(manifest).open(data)
}
