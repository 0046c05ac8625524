//go:build unix

package main

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/internal/identity"
)

// unixClient is an HTTP client that reaches the API over a Unix socket.
func unixClient(path string) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", path)
	}}}
}

// --api-socket serves the API on a socket only its owner may use (0600),
// and alone (no TCP API unless --api is given); the data directory, made
// 0755 before, is 0700 once the node has started.
func TestNodeAPISocket(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	require.NoError(t, os.Mkdir(dir, 0o755))
	require.NoError(t, os.Chmod(dir, 0o755))
	sock := filepath.Join(t.TempDir(), "api.sock")
	out, _, done := startCLI(t, "node", "--data", dir, "--api-socket", sock, "--listen", "/ip4/127.0.0.1/tcp/0", "--log-level", "off")
	require.Equal(t, sock, waitLine(t, out, done, regexp.MustCompile(`(?m)^api-socket: (\S+)$`)))
	require.NotRegexp(t, `(?m)^api: `, out.String(), "no TCP API without --api")

	st, err := os.Stat(sock)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	st, err = os.Stat(dir)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), st.Mode().Perm())

	c := unixClient(sock)
	defer c.CloseIdleConnections()
	res, err := c.Get("http://localhost/v1/id")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 200, res.StatusCode)

	// A second node cannot take a live socket.
	code, _, errOut := runCLI(t, "node", "--in-memory", "--api-socket", sock, "--listen", "/ip4/127.0.0.1/tcp/0", "--log-level", "off")
	require.Equal(t, exitFailure, code, errOut)
	require.Contains(t, errOut, "another process is serving on it")
}

// The token comes from LATTICE_API_TOKEN or a private file as well as
// the flag; a token file others may read is refused, like a key.
func TestNodeTokenSources(t *testing.T) {
	const tok = "0123456789abcdef0123456789abcdef"
	file := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(file, []byte(tok+"\n"), 0o644))
	require.NoError(t, os.Chmod(file, 0o644))
	code, _, errOut := runCLI(t, "node", "--in-memory", "--api", "0.0.0.0:0", "--api-token-file", file)
	require.Equal(t, exitUsage, code, errOut)
	require.Contains(t, errOut, `chmod 600 `+file)

	require.NoError(t, os.Chmod(file, 0o600))
	got, err := apiToken("", file)
	require.NoError(t, err)
	require.Equal(t, tok, got)
	t.Setenv("LATTICE_API_TOKEN", "from-the-environment")
	got, err = apiToken("", "")
	require.NoError(t, err)
	require.Equal(t, "from-the-environment", got)
	got, err = apiToken("from-the-flag", "")
	require.NoError(t, err)
	require.Equal(t, "from-the-flag", got)
	_, err = apiToken("x", file)
	require.Error(t, err)

	out, _, done := startCLI(t, "node", "--in-memory", "--api", "127.0.0.1:0", "--api-token-file", file, "--listen", "/ip4/127.0.0.1/tcp/0", "--log-level", "off")
	api := waitLine(t, out, done, regexp.MustCompile(`(?m)^api: (http://\S+)$`))
	c := &http.Client{Transport: &http.Transport{}}
	defer c.CloseIdleConnections()
	res, err := c.Get(api + "/v1/id")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 401, res.StatusCode, "the file's token is required")
	req, _ := http.NewRequest("GET", api+"/v1/id", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err = c.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 200, res.StatusCode)
}

// A node whose identity key its group or others may read does not start,
// and says how to fix it.
func TestNodeRefusesExposedKey(t *testing.T) {
	dir := t.TempDir()
	_, err := identity.Load(dir)
	require.NoError(t, err)
	key := filepath.Join(dir, identity.FileName)
	require.NoError(t, os.Chmod(key, 0o644))
	code, _, errOut := runCLI(t, "node", "--data", dir, "--api", "127.0.0.1:0", "--listen", "/ip4/127.0.0.1/tcp/0", "--log-level", "off")
	require.Equal(t, exitFailure, code, errOut)
	require.Contains(t, errOut, `chmod 600 `+key)
}
