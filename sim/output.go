package sim

import (
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// Files a report writes into its directory.
const (
	ReportJSON  = "report.json"
	ReportHTML  = "report.html"
	ReportPlot  = "convergence.svg" // convergence CDF
	ReportConns = "connections.svg" // connections by kind
)

// WriteFiles writes report.json, the two plots (SVG) and report.html,
// which embeds them, into dir (made if missing).
func (rep *Report) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("sim: report directory: %w", err)
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("sim: encode the report: %w", err)
	}
	cdf, conns := rep.CDFSVG(), rep.ConnectionsSVG()
	files := map[string][]byte{
		ReportJSON:  append(b, '\n'),
		ReportPlot:  []byte(cdf),
		ReportConns: []byte(conns),
	}
	var page strings.Builder
	if err := pageTmpl.Execute(&page, map[string]any{
		"R": rep, "Summary": rep.summaryRows(),
		"CDF": template.HTML(cdf), "Conns": template.HTML(conns),
	}); err != nil {
		return fmt.Errorf("sim: report page: %w", err)
	}
	files[ReportHTML] = []byte(page.String())
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return fmt.Errorf("sim: write %s: %w", name, err)
		}
	}
	return nil
}

var pageTmpl = template.Must(template.New("report").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>lattice sim: {{.R.Scenario}} (seed {{.R.Seed}})</title>
<style>
body{font-family:sans-serif;max-width:80em;margin:2em auto;padding:0 1em;line-height:1.4}
/* The summary is a table whose values wrap: nothing is cut at the right edge, at any width. */
table.summary{border-collapse:collapse;width:100%;background:#f4f4f4}
table.summary th,table.summary td{text-align:left;vertical-align:top;padding:.3em .8em;border-bottom:1px solid #e2e2e2}
table.summary th{white-space:nowrap;font-weight:600}
table.summary td{overflow-wrap:anywhere}
/* The charts scale with the page (their viewBox keeps the proportions). */
svg{display:block;width:100%;max-width:64rem;height:auto}
pre{background:#f4f4f4;padding:1em;white-space:pre-wrap;overflow-wrap:anywhere}
@media (max-width:30em){table.summary th{white-space:normal;overflow-wrap:anywhere;width:30%}}
</style>
</head><body>
<h1>lattice sim: {{.R.Scenario}}</h1>
<p>Seed {{.R.Seed}}, {{.R.Peers}} peers and {{.R.Relays}} relays, {{.R.Mode}} time. Converged: <b>{{.R.Converged}}</b>.</p>
<table class="summary">{{range .Summary}}<tr><th scope="row">{{index . 0}}</th><td>{{index . 1}}</td></tr>
{{end}}</table>
{{if .R.Diff}}<h2>Replicas differ</h2><pre>{{.R.Diff}}</pre>{{end}}
<h2>Convergence</h2>
<p>Share of (write, replica) pairs that held the write within a time of its acknowledgement.</p>
{{.CDF}}
<h2>Connections between peers, by kind</h2>
{{.Conns}}
<h2>Not modelled</h2>
<ul>{{range .R.NotModelled}}<li>{{.}}</li>{{end}}</ul>
<p>The full data: <a href="report.json">report.json</a>.</p>
</body></html>
`))

const svgW, svgH, pad = 640.0, 320.0, 50.0

// CDFSVG draws the convergence CDF: x is ms after the write, y the share
// of (write, replica) pairs holding it.
func (rep *Report) CDFSVG() string {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %[1]g %[2]g" font-family="sans-serif" font-size="11">`, svgW, svgH)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`)
	x0, y0, w, h := pad, svgH-pad, svgW-2*pad, svgH-2*pad
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="black"/>`, x0, y0, x0+w, y0)
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="black"/>`, x0, y0, x0, y0-h)
	n := len(rep.Samples)
	maxX := 1.0
	if n > 0 {
		maxX = niceCeil(rep.Samples[n-1])
	}
	for i := 0; i <= 4; i++ {
		v := maxX * float64(i) / 4
		x := x0 + w*float64(i)/4
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="middle">%.0f</text>`, x, y0+15, v)
		y := y0 - h*float64(i)/4
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="end">%.2f</text>`, x0-5, y+4, float64(i)/4)
		fmt.Fprintf(&b, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#ddd"/>`, x0, y, x0+w, y)
	}
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="middle">ms from write to replica</text>`, x0+w/2, svgH-12)
	if n > 0 {
		var pts strings.Builder
		step := max(1, n/2000)
		for i := 0; i < n; i += step {
			fmt.Fprintf(&pts, "%.1f,%.1f ", x0+w*rep.Samples[i]/maxX, y0-h*float64(i+1)/float64(n))
		}
		fmt.Fprintf(&pts, "%.1f,%.1f", x0+w*rep.Samples[n-1]/maxX, y0-h)
		fmt.Fprintf(&b, `<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="%s"/>`, pts.String())
		c := rep.ConvergenceMS
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="end">p50 %.0f ms, p99 %.0f ms, max %.0f ms (%d pairs)</text>`, x0+w-5, y0-h/4+15, c.P50, c.P99, c.Max, n)
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// ConnectionsSVG draws a bar per connection kind.
func (rep *Report) ConnectionsSVG() string {
	c := rep.Connections
	bars := []struct {
		name  string
		n     int
		color string
	}{{"direct", c.Direct, "#2ca02c"}, {"holepunched", c.Holepunched, "#ff7f0e"}, {"relayed", c.Relayed, "#d62728"}}
	top := 1
	for _, bar := range bars {
		top = max(top, bar.n)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %[1]g %[2]g" font-family="sans-serif" font-size="11">`, svgW, svgH)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`)
	x0, y0, w, h := pad, svgH-pad, svgW-2*pad, svgH-2*pad
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="black"/>`, x0, y0, x0+w, y0)
	bw := w / float64(len(bars)) * 0.6
	for i, bar := range bars {
		bh := h * float64(bar.n) / float64(top)
		x := x0 + w*(float64(i)+0.2)/float64(len(bars))
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`, x, y0-bh, bw, bh, bar.color)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%d</text>`, x+bw/2, y0-bh-4, bar.n)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`, x+bw/2, y0+15, bar.name)
	}
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="middle">peer pairs by their best connection at the end (plus %d peer-relay connections)</text>`, x0+w/2, svgH-12, rep.RelayConnections)
	b.WriteString(`</svg>`)
	return b.String()
}

// niceCeil rounds up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// ScalePoint is one network size's convergence, for ScaleSVG.
type ScalePoint struct {
	Peers   int
	P99MS   float64
	BoundMS float64 // the physical bound at this size
}

// ScaleSVG draws p99 convergence, and its physical bound, against the
// number of peers (log scale).
func ScaleSVG(points []ScalePoint) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %[1]g %[2]g" font-family="sans-serif" font-size="11">`, svgW, svgH)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`)
	x0, y0, w, h := pad, svgH-pad, svgW-2*pad, svgH-2*pad
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="black"/>`, x0, y0, x0+w, y0)
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="black"/>`, x0, y0, x0, y0-h)
	if len(points) == 0 {
		b.WriteString(`</svg>`)
		return b.String()
	}
	maxY, minN, maxN := 1.0, points[0].Peers, points[0].Peers
	for _, p := range points {
		maxY = max(maxY, p.P99MS, p.BoundMS)
		minN, maxN = min(minN, p.Peers), max(maxN, p.Peers)
	}
	maxY = niceCeil(maxY)
	lo, hi := math.Log10(float64(minN)), math.Log10(float64(maxN))
	if hi == lo {
		hi = lo + 1
	}
	px := func(n int) float64 { return x0 + w*(math.Log10(float64(n))-lo)/(hi-lo) }
	py := func(v float64) float64 { return y0 - h*v/maxY }
	for i := 0; i <= 4; i++ {
		v := maxY * float64(i) / 4
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="end">%.0f</text>`, x0-5, py(v)+4, v)
		fmt.Fprintf(&b, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#ddd"/>`, x0, py(v), x0+w, py(v))
	}
	line := func(get func(ScalePoint) float64, color, dash string) {
		var pts strings.Builder
		for _, p := range points {
			fmt.Fprintf(&pts, "%.1f,%.1f ", px(p.Peers), py(get(p)))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" stroke-dasharray="%s" points="%s"/>`, color, dash, pts.String())
	}
	line(func(p ScalePoint) float64 { return p.BoundMS }, "#999", "4 3")
	line(func(p ScalePoint) float64 { return p.P99MS }, "#1f77b4", "")
	for _, p := range points {
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="#1f77b4"/>`, px(p.Peers), py(p.P99MS))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle">%d</text>`, px(p.Peers), y0+15, p.Peers)
	}
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="middle">peers (log scale); p99 convergence in ms (solid), physical bound (dashed)</text>`, x0+w/2, svgH-12)
	b.WriteString(`</svg>`)
	return b.String()
}

// Bound is the physical bound on convergence for n peers whose links
// take link one way: gossip hops (the mesh degree, 6, to the power of the
// hops reaches n) times link, plus a round trip for fetching the block.
func Bound(n int, link float64) float64 {
	hops := max(1, int(math.Ceil(math.Log(float64(n))/math.Log(6))))
	return float64(hops)*link + 2*link
}
