package sim

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
)

// NATType is the kind of network address translator in front of a peer,
// in the classic STUN (RFC 3489) names; Behaviour gives its RFC 4787
// mapping and filtering.
type NATType int

// NAT types. Public peers (relays, bootstrap peers, servers) have none.
const (
	Public            NATType = iota // no NAT: the peer's address is public
	FullCone                         // endpoint-independent mapping and filtering
	AddressRestricted                // endpoint-independent mapping, address-dependent filtering
	PortRestricted                   // endpoint-independent mapping, address-and-port-dependent filtering
	Symmetric                        // endpoint-dependent mapping, address-and-port-dependent filtering
)

// NATTypes lists every type, in order.
var NATTypes = []NATType{Public, FullCone, AddressRestricted, PortRestricted, Symmetric}

var natNames = []string{"public", "full-cone", "address-restricted", "port-restricted", "symmetric"}

// String is the type's name, as scenario files write it.
func (t NATType) String() string {
	if t < 0 || int(t) >= len(natNames) {
		return fmt.Sprintf("nat(%d)", int(t))
	}
	return natNames[t]
}

// ParseNATType reads a type by its String name ("none" is Public).
func ParseNATType(s string) (NATType, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "none" {
		return Public, nil
	}
	for i, n := range natNames {
		if n == s {
			return NATType(i), nil
		}
	}
	return 0, fmt.Errorf("%w: unknown NAT type %q (want one of %s)", ErrBadScenario, s, strings.Join(natNames, ", "))
}

// MarshalText writes the type's name.
func (t NATType) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText reads a type's name.
func (t *NATType) UnmarshalText(b []byte) error {
	v, err := ParseNATType(string(b))
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// Mapping is RFC 4787's mapping behaviour: which public port an outbound
// packet leaves from.
type Mapping int

// Mapping behaviours (RFC 4787 section 4.1).
const (
	// EndpointIndependentMapping reuses one public port for every
	// destination of an internal socket.
	EndpointIndependentMapping Mapping = iota
	// EndpointDependentMapping takes a new public port for every
	// destination address and port ("address and port-dependent").
	EndpointDependentMapping
)

// Filtering is RFC 4787's filtering behaviour: which inbound packets a
// mapping lets through.
type Filtering int

// Filtering behaviours (RFC 4787 section 5).
const (
	// EndpointIndependentFiltering admits packets from anyone.
	EndpointIndependentFiltering Filtering = iota
	// AddressDependentFiltering admits packets from an address the
	// mapping has sent to, from any port.
	AddressDependentFiltering
	// AddressAndPortDependentFiltering admits packets only from an
	// address and port the mapping has sent to.
	AddressAndPortDependentFiltering
)

// Behaviour is the type's mapping and filtering. Public has no NAT; its
// values are meaningless.
func (t NATType) Behaviour() (Mapping, Filtering) {
	switch t {
	case FullCone:
		return EndpointIndependentMapping, EndpointIndependentFiltering
	case AddressRestricted:
		return EndpointIndependentMapping, AddressDependentFiltering
	case PortRestricted:
		return EndpointIndependentMapping, AddressAndPortDependentFiltering
	case Symmetric:
		return EndpointDependentMapping, AddressAndPortDependentFiltering
	}
	return EndpointIndependentMapping, EndpointIndependentFiltering
}

// DefaultMappingTimeout is how long a NAT keeps an idle UDP mapping: RFC
// 4787 REQ-5 asks for at least 2 minutes. QUIC's keep-alive (libp2p sends
// one every 15 s) holds the mappings of open connections.
const DefaultMappingTimeout = 2 * time.Minute

// mapping is one NAT binding: an internal socket's public endpoint
// (towards one destination, for endpoint-dependent mapping) and the
// remote endpoints it has sent to, which filtering consults.
type mapping struct {
	public   netip.AddrPort
	conn     net.PacketConn // the public endpoint on the simulated network
	sentTo   map[netip.AddrPort]struct{}
	sentToIP map[netip.Addr]struct{}
	lastOut  time.Time // refreshed by outbound packets only (RFC 4787 REQ-6 allows either)
}

// admits applies the filtering to an inbound packet from src.
func (m *mapping) admits(f Filtering, src netip.AddrPort) bool {
	switch f {
	case EndpointIndependentFiltering:
		return true
	case AddressDependentFiltering:
		_, ok := m.sentToIP[src.Addr()]
		return ok
	default:
		_, ok := m.sentTo[src]
		return ok
	}
}

func (m *mapping) noteSent(dst netip.AddrPort, now time.Time) {
	if len(m.sentTo) >= maxFilterEntries {
		clear(m.sentTo)
		clear(m.sentToIP)
	}
	m.sentTo[dst] = struct{}{}
	m.sentToIP[dst.Addr()] = struct{}{}
	m.lastOut = now
}

// Bounds on a NAT's state, as a home router has them.
const (
	maxMappings      = 1024 // per NAT; the least recently used goes first
	maxFilterEntries = 4096 // remote endpoints remembered per mapping
)

// PairOutcome is what the NAT model predicts, and TestNATPairTable
// observes, for a DCUtR hole punch between a peer behind a that dials a
// peer behind b, both holding reservations on a public relay and
// advertising, for hole punching, the address the relay observed for them
// (identify's observed-address manager): "direct" when one side is public
// (a plain dial, or the reverse dial DCUtR tries first, connects),
// "holepunched" when the punch succeeds, "relayed" when it fails and the
// peers stay on the relay.
//
// b received the relayed connection, so b starts DCUtR: a dials b's
// advertised address as the QUIC client while b sends packets to a's to
// open its own NAT. That works when b's mapping is endpoint-independent
// (so the address the relay saw is the one a reaches) and b's NAT admits
// a's packets: always under endpoint-independent or address-dependent
// filtering (b has sent to a's address), and under
// address-and-port-dependent filtering only if a's mapping is
// endpoint-independent too (a's packets then come from the port b sent
// to). go-libp2p swaps the roles on its last retry, but the relayed
// connection has closed by then in every run we made, so the swap never
// rescues a pair: a symmetric NAT on the dialled side fails against
// every NAT, and on the dialling side it fails against port-restricted
// and symmetric and succeeds against full cone and address-restricted.
func PairOutcome(a, b NATType) string {
	if a == Public || b == Public {
		return "direct"
	}
	bm, bf := b.Behaviour()
	am, _ := a.Behaviour()
	if bm == EndpointIndependentMapping && (bf != AddressAndPortDependentFiltering || am == EndpointIndependentMapping) {
		return "holepunched"
	}
	return "relayed"
}
