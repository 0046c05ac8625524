package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/sim"
)

// TestSimReportLayout (issue 24, item 7): lattice sim's report.html, in
// real Chromium, lays out at a phone's width and a wide screen's: nothing
// runs past the right edge (the summary is a table whose long values
// wrap), and the charts scale with the page, not fixed at 640x320.
func TestSimReportLayout(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	exe := ""
	for _, p := range []string{os.Getenv("LATTICE_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if path, err := exec.LookPath(p); err == nil {
			exe = path
			break
		}
	}
	if exe == "" {
		msg := "Chromium not found (apt-get install -y chromium, or set LATTICE_CHROMIUM): the report layout test did NOT run"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip("!!! " + msg + " !!!")
	}

	dir := t.TempDir()
	rep := &sim.Report{
		Scenario: "a-scenario-with-a-long-name-that-does-not-wrap-by-itself-" + fmt.Sprint(time.Now().Year()),
		Seed:     7, Mode: "virtual", Peers: 40, Relays: 2, Writes: 400, Converged: true,
		ConvergenceMS: sim.Percentiles{P50: 120, P90: 340, P99: 910, Max: 1200},
		Samples:       []float64{10, 50, 120, 340, 910, 1200},
		NATs:          map[string]int{"none": 10, "full-cone": 10, "port-restricted": 10, "symmetric": 10},
		HolePunchByNAT: map[string]sim.HolePunch{
			"port-restricted->symmetric-and-a-very-long-key-name-to-stretch-the-first-column": {Attempts: 9, Successes: 3},
		},
	}
	require.NoError(t, rep.WriteFiles(dir))

	ctx, cancel := chromedp.NewExecAllocator(context.Background(), chromedp.ExecPath(exe), chromedp.Headless,
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.Flag("disable-dev-shm-usage", true))
	defer cancel()
	ctx, cancel = chromedp.NewContext(ctx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, time.Minute)
	defer cancel()
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate("file://"+filepath.Join(dir, sim.ReportHTML))))
	for _, width := range []int64{360, 1600} {
		require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(width, 900)))
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({
			scroll: document.documentElement.scrollWidth, inner: innerWidth,
			table: Math.ceil(document.querySelector("table.summary").getBoundingClientRect().right),
			charts: [...document.querySelectorAll("svg")].map((s) => Math.round(s.getBoundingClientRect().width)),
			ratio: [...document.querySelectorAll("svg")].map((s) => { const r = s.getBoundingClientRect(); return Math.round(100 * r.width / r.height); })})`))
		require.NoError(t, err)
		t.Logf("at %d px: %s", width, got)
		var m struct {
			Scroll, Inner, Table int
			Charts, Ratio        []int
		}
		require.NoError(t, json.Unmarshal([]byte(got), &m))
		require.LessOrEqual(t, m.Scroll, m.Inner, "the page runs past the right edge at %d px", width)
		require.LessOrEqual(t, m.Table, m.Inner, "the summary runs past the right edge at %d px", width)
		require.Len(t, m.Charts, 2)
		for i, w := range m.Charts {
			require.Equal(t, 200, m.Ratio[i], "chart %d keeps its proportions", i)
			if width < 640 {
				require.Less(t, w, int(width), "chart %d fits a %d px screen", i, width)
			} else {
				require.Greater(t, w, 640, "chart %d grows with a %d px screen", i, width)
			}
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(artifacts(t), fmt.Sprintf("sim-report-%d.png", width)), png, 0o644))
	}
}

// artifacts is where screenshots go: $LATTICE_ARTIFACTS, or a temp dir.
func artifacts(t *testing.T) string {
	if d := os.Getenv("LATTICE_ARTIFACTS"); d != "" {
		require.NoError(t, os.MkdirAll(d, 0o755))
		return d
	}
	return t.TempDir()
}
