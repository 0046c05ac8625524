//go:build !js

package wasmtest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/profiler"
	"github.com/chromedp/chromedp"
)

// startProfile starts V8's sampling profiler on the page (every 500 µs):
// a js/wasm binary keeps its Go function names (the wasm name section), so
// the profile says where Go code in the page spends its time, which
// runtime/pprof cannot on js.
func startProfile() chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		if _, err := cdp.Call(ctx, t, profiler.Enable, cdp.Empty{}); err != nil {
			return chromedp.Void{}, err
		}
		if _, err := cdp.Call(ctx, t, profiler.SetSamplingInterval, profiler.SetSamplingIntervalParams{Interval: 500}); err != nil {
			return chromedp.Void{}, err
		}
		_, err := cdp.Call(ctx, t, profiler.Start, cdp.Empty{})
		return chromedp.Void{}, err
	}
}

// stopProfile stops the profiler and summarises its profile: the top
// functions by samples in the function itself (self) and anywhere on the
// stack (total).
func stopProfile() chromedp.Action[string] {
	return func(ctx context.Context, t *chromedp.Target) (string, error) {
		res, err := cdp.Call(ctx, t, profiler.Stop, cdp.Empty{})
		if err != nil {
			return "", err
		}
		return summarise(res.Profile, 30), nil
	}
}

// summarise lists the top n functions of p by self and by total samples.
func summarise(p *profiler.Profile, n int) string {
	if p == nil || len(p.Samples) == 0 {
		return "no samples"
	}
	name := map[int64]string{}
	parent := map[int64]int64{}
	for _, nd := range p.Nodes {
		fn := "(anonymous)"
		if nd.CallFrame != nil && nd.CallFrame.FunctionName != "" {
			fn = nd.CallFrame.FunctionName
		}
		name[nd.ID] = fn
		for _, c := range nd.Children {
			parent[c] = nd.ID
		}
	}
	self, total := map[string]int{}, map[string]int{}
	for _, id := range p.Samples {
		self[name[id]]++
		seen := map[string]bool{}
		for node, ok := id, true; ok; node, ok = parent[node] {
			if fn := name[node]; !seen[fn] {
				seen[fn] = true
				total[fn]++
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d samples of the page's main thread (idle and GC included)\n", len(p.Samples))
	for _, m := range []struct {
		title string
		count map[string]int
	}{{"self", self}, {"total", total}} {
		fns := make([]string, 0, len(m.count))
		for fn := range m.count {
			fns = append(fns, fn)
		}
		slices.SortFunc(fns, func(a, b string) int { return cmp.Or(cmp.Compare(m.count[b], m.count[a]), strings.Compare(a, b)) })
		fmt.Fprintf(&b, "top %s:\n", m.title)
		for _, fn := range fns[:min(n, len(fns))] {
			fmt.Fprintf(&b, "%6.2f%%  %s\n", 100*float64(m.count[fn])/float64(len(p.Samples)), fn)
		}
	}
	return b.String()
}
