package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/internal/poll"
)

// childEnv, when set, makes the test binary run the CLI (TestMain).
const childEnv = "LATTICE_TEST_CLI_CHILD"

// nodeProcess is `lattice node` in a process of its own.
type nodeProcess struct {
	cmd *exec.Cmd
	api string
}

// startNodeProcess starts `lattice node` on dir in a new process and waits
// for the line naming its API URL.
func startNodeProcess(t *testing.T, dir string) *nodeProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "node", "--data", dir, "--api", "127.0.0.1:0", "--listen", "/ip4/127.0.0.1/tcp/0", "--log-level", "off")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = io.Discard
	require.NoError(t, cmd.Start())
	p := &nodeProcess{cmd: cmd}
	t.Cleanup(p.kill)
	apiLine := regexp.MustCompile(`^api: (http://\S+)$`)
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if m := apiLine.FindStringSubmatch(sc.Text()); m != nil {
			p.api = m[1]
			break
		}
	}
	require.NotEmpty(t, p.api, "lattice node printed no API URL")
	go func() { _, _ = io.Copy(io.Discard, out) }() // ends when the process does
	return p
}

// kill SIGKILLs the process and reaps it. Idempotent.
func (p *nodeProcess) kill() {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Wait()
}

// call sends a JSON request and decodes the answer.
func (p *nodeProcess) call(client *http.Client, method, path string, body any) (int, map[string]any, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, p.api+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		return res.StatusCode, nil, err
	}
	return res.StatusCode, out, nil
}

// TestNodeRestartAfterKill: a `lattice node` process with a stored
// database is killed (SIGKILL) and started again: its API answers
// (/v1/health, /v1/id) while the database reopens in the background, a
// request about the database answers 200 or 503 "opening" (never another
// error), and then every acknowledged document is there. The time to the
// first answer is logged, not asserted (BENCHMARKS.md has the measured
// numbers for 200,000 documents).
func TestNodeRestartAfterKill(t *testing.T) {
	dir := t.TempDir()
	client := &http.Client{Transport: &http.Transport{}, Timeout: time.Minute}
	defer client.CloseIdleConnections()

	p := startNodeProcess(t, dir)
	status, out, err := p.call(client, http.MethodPost, "/v1/databases", map[string]any{"name": "Big", "access": map[string]any{"type": "open"}})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, status, "%v", out)
	db := out["address"].(string)
	const n = 5000
	docs := make([]any, n)
	for i := range docs {
		docs[i] = map[string]any{"_id": fmt.Sprintf("d%05d", i), "title": fmt.Sprintf("todo %d", i), "isDone": i%2 == 0}
	}
	status, out, err = p.call(client, http.MethodPost, "/v1/action/insertMany", map[string]any{"database": db, "collection": "todos", "documents": docs})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, status, "%v", out)
	p.kill()
	client.CloseIdleConnections()

	start := time.Now()
	p = startNodeProcess(t, dir)
	status, health, err := p.call(client, http.MethodGet, "/v1/health", nil)
	require.NoError(t, err)
	require.Equal(t, 200, status)
	first := time.Since(start)
	require.Contains(t, []any{"ok", "opening"}, health["status"])
	status, _, err = p.call(client, http.MethodGet, "/v1/id", nil)
	require.NoError(t, err)
	require.Equal(t, 200, status)

	poll.Eventually(t, 2*time.Minute, func() error {
		status, out, err := p.call(client, http.MethodPost, "/v1/action/countDocuments", map[string]any{"database": db, "collection": "todos", "filter": map[string]any{}})
		switch {
		case err != nil:
			return err
		case status == http.StatusServiceUnavailable && strings.Contains(fmt.Sprint(out), "opening"):
			return fmt.Errorf("still opening: %v", out)
		case status != 200:
			t.Fatalf("countDocuments after restart: %d %v", status, out)
		case fmt.Sprint(out["count"]) != fmt.Sprint(n):
			t.Fatalf("after restart %v of %d documents", out["count"], n)
		}
		return nil
	})
	t.Logf("restart after SIGKILL with %d documents: first API answer %s (health %v), every document counted %s",
		n, first.Round(time.Millisecond), health["status"], time.Since(start).Round(time.Millisecond))
}
