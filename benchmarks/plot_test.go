package benchmarks

import (
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The plot is well-formed SVG with a point per measurement, drawn in X
// order whatever order they were measured in, inside the plot area, and
// the same curve always gives the same bytes.
func TestCurveSVG(t *testing.T) {
	c := Curve{Name: "x", Title: "Rate <vs> callers", XLabel: "callers", YLabel: "docs/s",
		Points: []Point{{X: 16, Y: 9000}, {X: 1, Y: 3100}, {X: 4, Y: 7200.5}}}
	svg := c.SVG()
	require.Equal(t, svg, c.SVG(), "deterministic")
	checkXML(t, svg)
	s := string(svg)
	require.True(t, strings.HasPrefix(s, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 640 360"`))
	require.Contains(t, s, "Rate &lt;vs&gt; callers", "the title is escaped")
	require.Equal(t, 3, strings.Count(s, "<circle"))
	// Axes: x from 0 to 25 in steps of 5, y from 0 to 10k in steps of 2k.
	for _, tick := range []string{">0<", ">5<", ">25<", ">2000<", ">10k<"} {
		require.Contains(t, s, tick)
	}
	i := strings.Index(s, `points="`) + len(`points="`)
	pts := strings.Fields(s[i : i+strings.Index(s[i:], `"`)])
	require.Len(t, pts, 3)
	var xs []float64
	for _, p := range pts {
		var x, y float64
		_, err := fmtSscan(p, &x, &y)
		require.NoError(t, err)
		require.True(t, x >= plotLeft && x <= plotW-plotRight && y >= plotTop && y <= plotTop+plotInnerH, "%s inside the plot area", p)
		xs = append(xs, x)
	}
	require.IsIncreasing(t, xs, "drawn in X order")
}

// A curve with no points, a single point, a flat zero line, or points that
// are not numbers still gives a valid chart (a failed run's plot).
func TestCurveSVGDegenerate(t *testing.T) {
	for _, pts := range [][]Point{nil, {{X: 3, Y: 0.25}}, {{X: 1, Y: 0}, {X: 2, Y: 0}}, {{X: 1, Y: nan()}, {X: 2, Y: 1}}} {
		svg := Curve{Title: "t", Points: pts}.SVG()
		checkXML(t, svg)
		require.NotContains(t, string(svg), "NaN")
		require.NotContains(t, string(svg), "Inf")
	}
	require.Contains(t, string(Curve{Title: "t"}.SVG()), "no data")
}

func TestAxisRange(t *testing.T) {
	for _, tc := range []struct {
		max, lo, hi float64
	}{{9000, 0, 10000}, {10000, 0, 10000}, {10001, 0, 12500}, {0.3, 0, 0.5}, {1, 0, 1}, {153, 0, 250}, {0, 0, 5}} {
		lo, hi := axisRange([]Point{{Y: 0}, {Y: tc.max}}, func(p Point) float64 { return p.Y })
		require.Equal(t, tc.lo, lo, "max %g", tc.max)
		require.InDelta(t, tc.hi, hi, 1e-9, "max %g", tc.max)
	}
}

func TestWritePlots(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "plots")
	paths, err := WritePlots(dir, []Curve{{Name: CurveWriteRate, Title: "a"}, {Name: CurveMemory, Title: "b"}})
	require.NoError(t, err)
	require.Equal(t, []string{filepath.Join(dir, CurveWriteRate+".svg"), filepath.Join(dir, CurveMemory+".svg")}, paths)
	b, err := os.ReadFile(paths[1])
	require.NoError(t, err)
	checkXML(t, b)
}

// The Markdown report links each curve's plot and tables its points.
func TestCurvesMarkdown(t *testing.T) {
	rep := Report{PlotDir: "docs/bench", Curves: []Curve{{Name: CurveLateJoin, Title: "Late join", Note: "n",
		XLabel: "deltas", YLabel: "s", Points: []Point{{X: 2000, Y: 0.52}}}}}
	md := rep.Markdown()
	require.Contains(t, md, "![Late join](docs/bench/late-join-vs-history.svg)")
	require.Contains(t, md, "| deltas | s |\n|---|---|\n| 2,000 | 0.52 |\n")
	require.True(t, strings.HasSuffix(md, EndMarker+"\n"))
}

func checkXML(t *testing.T, b []byte) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(string(b)))
	for {
		_, err := d.Token()
		if err == io.EOF {
			return
		}
		require.NoError(t, err, "well-formed XML")
	}
}

func nan() float64 { var z float64; return z / z }

func fmtSscan(p string, x, y *float64) (int, error) {
	return fmt.Sscanf(p, "%g,%g", x, y)
}

// The curves measure something at every size, on real engines: a small
// run of each (a few seconds).
func TestRunCurvesSmall(t *testing.T) {
	var lines []string
	cs, err := RunCurves(t.Context(), CurveSizes{Concurrency: []int{1, 4}, WritesPer: 40, History: []int{20}, Peers: []int{3}},
		func(l string) { lines = append(lines, l) })
	require.NoError(t, err)
	require.Len(t, cs, 4)
	require.Equal(t, []string{CurveWriteRate, CurveLateJoin, CurveConvergence, CurveMemory},
		[]string{cs[0].Name, cs[1].Name, cs[2].Name, cs[3].Name})
	for i, want := range []int{2, 1, 1, 1} {
		require.Len(t, cs[i].Points, want, cs[i].Name)
		for _, p := range cs[i].Points {
			require.Positive(t, p.Y, "%s at %g", cs[i].Name, p.X)
		}
	}
	require.Len(t, lines, 4)
}
