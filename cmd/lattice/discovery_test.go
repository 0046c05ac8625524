package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/internal/poll"
)

// Nodes with --dht: a third node or a relay serves the DHT, and two, which
// know only it, meet through the rendezvous of the database one creates
// and the other opens by address (its manifest comes from the creator).
func TestNodeDHT(t *testing.T) {
	listen := regexp.MustCompile(`(?m)^listen: (/ip4/127\.0\.0\.1/tcp/\d+/p2p/\S+)$`)
	api := regexp.MustCompile(`(?m)^api: (http://\S+)$`)
	node := func(t *testing.T, args ...string) (apiURL, addr string) {
		out, _, done := startCLI(t, append([]string{"node", "--in-memory", "--api", "127.0.0.1:0",
			"--listen", "/ip4/127.0.0.1/tcp/0", "--log-level", "off", "--dht"}, args...)...)
		return waitLine(t, out, done, api), waitLine(t, out, done, listen)
	}
	for _, server := range []string{"node", "relay"} {
		t.Run("server="+server, func(t *testing.T) {
			var boot string
			if server == "node" {
				_, boot = node(t, "--dht-mode", "server")
			} else {
				out, _, done := startCLI(t, "relay", "--in-memory", "--listen", "/ip4/127.0.0.1/tcp/0", "--dht")
				boot = waitLine(t, out, done, regexp.MustCompile(`(?m)^relay: (\S+)$`))
			}
			apiA, _ := node(t, "--dht-mode", "client", "--bootstrap", boot)
			apiB, _ := node(t, "--dht-mode", "client", "--bootstrap", boot)
			meet(t, apiA, apiB)
		})
	}
}

// meet creates a database on the node at apiA and opens it by address on
// the one at apiB.
func meet(t *testing.T, apiA, apiB string) {

	client := &http.Client{Transport: &http.Transport{}, Timeout: 60 * time.Second}
	defer client.CloseIdleConnections()
	post := func(url string, body any) (int, map[string]any) {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		res, err := client.Post(url, "application/json", bytes.NewReader(b))
		require.NoError(t, err)
		defer res.Body.Close()
		raw, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		var out map[string]any
		_ = json.Unmarshal(raw, &out)
		return res.StatusCode, out
	}
	code, created := post(apiA+"/v1/databases", map[string]any{"name": "dhtlist"})
	require.Equal(t, http.StatusCreated, code, created)
	address, _ := created["address"].(string)
	require.NotEmpty(t, address)
	poll.Eventually(t, 60*time.Second, func() error {
		code, body := post(apiB+"/v1/databases/open", map[string]any{"address": address})
		if code/100 != 2 {
			return fmt.Errorf("open on B: %d %v", code, body)
		}
		return nil
	})
}

func TestNodeDiscoveryFlagErrors(t *testing.T) {
	code, _, errOut := runCLI(t, "node", "--api", "127.0.0.1:0", "--in-memory", "--dht", "--dht-mode", "sometimes")
	require.Equal(t, exitUsage, code, errOut)
	require.Contains(t, errOut, "--dht-mode")
}
