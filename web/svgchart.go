package web

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strconv"
	"strings"
)

// chart is a server-rendered SVG chart: a line (or area) chart of one or
// more series, or stacked bars whose segments are the series. It needs no
// script and no inline style (the CSP allows neither): every colour comes
// from the classes in static/app.css. The SVG is an image to assistive
// technology (role="img", aria-label, <title> and <desc>); the page shows the
// same figures in a table below it.
type chart struct {
	// ID is unique on the page (the title and desc ids derive from it).
	ID    string
	Title string
	// Desc says what the chart shows in one sentence.
	Desc string
	// Labels name the x positions (one per value of every series).
	Labels []string
	Series []chartSeries
	// Stacked draws stacked bars instead of lines.
	Stacked bool
	// Area fills under the first series of a line chart.
	Area bool
	// Max is the top of the y axis (0: the data's maximum, rounded up).
	Max float64
	// Format formats a value for the axis and the points' titles (nil: %g).
	Format func(float64) string
}

// chartSeries is one named line or bar segment.
type chartSeries struct {
	Name string
	// Class is the CSS class of its marks (see "Charts" in app.css).
	Class  string
	Values []float64
}

// Chart geometry, in SVG user units.
const (
	chartW, chartH                            = 720, 260
	chartLeft, chartRight, chartTop, chartBot = 64, 12, 16, 56
)

func (c chart) format(v float64) string {
	if c.Format != nil {
		return c.Format(v)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// niceMax rounds m up to 1, 2 or 5 times a power of ten (1 for m <= 0).
func niceMax(m float64) float64 {
	if m <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(m)))
	for _, f := range []float64{1, 2, 5, 10} {
		if m <= f*p {
			return f * p
		}
	}
	return 10 * p
}

// SVG renders the chart.
func (c chart) SVG() template.HTML {
	n := len(c.Labels)
	top := c.Max
	if top == 0 {
		for i := range n {
			sum := 0.0
			for _, s := range c.Series {
				if c.Stacked {
					sum += s.Values[i]
				} else {
					sum = math.Max(sum, s.Values[i])
				}
			}
			top = math.Max(top, sum)
		}
		top = niceMax(top)
	}
	plotW, plotH := float64(chartW-chartLeft-chartRight), float64(chartH-chartTop-chartBot)
	step := plotW / float64(max(n, 1))
	x := func(i int) float64 { return chartLeft + step*(float64(i)+0.5) }
	y := func(v float64) float64 { return chartTop + plotH - v/top*plotH }
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
	esc := html.EscapeString

	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" id="%s" role="img" viewBox="0 0 %d %d" aria-label="%s" aria-labelledby="%s-title %s-desc">`,
		esc(c.ID), chartW, chartH, esc(c.Title), esc(c.ID), esc(c.ID))
	fmt.Fprintf(&b, `<title id="%s-title">%s</title><desc id="%s-desc">%s</desc>`, esc(c.ID), esc(c.Title), esc(c.ID), esc(c.Desc))
	// Grid and y axis: 0, half and the top.
	for _, v := range []float64{0, top / 2, top} {
		fmt.Fprintf(&b, `<line class="chart-grid" x1="%d" x2="%d" y1="%s" y2="%s"/>`, chartLeft, chartW-chartRight, f(y(v)), f(y(v)))
		fmt.Fprintf(&b, `<text class="chart-axis" x="%d" y="%s" text-anchor="end">%s</text>`, chartLeft-6, f(y(v)+4), esc(c.format(v)))
	}
	// x labels: at most 12, evenly spaced, the last (newest) one labelled.
	every := max(1, (n+11)/12)
	for i, l := range c.Labels {
		if (n-1-i)%every == 0 {
			fmt.Fprintf(&b, `<text class="chart-axis" x="%s" y="%d" text-anchor="middle">%s</text>`, f(x(i)), chartH-chartBot+16, esc(l))
		}
	}
	if c.Stacked {
		barW := step * 0.7
		for i := range n {
			base := 0.0
			for _, s := range c.Series {
				v := s.Values[i]
				if v > 0 {
					fmt.Fprintf(&b, `<rect class="chart-bar %s" x="%s" y="%s" width="%s" height="%s" data-label="%s" data-series="%s" data-value="%s"><title>%s, %s: %s</title></rect>`,
						esc(s.Class), f(x(i)-barW/2), f(y(base+v)), f(barW), f(y(base)-y(base+v)), esc(c.Labels[i]), esc(s.Name),
						esc(c.format(v)), esc(c.Labels[i]), esc(s.Name), esc(c.format(v)))
				}
				base += v
			}
		}
	} else {
		for si, s := range c.Series {
			var pts []string
			for i, v := range s.Values {
				pts = append(pts, f(x(i))+","+f(y(v)))
			}
			if si == 0 && c.Area && n > 0 {
				fmt.Fprintf(&b, `<polygon class="chart-area %s" points="%s,%s %s %s,%s"/>`, esc(s.Class), f(x(0)), f(y(0)),
					strings.Join(pts, " "), f(x(n-1)), f(y(0)))
			}
			fmt.Fprintf(&b, `<polyline class="chart-line %s" points="%s"/>`, esc(s.Class), strings.Join(pts, " "))
			for i, v := range s.Values {
				fmt.Fprintf(&b, `<circle class="chart-point %s" cx="%s" cy="%s" r="3" data-label="%s" data-series="%s" data-value="%s"><title>%s, %s: %s</title></circle>`,
					esc(s.Class), f(x(i)), f(y(v)), esc(c.Labels[i]), esc(s.Name), esc(c.format(v)), esc(c.Labels[i]), esc(s.Name), esc(c.format(v)))
			}
		}
	}
	// Legend, under the x labels.
	lx := chartLeft
	for _, s := range c.Series {
		fmt.Fprintf(&b, `<rect class="chart-key %s" x="%d" y="%d" width="12" height="12"/><text class="chart-axis" x="%d" y="%d">%s</text>`,
			esc(s.Class), lx, chartH-20, lx+16, chartH-10, esc(s.Name))
		lx += 24 + 8*len([]rune(s.Name))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
