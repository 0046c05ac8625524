package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
)

// followCatchup shows, on w, the history of a joined database arriving
// (the node's catch-up progress), until the node has had nothing left to
// fetch or merge for two seconds, or for at most wait. It prints nothing when
// there was nothing to catch up.
func followCatchup(ctx context.Context, f *apiFlags, address string, wait time.Duration, w io.Writer) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var st struct {
		Documents      int `json:"documents"`
		QueuedHeads    int `json:"queuedHeads"`
		PendingChanges int `json:"pendingChanges"`
		Catchup        struct {
			Blocks    uint64 `json:"blocks"`
			Remaining int64  `json:"remaining"`
		} `json:"catchup"`
	}
	file, isFile := w.(*os.File)
	tty := isFile && isatty.IsTerminal(file.Fd())
	shown, quiet := false, 0
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for quiet < 10 && ctx.Err() == nil {
		if err := f.get(ctx, "/v1/databases/stats?database="+url.QueryEscape(address), &st); err != nil {
			break
		}
		busy := st.Catchup.Remaining > 0 || st.QueuedHeads > 0 || st.PendingChanges > 0
		if busy || st.Catchup.Blocks > 0 {
			line := fmt.Sprintf("catching up: %d blocks received, ~%d to go, %d documents", st.Catchup.Blocks, st.Catchup.Remaining, st.Documents)
			switch {
			case tty:
				total := st.Catchup.Blocks + uint64(max(0, st.Catchup.Remaining))
				fmt.Fprintf(w, "\r\033[K%s %s", bar(st.Catchup.Blocks, total, 24), line)
			case !shown:
				fmt.Fprintln(w, line)
			}
			shown = true
		}
		// Done once nothing is left for two seconds: the first announcement
		// can take a moment to arrive after the join.
		if quiet++; busy {
			quiet = 0
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
	if shown {
		if tty {
			fmt.Fprint(w, "\r\033[K")
		}
		fmt.Fprintf(w, "caught up: %d documents\n", st.Documents)
	}
}

// bar draws done of total as a bar of width cells.
func bar(done, total uint64, width int) string {
	n := width
	if total > 0 && done < total {
		n = int(done * uint64(width) / total)
	}
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "]"
}
