package web

import (
	"encoding/xml"
	"io"
	"strconv"
	"strings"
	"testing"
)

// svgMarks parses an SVG with encoding/xml (so it must be well-formed) and
// returns its marks with a data-series attribute, as attribute maps.
func svgMarks(t *testing.T, svg string) []map[string]string {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(svg))
	var out []map[string]string
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, svg)
		}
		if se, ok := tok.(xml.StartElement); ok {
			m := map[string]string{"element": se.Name.Local}
			for _, a := range se.Attr {
				m[a.Name.Local] = a.Value
			}
			if m["data-series"] != "" {
				out = append(out, m)
			}
		}
	}
}

func TestChartSVG(t *testing.T) {
	t.Run("ok/line-escaped-accessible", func(t *testing.T) {
		svg := string(chart{ID: "c1", Title: `Calls <"A&B">`, Desc: "d", Labels: []string{"a", "b", "c"}, Area: true,
			Series: []chartSeries{{Name: "s<1>", Class: "series-traffic", Values: []float64{0, 3, 1.5}}}}.SVG())
		for _, want := range []string{`role="img"`, `aria-label="Calls &lt;&#34;A&amp;B&#34;&gt;"`, `<title id="c1-title">Calls &lt;&#34;A&amp;B&#34;&gt;</title>`,
			`<desc id="c1-desc">d</desc>`, `aria-labelledby="c1-title c1-desc"`, `<polygon class="chart-area series-traffic"`} {
			if !strings.Contains(svg, want) {
				t.Errorf("missing %s in\n%s", want, svg)
			}
		}
		marks := svgMarks(t, svg)
		if len(marks) != 3 {
			t.Fatalf("marks %v", marks)
		}
		// Max 3 rounds up to 5: the plot is 188 units high from y=16.
		for i, want := range []struct{ value, cy string }{{"0", "204.0"}, {"3", "91.2"}, {"1.5", "147.6"}} {
			if m := marks[i]; m["element"] != "circle" || m["data-value"] != want.value || m["cy"] != want.cy || m["data-series"] != "s<1>" {
				t.Errorf("mark %d: %v, want value %s at cy %s", i, m, want.value, want.cy)
			}
		}
	})
	t.Run("ok/stacked-bars-fill-the-axis", func(t *testing.T) {
		svg := string(chart{ID: "c2", Title: "t", Stacked: true, Max: 100, Labels: []string{"x", "y"},
			Series: []chartSeries{{Name: "ok", Class: "series-ok", Values: []float64{75, 0}}, {Name: "4xx", Class: "series-4xx", Values: []float64{25, 0}}}}.SVG())
		marks := svgMarks(t, svg)
		if len(marks) != 2 { // zero segments are not drawn
			t.Fatalf("marks %v", marks)
		}
		total := 0.0
		for _, m := range marks {
			h, err := strconv.ParseFloat(m["height"], 64)
			if err != nil || m["element"] != "rect" || m["data-label"] != "x" {
				t.Fatalf("bar %v", m)
			}
			total += h
		}
		if total != 188 {
			t.Errorf("bars add up to %v units, want the full 188", total)
		}
	})
	t.Run("ok/empty-data", func(t *testing.T) {
		svg := string(chart{ID: "c3", Title: "t", Labels: []string{"a"}, Series: []chartSeries{{Name: "s", Class: "series-p50", Values: []float64{0}}}}.SVG())
		if m := svgMarks(t, svg); len(m) != 1 || m[0]["cy"] != "204.0" {
			t.Errorf("marks %v", m)
		}
	})
	for _, tc := range []struct {
		name     string
		in, want float64
	}{{"ok/zero", 0, 1}, {"ok/3", 3, 5}, {"ok/exact", 20, 20}, {"ok/7.1", 7.1, 10}, {"ok/120", 120, 200}, {"ok/small", 0.03, 0.05}} {
		if got := niceMax(tc.in); got != tc.want {
			t.Errorf("%s: niceMax(%v) = %v, want %v", tc.name, tc.in, got, tc.want)
		}
	}
}
