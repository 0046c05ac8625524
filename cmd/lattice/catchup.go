package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"time"

	"github.com/mattn/go-isatty"
)

// catchupQuiet is how long a joined database may show no history at all
// (no heads) before followCatchup takes it for an empty one: the first
// announcement can take a moment to arrive after the join.
const catchupQuiet = 3 * time.Second

// catchupStats is what followCatchup reads of GET /v1/databases/stats.
type catchupStats struct {
	Documents      int `json:"documents"`
	Heads          int `json:"heads"`
	QueuedHeads    int `json:"queuedHeads"`
	PendingChanges int `json:"pendingChanges"`
	Catchup        struct {
		Remaining int64 `json:"remaining"`
		Running   bool  `json:"running"`
	} `json:"catchup"`
}

// busy reports whether the node still has history to fetch or merge.
func (s catchupStats) busy() bool {
	return s.Catchup.Running || s.Catchup.Remaining > 0 || s.QueuedHeads > 0 || s.PendingChanges > 0
}

// followCatchup shows, on w, the documents of a joined database arriving
// (as the web app's "Catching up… N to-dos so far"), in documents, not
// blocks: a block can hold one document or a thousand, and nobody knows
// the total before the history is in. It ends when the last document is
// in: the node has nothing left to fetch or merge and its count of
// documents held still over three readings (600 ms); or after catchupQuiet with no
// history at all (an empty database), or after wait. On a terminal (tty)
// the line is redrawn in place; elsewhere a line is printed every two
// seconds. It prints nothing when there was nothing to catch up.
func followCatchup(ctx context.Context, f *apiFlags, address string, wait time.Duration, w io.Writer, tty bool) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	frames := []rune("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏")
	start := time.Now()
	var st catchupStats
	shown, done, still, lastDocs, lastLine := false, false, 0, -1, time.Time{}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ctx.Err() == nil; i++ {
		if err := f.get(ctx, "/v1/databases/stats?database="+url.QueryEscape(address), &st); err != nil {
			break
		}
		busy := st.busy()
		if !busy && st.Documents == lastDocs {
			still++
		} else {
			still = 0
		}
		lastDocs = st.Documents
		if !busy && ((st.Heads > 0 && still >= 3) || (st.Heads == 0 && time.Since(start) >= catchupQuiet)) {
			done = true
			break
		}
		if busy || st.Documents > 0 {
			line := fmt.Sprintf("catching up: %s documents so far (%ds)", thousands(st.Documents), int(time.Since(start).Seconds()))
			switch {
			case tty:
				fmt.Fprintf(w, "\r\033[K%c %s", frames[i%len(frames)], line)
			case time.Since(lastLine) >= 2*time.Second:
				fmt.Fprintln(w, line)
				lastLine = time.Now()
			}
			shown = true
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
	if tty && shown {
		fmt.Fprint(w, "\r\033[K")
	}
	switch {
	case !done && lastDocs >= 0:
		fmt.Fprintf(w, "stopped following after %s: %s documents so far (the node goes on catching up)\n", wait, thousands(st.Documents))
	case shown || st.Documents > 0:
		fmt.Fprintf(w, "caught up: %s documents\n", thousands(st.Documents))
	}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}

// thousands writes n with commas between groups of three digits.
func thousands(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
