package sim_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/sim"
)

// TestScenarioFiles: the embedded default is valid, a file round-trips,
// and a bad file says what is wrong.
func TestScenarioFiles(t *testing.T) {
	d := sim.DefaultScenario()
	require.NoError(t, d.Validate())
	require.Equal(t, 50, d.Peers)
	s, err := sim.ParseScenario([]byte(`{"name": "x", "peers": 3, "nat_share": 0.5, "relays": 1,
		"nat_mix": {"symmetric": 1, "full-cone": 2}, "latency_min": "1ms", "latency_max": "2ms",
		"duration": "1s", "writes": 1, "settle": "1s"}`))
	require.NoError(t, err)
	require.Equal(t, map[sim.NATType]float64{sim.Symmetric: 1, sim.FullCone: 2}, s.NATMix)
	for name, bad := range map[string]string{
		"unknown field":   `{"peerz": 3}`,
		"bad NAT":         `{"peers": 3, "nat_mix": {"cgnat": 1}}`,
		"bad duration":    `{"peers": 3, "duration": "soon"}`,
		"NAT, no relay":   `{"peers": 3, "nat_share": 0.5, "duration": "1s", "writes": 1, "settle": "1s"}`,
		"crash everybody": `{"peers": 3, "duration": "1s", "writes": 1, "settle": "1s", "crashes": [{"at": "1s", "down": "1s", "count": 3}]}`,
		"heal before cut": `{"peers": 3, "duration": "1s", "writes": 1, "settle": "1s", "partitions": [{"at": "2s", "heal": "1s", "share": 0.5}]}`,
	} {
		_, err := sim.ParseScenario([]byte(bad))
		require.ErrorIs(t, err, sim.ErrBadScenario, name)
	}
}

// TestBound: the physical bound of BENCHMARKS.md.
func TestBound(t *testing.T) {
	require.Equal(t, 200.0, sim.Bound(10, 50))
	require.Equal(t, 250.0, sim.Bound(50, 50))
	require.Equal(t, 250.0, sim.Bound(100, 50))
	require.Equal(t, 300.0, sim.Bound(1000, 50))
}
