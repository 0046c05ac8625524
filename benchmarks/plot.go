package benchmarks

import (
	"bytes"
	"fmt"
	"html"
	"math"
	"strconv"
)

// Curve is one scaling curve of a run: a measured Y at each X.
type Curve struct {
	Name   string  `json:"name"` // file name stem of its plot, e.g. "write-rate"
	Title  string  `json:"title"`
	XLabel string  `json:"xLabel"`
	YLabel string  `json:"yLabel"`
	Points []Point `json:"points"`
	// Note says what a missing point means or how the curve was sized.
	Note string `json:"note,omitempty"`
}

// Point is one measurement of a curve.
type Point struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
}

// Plot geometry, in SVG user units: the chart scales with its container
// (viewBox, no fixed size).
const (
	plotW, plotH                       = 640, 360
	plotLeft, plotRight                = 72, 24
	plotTop, plotBottom                = 40, 56
	plotTicks                          = 5
	plotInnerW                         = plotW - plotLeft - plotRight
	plotInnerH                         = plotH - plotTop - plotBottom
	plotStroke, plotGrid, plotAxisText = "#1f6feb", "#d0d7de", "#24292f"
)

// SVG renders the curve as a self-contained line chart: linear axes from
// zero (or the data's minimum when it is negative) to a round number above
// the largest value, a line through the points in X order, and a dot at
// each. The output depends only on the curve, so it diffs cleanly.
func (c Curve) SVG() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", plotW, plotH)
	fmt.Fprintf(&b, `<title>%s</title>`+"\n", html.EscapeString(c.Title))
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", plotW, plotH)
	fmt.Fprintf(&b, `<text x="%d" y="24" font-size="15" fill="%s">%s</text>`+"\n", plotLeft, plotAxisText, html.EscapeString(c.Title))
	xlo, xhi := axisRange(c.Points, func(p Point) float64 { return p.X })
	ylo, yhi := axisRange(c.Points, func(p Point) float64 { return p.Y })
	px := func(x float64) float64 { return plotLeft + (x-xlo)/(xhi-xlo)*plotInnerW }
	py := func(y float64) float64 { return plotTop + plotInnerH - (y-ylo)/(yhi-ylo)*plotInnerH }
	for i := 0; i <= plotTicks; i++ {
		y := ylo + (yhi-ylo)*float64(i)/plotTicks
		fmt.Fprintf(&b, `<line x1="%d" y1="%s" x2="%d" y2="%s" stroke="%s"/>`+"\n", plotLeft, f1(py(y)), plotW-plotRight, f1(py(y)), plotGrid)
		fmt.Fprintf(&b, `<text x="%d" y="%s" text-anchor="end" fill="%s">%s</text>`+"\n", plotLeft-6, f1(py(y)+4), plotAxisText, tickLabel(y))
		x := xlo + (xhi-xlo)*float64(i)/plotTicks
		fmt.Fprintf(&b, `<line x1="%s" y1="%d" x2="%s" y2="%d" stroke="%s"/>`+"\n", f1(px(x)), plotTop+plotInnerH, f1(px(x)), plotTop+plotInnerH+4, plotAxisText)
		fmt.Fprintf(&b, `<text x="%s" y="%d" text-anchor="middle" fill="%s">%s</text>`+"\n", f1(px(x)), plotTop+plotInnerH+18, plotAxisText, tickLabel(x))
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s"/>`+"\n", plotLeft, plotTop+plotInnerH, plotW-plotRight, plotTop+plotInnerH, plotAxisText)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s"/>`+"\n", plotLeft, plotTop, plotLeft, plotTop+plotInnerH, plotAxisText)
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" fill="%s">%s</text>`+"\n", plotLeft+plotInnerW/2, plotH-12, plotAxisText, html.EscapeString(c.XLabel))
	fmt.Fprintf(&b, `<text transform="translate(16 %d) rotate(-90)" text-anchor="middle" fill="%s">%s</text>`+"\n", plotTop+plotInnerH/2, plotAxisText, html.EscapeString(c.YLabel))
	pts := sortedPoints(c.Points)
	if len(pts) > 1 {
		b.WriteString(`<polyline fill="none" stroke="` + plotStroke + `" stroke-width="2" points="`)
		for i, p := range pts {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(f1(px(p.X)) + "," + f1(py(p.Y)))
		}
		b.WriteString("\"/>\n")
	}
	for _, p := range pts {
		fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="3.5" fill="%s"><title>%s, %s</title></circle>`+"\n",
			f1(px(p.X)), f1(py(p.Y)), plotStroke, number(p.X), number(p.Y))
	}
	if len(pts) == 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" fill="%s">no data</text>`+"\n", plotLeft+plotInnerW/2, plotTop+plotInnerH/2, plotAxisText)
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// sortedPoints returns the finite points in X order (insertion sort: a
// curve has a handful).
func sortedPoints(in []Point) []Point {
	out := make([]Point, 0, len(in))
	for _, p := range in {
		if finite(p.X) && finite(p.Y) {
			out = append(out, p)
		}
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].X < out[j-1].X; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// axisRange is the axis for one coordinate: from 0 (or a round number
// below a negative minimum) to a round number at or above the maximum, so
// that the ticks fall on round values.
func axisRange(pts []Point, coord func(Point) float64) (lo, hi float64) {
	for _, p := range pts {
		if v := coord(p); finite(v) {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	step := niceStep((hi - lo) / plotTicks)
	lo = math.Floor(lo/step) * step
	hi = lo + step*plotTicks
	for hi < maxOf(pts, coord) {
		step = niceStep(step * 1.0001)
		hi = lo + step*plotTicks
	}
	return lo, hi
}

func maxOf(pts []Point, coord func(Point) float64) float64 {
	m := math.Inf(-1)
	for _, p := range pts {
		if v := coord(p); finite(v) && v > m {
			m = v
		}
	}
	return m
}

// niceStep rounds a tick step up to 1, 2, 2.5 or 5 times a power of ten
// (1 when raw is not positive).
func niceStep(raw float64) float64 {
	if !(raw > 0) || !finite(raw) {
		return 1
	}
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		// The tolerance keeps 0.3/0.1 from rounding to the next step.
		if raw <= m*mag*(1+1e-9) {
			if m == 10 {
				// A step just over 5 x mag: the next decade's 1.
				return 10 * mag
			}
			return m * mag
		}
	}
	return 10 * mag
}

// tickLabel formats an axis value briefly: 12,000 as 12k, 0.25 as 0.25.
func tickLabel(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
	case a >= 1e4:
		return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	case a >= 100 || v == math.Trunc(v):
		return strconv.FormatFloat(math.Round(v), 'f', -1, 64)
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}

// f1 formats a coordinate with one decimal.
func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
