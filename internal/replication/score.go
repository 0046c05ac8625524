package replication

import (
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Gossipsub peer scoring. Lattice scores one thing: delivering broadcasts
// that are objectively malformed (they do not decode, a block does not
// hash to its CID, the pubsub signature is bad). A message in a format
// version or with a hash function this version does not know is ignored,
// not scored: a newer peer may have sent it. Every honest peer runs
// the same decoder, so an honest peer never relays one, and a peer that
// sends them is a flooder: its score falls with the square of the count
// and, past the graylist threshold, gossipsub drops its traffic before
// validation costs anything.
//
// What is deliberately not scored:
//   - Announcements from authors the access controller refuses. Replicas
//     can disagree about the controller's state for a while (a grant or
//     revocation still travelling), and an honest peer that relays such an
//     announcement must not be punished for it: the validator ignores it
//     instead of rejecting it.
//   - Mesh delivery rates, time in mesh, IP colocation. Local-first peers
//     come and go, sit behind one NAT address, and are quiet most of the
//     time; these terms would penalise exactly them.
const (
	scoreGossipThreshold   = -10
	scorePublishThreshold  = -50
	scoreGraylistThreshold = -80
)

// PeerScoreParams are the gossipsub scoring parameters of a Lattice host.
func PeerScoreParams() *pubsub.PeerScoreParams {
	return &pubsub.PeerScoreParams{
		SkipAtomicValidation: true,
		Topics:               make(map[string]*pubsub.TopicScoreParams), // set per database topic
		AppSpecificScore:     func(peer.ID) float64 { return 0 },
		DecayInterval:        time.Second,
		DecayToZero:          0.01,
		RetainScore:          10 * time.Minute, // a flooder that reconnects keeps its score
	}
}

// PeerScoreThresholds are the gossipsub score thresholds of a Lattice host.
func PeerScoreThresholds() *pubsub.PeerScoreThresholds {
	return &pubsub.PeerScoreThresholds{
		SkipAtomicValidation: true,
		GossipThreshold:      scoreGossipThreshold,
		PublishThreshold:     scorePublishThreshold,
		GraylistThreshold:    scoreGraylistThreshold,
	}
}

// TopicScoreParams are set on every database topic. The penalty is the
// square of the count of invalid deliveries times 0.1: 29 malformed
// messages in quick succession graylist their sender (-84). The count
// decays by 10% a second, so a peer that stops recovers within seconds.
//
// The headroom is for pubsub's own rejections of honest traffic: a node
// restarted with the same key can be offered its own earlier messages by
// gossip, and pubsub counts each against the peer that relays it.
// Announcements come at most about one a second per database on a quiet
// node, so an honest relay stays far from the threshold.
func TopicScoreParams() *pubsub.TopicScoreParams {
	return &pubsub.TopicScoreParams{
		SkipAtomicValidation:           true,
		TopicWeight:                    1,
		TimeInMeshQuantum:              time.Second, // unweighted, but pubsub divides by it
		InvalidMessageDeliveriesWeight: -0.1,
		InvalidMessageDeliveriesDecay:  0.9,
	}
}

// Scores keeps the latest gossipsub peer scores: pass Update to
// pubsub.WithPeerScoreInspect. It is safe for concurrent use.
type Scores struct {
	mu sync.Mutex
	m  map[peer.ID]float64
}

// Update records an inspection's scores.
func (s *Scores) Update(m map[peer.ID]float64) {
	s.mu.Lock()
	s.m = m // pubsub hands each inspection a fresh map
	s.mu.Unlock()
}

// Get returns p's score as of the last inspection; ok is false for a
// peer pubsub has no score for.
func (s *Scores) Get(p peer.ID) (float64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[p]
	return v, ok
}
