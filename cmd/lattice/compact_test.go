package main

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

// lattice node --archive keeps the full history: lattice compact against
// it fails with the node's refusal, and the same against a node without
// the flag compacts.
func TestNodeArchiveRefusesCompact(t *testing.T) {
	for _, archive := range []bool{true, false} {
		args := []string{"node", "--in-memory", "--api", "127.0.0.1:0", "--listen", "/ip4/127.0.0.1/tcp/0", "--log-level", "off"}
		if archive {
			args = append(args, "--archive")
		} else {
			args = append(args, "--auto-compact", "8")
		}
		out, _, done := startCLI(t, args...)
		api := waitLine(t, out, done, regexp.MustCompile(`(?m)^api: (http://\S+)$`))
		var created struct {
			Address string `json:"address"`
		}
		f := apiFlags{api: api}
		require.NoError(t, f.post(t.Context(), "/v1/databases", map[string]any{"name": "Kept"}, &created))
		code, stdout, errOut := runCLI(t, "compact", "--api", api, "--database", created.Address)
		if archive {
			require.NotEqual(t, 0, code)
			require.Contains(t, errOut, "archive keeps the full history")
		} else {
			require.Equal(t, 0, code, errOut)
			require.Contains(t, stdout, "after:")
		}
	}
}
