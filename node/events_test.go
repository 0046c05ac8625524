package node_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/internal/poll"
	"github.com/latticedb/lattice/node"
)

// sseEvent is one server-sent event, or a comment when Comment is set.
type sseEvent struct {
	Type    string
	Data    map[string]any
	Comment string
}

// stream opens /v1/events for db and returns a channel of its events,
// closed when the stream ends; cancel ends it.
func (tn *testNode) stream(t testing.TB, db string) (<-chan sseEvent, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", tn.url+"/v1/events?database="+url.QueryEscape(db), nil)
	require.NoError(t, err)
	if tn.token != "" {
		req.Header.Set("Authorization", "Bearer "+tn.token)
	}
	res, err := tn.client.Do(req)
	require.NoError(t, err)
	require.Equal(t, 200, res.StatusCode)
	require.Equal(t, "text/event-stream", res.Header.Get("Content-Type"))
	ch := make(chan sseEvent, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(ch)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.Type != "" || ev.Comment != "" {
					select {
					case ch <- ev:
					case <-ctx.Done():
						return
					}
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, ":"):
				ev.Comment = strings.TrimSpace(line[1:])
			case strings.HasPrefix(line, "event: "):
				ev.Type = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				_ = json.Unmarshal([]byte(line[len("data: "):]), &ev.Data)
			}
		}
	}()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return ch, stop
}

// next returns the next event that is not a comment, failing after timeout.
func next(t testing.TB, ch <-chan sseEvent, timeout time.Duration) sseEvent {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case ev, ok := <-ch:
			require.True(t, ok, "stream ended")
			if ev.Comment != "" {
				continue
			}
			return ev
		case <-deadline:
			t.Fatalf("no event within %s", timeout)
		}
	}
}

func TestEventStream(t *testing.T) {
	a := startNode(t, func(c *node.Config) { c.Heartbeat = 50 * time.Millisecond })
	db := a.createDB("Events")
	ch, stop := a.stream(t, db)
	ready := next(t, ch, 5*time.Second)
	require.Equal(t, "ready", ready.Type)
	require.Equal(t, db, ready.Data["database"])

	a.act("insertOne", db, map[string]any{"document": map[string]any{"_id": "e1", "title": "x"}})
	ev := next(t, ch, 5*time.Second)
	require.Equal(t, "write", ev.Type)
	require.Equal(t, "todos", ev.Data["collection"])
	require.Equal(t, "e1", ev.Data["id"])

	a.act("deleteOne", db, map[string]any{"filter": map[string]any{"_id": "e1"}})
	ev = next(t, ch, 5*time.Second)
	require.Equal(t, "write", ev.Type)
	require.Equal(t, true, ev.Data["deleted"])

	// Heartbeats keep the stream alive.
	deadline := time.After(5 * time.Second)
	for got := false; !got; {
		select {
		case ev := <-ch:
			got = ev.Comment == "ping"
		case <-deadline:
			t.Fatal("no heartbeat")
		}
	}

	// The client going away ends the handler (goleak checks the rest).
	stop()
	poll.Eventually(t, 5*time.Second, func() error {
		res, err := a.client.Get(a.url + "/metrics")
		if err != nil {
			return err
		}
		defer res.Body.Close()
		if body := readAll(t, res); !strings.Contains(body, "lattice_event_streams 0") {
			return fmt.Errorf("stream still open")
		}
		return nil
	})
}

func TestEventStreamEndsOnClose(t *testing.T) {
	a := startNode(t)
	db := a.createDB("Closing")
	ch, _ := a.stream(t, db)
	require.Equal(t, "ready", next(t, ch, 5*time.Second).Type)
	require.NoError(t, a.n.Close()) // must not wait for the stream's client
	select {
	case _, ok := <-ch:
		for ok {
			_, ok = <-ch
		}
	case <-time.After(10 * time.Second):
		t.Fatal("stream still open after Close")
	}
}
