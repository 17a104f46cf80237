package web

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/httpx"
	"github.com/bankbridge/bankbridge/partners/staff"
	"github.com/bankbridge/bankbridge/recon"
)

// ConsoleRecon serves the console's Reconciliation breaks (issue 17 item 1):
// the exception list of the differences between the platform's payments,
// the partners' records and the core (filters: open or resolved, partner,
// day), each break's page with finance's workflow (assign, resolve with a
// code and a note, reopen) and its audit trail, recomputing a partner's day
// and closing it. Finance and admins act; auditors read
// (staff.ActReconRead/Resolve).
type ConsoleRecon struct {
	Console *Console
	Recon   *recon.Service
}

// Register mounts the pages under /console/reconciliation.
func (k *ConsoleRecon) Register(r gin.IRouter) {
	g := r.Group("/console/reconciliation")
	g.GET("/breaks", k.list)
	g.POST("/recompute", k.recompute)
	g.GET("/breaks/:id", k.detail)
	g.POST("/breaks/:id/assign", k.assign)
	g.POST("/breaks/:id/resolve", k.resolve)
	g.POST("/breaks/:id/reopen", k.reopen)
	g.POST("/days/:id/close", k.closeDay)
}

func reconActor(c *gin.Context, st *staff.Member) recon.Actor {
	return recon.Actor{ID: st.ID, Role: st.Role, InteractionID: httpx.InteractionIDOf(c)}
}

type reconListData struct {
	*consoleView
	Breaks                   []recon.Break
	Status, Partner, Day     string
	CanResolve               bool
	Environments             []environment.Environment
	RecomputeEnv, Recomputed string
}

func (k *ConsoleRecon) list(c *gin.Context) {
	st, v, ok := k.Console.staff(c, "recon")
	if !ok {
		return
	}
	k.renderList(c, st, v, http.StatusOK, c.Query("done"), "", c.Query("env"))
}

func (k *ConsoleRecon) renderList(c *gin.Context, st *staff.Member, v *consoleView, status int, flash, errMsg, env string) {
	f := recon.Filter{Status: c.Query("status"), PartnerID: c.Query("partner"), Day: c.Query("day")}
	if f.Status == "" && c.Query("status") == "" && !c.Request.URL.Query().Has("status") {
		f.Status = apis.BreakOpen
	}
	if f.Status == "all" {
		f.Status = ""
	}
	bs, err := k.Recon.Breaks(c.Request.Context(), reconActor(c, st), f)
	if err != nil {
		s2, msg := refusal(k.Console.log(), "reconciliation breaks", err)
		k.Console.problemPage(c, s2, titleFor(s2), msg, who(st))
		return
	}
	d := reconListData{consoleView: v, Breaks: bs, Status: f.Status, Partner: f.PartnerID, Day: f.Day,
		CanResolve: staff.Can(st.Role, staff.ActReconResolve), Environments: environment.All(), RecomputeEnv: env}
	if d.Status == "" {
		d.Status = "all"
	}
	k.Console.page(c, status, "console/recon_breaks", Page{Title: "Reconciliation breaks", User: who(st), Flash: flash, Error: errMsg, Data: d})
}

func (k *ConsoleRecon) recompute(c *gin.Context) {
	st, v, ok := k.Console.staff(c, "recon")
	if !ok {
		return
	}
	partner, env, day := c.PostForm("partner"), c.PostForm("environment"), c.PostForm("day")
	n, err := k.Recon.Recompute(c.Request.Context(), reconActor(c, st), partner, environment.Environment(env), day)
	if err != nil {
		status, msg := refusal(k.Console.log(), "recompute reconciliation", err)
		q := c.Request.URL.Query()
		q.Set("partner", partner)
		q.Set("day", day)
		c.Request.URL.RawQuery = q.Encode()
		k.renderList(c, st, v, status, "", msg, env)
		return
	}
	q := url.Values{"partner": {partner}, "day": {day}, "status": {"all"},
		"done": {"Recomputed: " + strconv.Itoa(n) + " open break(s)."}}
	c.Redirect(http.StatusSeeOther, "/console/reconciliation/breaks?"+q.Encode())
}

type reconBreakData struct {
	*consoleView
	Break      *recon.Break
	Day        *recon.Day
	Trail      []audit.Event
	CanResolve bool
	Codes      []string
	// the values of a refused form
	Assignee, Code, Note string
}

var reconFlashes = map[string]string{
	"assigned": "Break assigned.",
	"resolved": "Break resolved.",
	"reopened": "Break reopened.",
	"closed":   "Day closed: the partner can no longer replace its record.",
}

func (k *ConsoleRecon) detail(c *gin.Context) {
	st, v, ok := k.Console.staff(c, "recon")
	if !ok {
		return
	}
	k.renderBreak(c, st, v, http.StatusOK, reconFlashes[c.Query("done")], "", reconBreakData{})
}

func (k *ConsoleRecon) renderBreak(c *gin.Context, st *staff.Member, v *consoleView, status int, flash, errMsg string, form reconBreakData) {
	b, d, trail, err := k.Recon.Break(c.Request.Context(), reconActor(c, st), c.Param("id"))
	if err != nil {
		s2, msg := refusal(k.Console.log(), "reconciliation break", err)
		k.Console.problemPage(c, s2, titleFor(s2), msg, who(st))
		return
	}
	data := reconBreakData{consoleView: v, Break: b, Day: d, Trail: trail, CanResolve: staff.Can(st.Role, staff.ActReconResolve),
		Codes: recon.ResolutionCodes, Assignee: b.Assignee, Code: form.Code, Note: form.Note}
	if form.Assignee != "" {
		data.Assignee = form.Assignee
	}
	k.Console.page(c, status, "console/recon_break", Page{Title: "Break " + b.ID, User: who(st), Flash: flash, Error: errMsg, Data: data})
}

// act runs one workflow step with the form's version; a refusal renders the
// break page again with the message and the form's values.
func (k *ConsoleRecon) act(c *gin.Context, name, done string, fn func(a recon.Actor, id string, version int) error) {
	st, v, ok := k.Console.staff(c, "recon")
	if !ok {
		return
	}
	form := reconBreakData{Assignee: c.PostForm("assignee"), Code: c.PostForm("resolution"), Note: c.PostForm("note")}
	version, err := strconv.Atoi(c.PostForm("version"))
	if err != nil {
		k.renderBreak(c, st, v, http.StatusBadRequest, "", "The form is missing the break's version; reload the page.", form)
		return
	}
	if err := fn(reconActor(c, st), c.Param("id"), version); err != nil {
		status, msg := refusal(k.Console.log(), name, err)
		k.renderBreak(c, st, v, status, "", msg, form)
		return
	}
	c.Redirect(http.StatusSeeOther, "/console/reconciliation/breaks/"+c.Param("id")+"?done="+done)
}

func (k *ConsoleRecon) assign(c *gin.Context) {
	k.act(c, "assign break", "assigned", func(a recon.Actor, id string, version int) error {
		_, err := k.Recon.Assign(c.Request.Context(), a, id, version, c.PostForm("assignee"))
		return err
	})
}

func (k *ConsoleRecon) resolve(c *gin.Context) {
	k.act(c, "resolve break", "resolved", func(a recon.Actor, id string, version int) error {
		_, err := k.Recon.Resolve(c.Request.Context(), a, id, version, c.PostForm("resolution"), c.PostForm("note"))
		return err
	})
}

func (k *ConsoleRecon) reopen(c *gin.Context) {
	k.act(c, "reopen break", "reopened", func(a recon.Actor, id string, version int) error {
		_, err := k.Recon.Reopen(c.Request.Context(), a, id, version, c.PostForm("note"))
		return err
	})
}

func (k *ConsoleRecon) closeDay(c *gin.Context) {
	st, v, ok := k.Console.staff(c, "recon")
	if !ok {
		return
	}
	back := c.PostForm("break")
	if _, err := k.Recon.CloseDay(c.Request.Context(), reconActor(c, st), c.Param("id")); err != nil {
		status, msg := refusal(k.Console.log(), "close reconciliation day", err)
		if back == "" {
			k.Console.problemPage(c, status, titleFor(status), msg, who(st))
			return
		}
		for i := range c.Params {
			if c.Params[i].Key == "id" {
				c.Params[i].Value = back
			}
		}
		k.renderBreak(c, st, v, status, "", msg, reconBreakData{})
		return
	}
	if back == "" {
		c.Redirect(http.StatusSeeOther, "/console/reconciliation/breaks?done="+url.QueryEscape(reconFlashes["closed"]))
		return
	}
	c.Redirect(http.StatusSeeOther, "/console/reconciliation/breaks/"+url.PathEscape(back)+"?done=closed")
}
