package sim

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"time"
)

// Duration is a time.Duration written as a string ("250ms", "1m") in
// scenario files.
type Duration time.Duration

// MarshalText writes the duration as time.Duration.String does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads a duration as time.ParseDuration does.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%w: duration %q: %v", ErrBadScenario, b, err)
	}
	*d = Duration(v)
	return nil
}

// Scenario describes a run: the network, the write load and the faults.
// Everything random in a run (NAT types, latencies, who dials whom, who
// writes when, who crashes) follows from Seed, so one scenario with one
// seed gives one schedule of events (Plan).
//
// A scenario file is JSON with these fields; DefaultScenario is the one
// lattice sim runs without --scenario.
type Scenario struct {
	Name string `json:"name"`
	Seed uint64 `json:"seed"`
	// Peers is the number of Lattice peers (relays not counted).
	Peers int `json:"peers"`
	// NATShare is the share of peers behind a NAT; NATMix weighs the NAT
	// types among them (default: full cone 1, address-restricted 1,
	// port-restricted 2, symmetric 1).
	NATShare float64             `json:"nat_share"`
	NATMix   map[NATType]float64 `json:"nat_mix,omitempty"`
	// Relays are public circuit relays. With up to MaxRelaysPerPeer of
	// them every peer knows them all (they are the bootstrap peers too)
	// and every peer behind a NAT reserves on each; with more, peer i
	// uses relays i and i+1 (mod Relays), so that the reservations spread
	// over them: a relay holds at most 128 (libp2p's default).
	Relays int `json:"relays"`
	// LatencyMin and LatencyMax bound each peer's access-link delay,
	// drawn uniformly; a packet between two peers takes the sum of
	// their two delays, so the one-way delay between peers is in
	// [2*min, 2*max].
	LatencyMin Duration `json:"latency_min"`
	LatencyMax Duration `json:"latency_max"`
	// BitsPerSecond bounds every peer's up- and downlink (0: 100 Mbit/s).
	BitsPerSecond int `json:"bits_per_second,omitempty"`
	// Loss is the probability that any packet a peer or relay sends is
	// lost (drawn per packet, not from the seed).
	Loss float64 `json:"loss,omitempty"`
	// Degree is how many other peers each peer dials at start, besides
	// the relays; gossipsub's mesh picks from whom it hears.
	Degree int `json:"degree"`
	// Duration is how long writes go on; Writes is how many are made in
	// that time, by peers picked at random, at times drawn uniformly.
	Duration Duration `json:"duration"`
	Writes   int      `json:"writes"`
	// Settle bounds the wait for convergence after the last event.
	Settle Duration `json:"settle"`
	// Partitions cut the network in two for a while; Crashes stop peers
	// (their store kept on disk) and restart them.
	Partitions []Partition `json:"partitions,omitempty"`
	Crashes    []Crash     `json:"crashes,omitempty"`
	// Joins start peers late: they join the network and open the
	// database with the history made so far to catch up on.
	Joins []Join `json:"joins,omitempty"`
	// MappingTimeout is how long NATs keep idle mappings (0: 2 minutes).
	MappingTimeout Duration `json:"mapping_timeout,omitempty"`
}

// Partition cuts a random Share of the peers off from the rest (relays
// stay with the rest) from At until Heal.
type Partition struct {
	At    Duration `json:"at"`
	Heal  Duration `json:"heal"`
	Share float64  `json:"share"`
}

// Crash stops Count random peers at At and restarts them, with the
// store they had, after Down.
type Crash struct {
	At    Duration `json:"at"`
	Down  Duration `json:"down"`
	Count int      `json:"count"`
}

// Join starts Count random peers (none of those that crash) at At
// instead of at the start.
type Join struct {
	At    Duration `json:"at"`
	Count int      `json:"count"`
}

//go:embed default.json
var defaultScenario []byte

// DefaultScenario is the embedded scenario lattice sim runs without
// --scenario.
func DefaultScenario() Scenario {
	s, err := ParseScenario(defaultScenario)
	if err != nil {
		panic(err) // the embedded file is tested
	}
	return s
}

// ParseScenario reads a scenario file and validates it.
func ParseScenario(b []byte) (Scenario, error) {
	var s Scenario
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Scenario{}, fmt.Errorf("%w: %v", ErrBadScenario, err)
	}
	return s, s.Validate()
}

// Validate says what is wrong with a scenario, if anything.
func (s Scenario) Validate() error {
	bad := func(f string, a ...any) error { return fmt.Errorf("%w: "+f, append([]any{ErrBadScenario}, a...)...) }
	switch {
	case s.Peers < 2 || s.Peers > 5000:
		return bad("peers %d: want 2 to 5000", s.Peers)
	case s.NATShare < 0 || s.NATShare > 1:
		return bad("nat_share %v: want 0 to 1", s.NATShare)
	case s.NATShare > 0 && s.Relays < 1:
		return bad("peers behind NATs need at least one relay")
	case s.Relays < 0 || s.Relays > 64:
		return bad("relays %d: want 0 to 64", s.Relays)
	case s.LatencyMin < 0 || s.LatencyMax < s.LatencyMin:
		return bad("latency %v-%v: want 0 <= min <= max", s.LatencyMin, s.LatencyMax)
	case s.Loss < 0 || s.Loss > 0.5:
		return bad("loss %v: want 0 to 0.5", s.Loss)
	case s.Degree < 0:
		return bad("degree %d: want >= 0", s.Degree)
	case s.Duration <= 0 || s.Writes < 1:
		return bad("duration and writes must be positive")
	case s.Settle <= 0:
		return bad("settle must be positive")
	}
	for t, w := range s.NATMix {
		if t == Public || w < 0 {
			return bad("nat_mix: %s weight %v", t, w)
		}
	}
	for _, p := range s.Partitions {
		if p.Share <= 0 || p.Share >= 1 || p.Heal <= p.At {
			return bad("partition %+v: want 0 < share < 1 and heal after at", p)
		}
	}
	for _, c := range s.Crashes {
		if c.Count < 1 || c.Count >= s.Peers || c.Down <= 0 {
			return bad("crash %+v: want 1 <= count < peers and down > 0", c)
		}
	}
	joining := 0
	for _, j := range s.Joins {
		joining += j.Count
		if j.Count < 1 || j.At <= 0 || j.At >= s.Duration {
			return bad("join %+v: want count >= 1 and 0 < at < duration", j)
		}
	}
	crashing := 0
	for _, c := range s.Crashes {
		crashing += c.Count
	}
	if joining+crashing > s.Peers-1 {
		return bad("%d peers join late and %d crash: want fewer than peers (%d)", joining, crashing, s.Peers)
	}
	return nil
}

// EventKind is what a scheduled event does.
type EventKind string

// Event kinds.
const (
	EventWrite     EventKind = "write"
	EventPartition EventKind = "partition"
	EventHeal      EventKind = "heal"
	EventCrash     EventKind = "crash"
	EventRestart   EventKind = "restart"
	EventJoin      EventKind = "join"
)

// Event is one scheduled action of a run, At after the start.
type Event struct {
	At    time.Duration `json:"at"`
	Kind  EventKind     `json:"kind"`
	Peers []int         `json:"peers,omitempty"` // who writes, crashes, restarts; a partition's cut-off side
	Doc   string        `json:"doc,omitempty"`   // the written document's _id
}

// PeerPlan is one peer's place in a run.
type PeerPlan struct {
	NAT     NATType       `json:"nat"`
	Latency time.Duration `json:"latency"`
	Dials   []int         `json:"dials"`             // the other peers it dials at start
	Disk    bool          `json:"disk"`              // its store is pebble on disk (it crashes)
	JoinAt  time.Duration `json:"join_at,omitempty"` // when it starts, if late
}

// Plan is everything a seed decides about a run.
type Plan struct {
	Relays []time.Duration `json:"relays"` // each relay's access latency
	Peers  []PeerPlan      `json:"peers"`
	Events []Event         `json:"events"` // in time order
}

// Plan draws the run's schedule from the scenario's seed.
func (s Scenario) Plan() Plan {
	rng := rand.New(rand.NewPCG(s.Seed, 0x1a77))
	lat := func() time.Duration {
		lo, hi := time.Duration(s.LatencyMin), time.Duration(s.LatencyMax)
		if hi == lo {
			return lo
		}
		return lo + time.Duration(rng.Int64N(int64(hi-lo)))
	}
	var p Plan
	for range s.Relays {
		p.Relays = append(p.Relays, lat())
	}
	mix := s.NATMix
	if len(mix) == 0 {
		mix = map[NATType]float64{FullCone: 1, AddressRestricted: 1, PortRestricted: 2, Symmetric: 1}
	}
	var types []NATType
	var total float64
	for _, t := range NATTypes {
		if w := mix[t]; w > 0 && t != Public {
			types = append(types, t)
			total += w
		}
	}
	natted := int(float64(s.Peers)*s.NATShare + 0.5)
	behind := rng.Perm(s.Peers)[:natted]
	p.Peers = make([]PeerPlan, s.Peers)
	for i := range p.Peers {
		p.Peers[i].Latency = lat()
	}
	for _, i := range behind {
		x := rng.Float64() * total
		for _, t := range types {
			if x -= mix[t]; x < 0 || t == types[len(types)-1] {
				p.Peers[i].NAT = t
				break
			}
		}
	}
	for i := range p.Peers {
		deg := min(s.Degree, s.Peers-1)
		for _, j := range rng.Perm(s.Peers - 1)[:deg] {
			if j >= i {
				j++
			}
			p.Peers[i].Dials = append(p.Peers[i].Dials, j)
		}
		sort.Ints(p.Peers[i].Dials)
	}
	for k := range s.Writes {
		at := time.Duration(rng.Int64N(int64(s.Duration)))
		p.Events = append(p.Events, Event{At: at, Kind: EventWrite, Peers: []int{rng.IntN(s.Peers)}, Doc: fmt.Sprintf("w%05d", k)})
	}
	for _, pt := range s.Partitions {
		n := max(1, int(float64(s.Peers)*pt.Share))
		side := rng.Perm(s.Peers)[:n]
		sort.Ints(side)
		p.Events = append(p.Events,
			Event{At: time.Duration(pt.At), Kind: EventPartition, Peers: side},
			Event{At: time.Duration(pt.Heal), Kind: EventHeal})
	}
	for _, c := range s.Crashes {
		who := rng.Perm(s.Peers)[:c.Count]
		sort.Ints(who)
		for _, i := range who {
			p.Peers[i].Disk = true
		}
		p.Events = append(p.Events,
			Event{At: time.Duration(c.At), Kind: EventCrash, Peers: who},
			Event{At: time.Duration(c.At + c.Down), Kind: EventRestart, Peers: slices.Clone(who)})
	}
	var free []int
	for i, pp := range p.Peers {
		if !pp.Disk && i != 0 { // peer 0 creates the database
			free = append(free, i)
		}
	}
	for _, j := range s.Joins {
		rng.Shuffle(len(free), func(a, b int) { free[a], free[b] = free[b], free[a] })
		who := slices.Clone(free[:j.Count])
		free = free[j.Count:]
		sort.Ints(who)
		for _, i := range who {
			p.Peers[i].JoinAt = time.Duration(j.At)
		}
		p.Events = append(p.Events, Event{At: time.Duration(j.At), Kind: EventJoin, Peers: who})
	}
	sort.SliceStable(p.Events, func(a, b int) bool { return p.Events[a].At < p.Events[b].At })
	return p
}
