package web

import (
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/monitoring"
	"github.com/bankbridge/bankbridge/partners"
	"github.com/bankbridge/bankbridge/partners/staff"
)

// The console's Monitoring section (issue 15): /console/monitoring shows a
// partner's or an app's traffic, error rates, latency percentiles, quota
// refusals, webhook health, consents and payments over 24 hours or 30 days;
// /console/monitoring/availability the monthly API availability and
// performance statistics a UK Open Banking bank publishes, also as CSV.
// Staff whose role has staff.ActMonitoringRead see it.

// monitoringStaff signs the member in and requires staff.ActMonitoringRead
// and a configured monitoring service.
func (k *Console) monitoringStaff(c *gin.Context, current string) (*staff.Member, *consoleView, bool) {
	st, v, ok := k.staff(c, current)
	if !ok {
		return nil, nil, false
	}
	if !staff.Can(st.Role, staff.ActMonitoringRead) {
		k.problemPage(c, http.StatusForbidden, "Not allowed", "Your role ("+string(st.Role)+") may not see this page.", who(st))
		return nil, nil, false
	}
	if k.Monitoring == nil {
		k.problemPage(c, http.StatusNotFound, "Not found", "Monitoring is not available on this server.", who(st))
		return nil, nil, false
	}
	return st, v, true
}

// monitoringForm is the Monitoring page's query.
type monitoringForm struct {
	Partner, App, Env, Window string
}

// bucketRow is one row of the Monitoring page's data tables.
type bucketRow struct {
	Label string
	monitoring.Stats
}

// pct formats basis points as a percentage with one decimal ("12.5 %").
func pct(bp int64) string { return fmt.Sprintf("%d.%d %%", bp/100, bp%100/10) }

// ClientShare, ServerShare and OKShare are the row's shares of requests.
func (r bucketRow) ClientShare() string { return pct(monitoring.Share(r.ClientErrors, r.Requests)) }

// ServerShare is the share of 5xx and unanswered requests.
func (r bucketRow) ServerShare() string {
	return pct(monitoring.Share(r.ServerErrors+r.Unanswered, r.Requests))
}

// OKShare is the share of answered requests below 400.
func (r bucketRow) OKShare() string { return pct(monitoring.Share(r.OK, r.Requests)) }

// MS formats a latency (µs) in milliseconds.
func (r bucketRow) MS(us int64) string { return monitoring.MS(us) }

type monitoringData struct {
	*consoleView
	Form     monitoringForm
	Partners []partners.Partner
	Apps     []partners.App
	// Scope names what is shown ("All partners", a partner, an app).
	Scope    string
	Overview *monitoring.Overview
	Total    bucketRow
	Rows     []bucketRow
	Traffic  chart
	Latency  chart
	Errors   chart
	// PendingAge is the oldest pending webhook delivery's age ("" when none).
	PendingAge string
}

func (k *Console) monitoringHome(c *gin.Context) {
	st, v, ok := k.monitoringStaff(c, "monitoring")
	if !ok {
		return
	}
	ctx := c.Request.Context()
	d := monitoringData{consoleView: v, Form: monitoringForm{Partner: c.Query("partner"), App: c.Query("app"),
		Env: c.Query("env"), Window: c.DefaultQuery("window", string(monitoring.Window24h))}, Scope: "All partners"}
	fail := func(status int, msg string) {
		k.page(c, status, "console/monitoring", Page{Title: "Monitoring", User: who(st), Error: msg, Data: d})
	}
	var err error
	if d.Partners, err = k.Partners.ListPartners(ctx); err != nil {
		s2, msg := refusal(k.log(), "monitoring partners", err)
		k.problemPage(c, s2, titleFor(s2), msg, who(st))
		return
	}
	scope := monitoring.Scope{Environment: environment.Environment(d.Form.Env)}
	if d.Form.Partner != "" {
		var p *partners.Partner
		for i := range d.Partners {
			if d.Partners[i].ID == d.Form.Partner {
				p = &d.Partners[i]
			}
		}
		if p == nil {
			fail(http.StatusNotFound, "No partner "+d.Form.Partner+".")
			return
		}
		scope.PartnerID, d.Scope = p.ID, p.Name()
		if d.Apps, err = k.Partners.PartnerApps(ctx, p.ID); err != nil {
			s2, msg := refusal(k.log(), "monitoring apps", err)
			k.problemPage(c, s2, titleFor(s2), msg, who(st))
			return
		}
		if d.Form.App != "" {
			found := false
			for _, a := range d.Apps {
				if a.ID == d.Form.App {
					found, scope.AppID, d.Scope = true, a.ID, p.Name()+" — "+a.Name+" ("+string(a.Environment)+")"
				}
			}
			if !found {
				fail(http.StatusNotFound, "No app "+d.Form.App+" of "+p.Name()+".")
				return
			}
		}
	} else if d.Form.App != "" {
		fail(http.StatusBadRequest, "Choose the app's partner first.")
		return
	}
	o, err := k.Monitoring.Overview(ctx, scope, monitoring.Window(d.Form.Window))
	switch {
	case errors.Is(err, monitoring.ErrBadWindow):
		fail(http.StatusBadRequest, "The window must be 24 hours or 30 days.")
		return
	case errors.Is(err, monitoring.ErrBadEnvironment):
		fail(http.StatusBadRequest, "The environment must be sandbox, production or both.")
		return
	case err != nil:
		s2, msg := refusal(k.log(), "monitoring overview", err)
		k.problemPage(c, s2, titleFor(s2), msg, who(st))
		return
	}
	d.Overview, d.Total = o, bucketRow{Label: "Whole window", Stats: o.Total}
	if age := o.OldestPendingAge(); age > 0 {
		d.PendingAge = age.Round(time.Second).String()
	}
	d.setCharts()
	k.page(c, http.StatusOK, "console/monitoring", Page{Title: "Monitoring", User: who(st), Data: d})
}

// setCharts fills the rows and the three charts from d.Overview.
func (d *monitoringData) setCharts() {
	o := d.Overview
	layout, span := "15:04", "hour"
	if o.Window == monitoring.Window30d {
		layout, span = "2 Jan", "day"
	}
	n := len(o.Buckets)
	labels := make([]string, n)
	req := make([]float64, n)
	p50, p95, p99 := make([]float64, n), make([]float64, n), make([]float64, n)
	ok, c4, c5 := make([]float64, n), make([]float64, n), make([]float64, n)
	share := func(part, whole int64) float64 { return float64(monitoring.Share(part, whole)) / 100 }
	for i, b := range o.Buckets {
		labels[i] = b.Start.Format(layout)
		d.Rows = append(d.Rows, bucketRow{Label: b.Start.Format("2 Jan 15:04"), Stats: b.Stats})
		req[i] = float64(b.Requests)
		p50[i], p95[i], p99[i] = float64(b.P50)/1000, float64(b.P95)/1000, float64(b.P99)/1000
		ok[i], c4[i], c5[i] = share(b.OK, b.Requests), share(b.ClientErrors, b.Requests), share(b.ServerErrors+b.Unanswered, b.Requests)
	}
	window := "the last 24 hours"
	if o.Window == monitoring.Window30d {
		window = "the last 30 days"
	}
	ms := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) + " ms" }
	d.Traffic = chart{ID: "chart-traffic", Title: "Requests per " + span, Area: true, Labels: labels,
		Desc:   fmt.Sprintf("Requests per %s over %s (UTC): %d in all.", span, window, o.Total.Requests),
		Series: []chartSeries{{Name: "Requests", Class: "series-traffic", Values: req}}}
	d.Latency = chart{ID: "chart-latency", Title: "Latency percentiles per " + span + " (ms)", Labels: labels, Format: ms,
		Desc: fmt.Sprintf("p50, p95 and p99 response times per %s over %s; over the whole window p50 %s ms, p95 %s ms, p99 %s ms.",
			span, window, monitoring.MS(o.Total.P50), monitoring.MS(o.Total.P95), monitoring.MS(o.Total.P99)),
		Series: []chartSeries{{Name: "p50", Class: "series-p50", Values: p50}, {Name: "p95", Class: "series-p95", Values: p95},
			{Name: "p99", Class: "series-p99", Values: p99}}}
	d.Errors = chart{ID: "chart-errors", Title: "Answers by class per " + span + " (% of requests)", Stacked: true, Max: 100, Labels: labels,
		Format: func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) + " %" },
		Desc: fmt.Sprintf("Share of successful, 4xx and 5xx (or unanswered) answers per %s over %s; over the whole window %s 4xx and %s 5xx.",
			span, window, d.Total.ClientShare(), d.Total.ServerShare()),
		Series: []chartSeries{{Name: "Success", Class: "series-ok", Values: ok}, {Name: "4xx", Class: "series-4xx", Values: c4},
			{Name: "5xx or unanswered", Class: "series-5xx", Values: c5}}}
}

type availabilityData struct {
	*consoleView
	Month, Env string
	Stats      *monitoring.Statistics
	// CSV is the download link of these statistics.
	CSV string
}

// statistics reads the month and environment of the query (the current
// month and production by default) and computes them, or renders the
// refusal and returns nil.
func (k *Console) statistics(c *gin.Context, st *staff.Member, d *availabilityData) *monitoring.Statistics {
	d.Month, d.Env = c.Query("month"), c.DefaultQuery("env", string(environment.Production))
	s, err := k.Monitoring.Statistics(c.Request.Context(), d.Month, environment.Environment(d.Env))
	msg := ""
	switch {
	case err == nil:
		d.Month, d.Stats = s.Month, s
		d.CSV = "/console/monitoring/availability.csv?month=" + s.Month + "&env=" + d.Env
		return s
	case errors.Is(err, monitoring.ErrBadMonth):
		msg = "The month must be given as YYYY-MM."
	case errors.Is(err, monitoring.ErrBadEnvironment):
		msg = "The environment must be sandbox or production."
	default:
		s2, m := refusal(k.log(), "availability statistics", err)
		k.problemPage(c, s2, titleFor(s2), m, who(st))
		return nil
	}
	k.page(c, http.StatusBadRequest, "console/availability", Page{Title: "API availability", User: who(st), Error: msg, Data: *d})
	return nil
}

func (k *Console) availability(c *gin.Context) {
	st, v, ok := k.monitoringStaff(c, "monitoring")
	if !ok {
		return
	}
	d := availabilityData{consoleView: v}
	if k.statistics(c, st, &d) == nil {
		return
	}
	k.page(c, http.StatusOK, "console/availability", Page{Title: "API availability", User: who(st), Data: d})
}

func (k *Console) availabilityCSV(c *gin.Context) {
	st, v, ok := k.monitoringStaff(c, "monitoring")
	if !ok {
		return
	}
	d := availabilityData{consoleView: v}
	s := k.statistics(c, st, &d)
	if s == nil {
		return
	}
	h := c.Writer.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="api-availability-`+s.Month+"-"+string(s.Environment)+`.csv"`)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	c.Status(http.StatusOK)
	w := csv.NewWriter(c.Writer)
	if err := w.WriteAll(s.CSVRows()); err != nil {
		k.log().Error("web: availability csv", "err", err)
	}
}
