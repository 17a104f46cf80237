package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/partners"
	"github.com/bankbridge/bankbridge/partners/exit"
	"github.com/bankbridge/bankbridge/partners/staff"
)

// ConsoleExit is ending a partnership in the staff console (partners/exit):
// a partner's Termination page (/console/partners/:pid/exit) lists its
// terminations with their wind-down steps, proposes one (the maker: reason
// and an optional later effective date), approves or rejects another's
// proposal (the checker), cancels before the effective date, and downloads
// the partner's data export once it exists. Controls are shown by role; the
// service enforces the same rules and maker-checker.
type ConsoleExit struct {
	Console *Console
	Exit    *exit.Service
}

// Register mounts the pages under /console.
func (k *ConsoleExit) Register(r gin.IRouter) {
	g := r.Group("/console")
	g.GET("/partners/:pid/exit", k.show)
	g.POST("/partners/:pid/exit", k.propose)
	g.GET("/partners/:pid/exit/export", k.export)
	g.POST("/exits/:id/approve", k.action("approve"))
	g.POST("/exits/:id/reject", k.action("reject"))
	g.POST("/exits/:id/cancel", k.action("cancel"))
}

var exitFlashes = map[string]string{
	"proposed": "Termination proposed. Another staff member must approve it before the partner is given notice.",
	"approve":  "Termination approved: the partner has notice (webhook and mail to its owners) and sees the wind-down timeline.",
	"reject":   "Termination rejected.",
	"cancel":   "Termination cancelled.",
}

type exitRow struct {
	exit.Exit
	Timeline   exit.Timeline
	Steps      []exit.StepRecord
	ProposedBy string
	DecidedBy  string
	// What the viewer may do with it now.
	CanDecide, CanCancel, Maker bool
}

type exitPageData struct {
	*consoleView
	Partner    *partners.Partner
	Exits      []exitRow
	CanPropose bool
	HasExport  bool
	// Reason and Effective refill a refused proposal.
	Reason, Effective string
	Retention         int
}

func (k *ConsoleExit) staff(c *gin.Context) (*staff.Member, *consoleView, bool) {
	st, v, ok := k.Console.staff(c, "partners")
	if !ok {
		return nil, nil, false
	}
	if !k.Console.allowed(c, st, staff.ActPartnersRead) {
		return nil, nil, false
	}
	return st, v, true
}

func (k *ConsoleExit) show(c *gin.Context) {
	st, v, ok := k.staff(c)
	if !ok {
		return
	}
	k.render(c, st, v, c.Param("pid"), http.StatusOK, exitFlashes[c.Query("done")], "", "", "")
}

func (k *ConsoleExit) render(c *gin.Context, st *staff.Member, v *consoleView, pid string, status int, flash, errMsg, reason, effective string) {
	ctx := c.Request.Context()
	p, err := k.Console.Partners.Partner(ctx, pid)
	if err != nil {
		s2, msg := refusal(k.Console.log(), "load partner", err)
		k.Console.problemPage(c, s2, titleFor(s2), msg, who(st))
		return
	}
	list, err := k.Exit.List(ctx, p.ID)
	if err != nil {
		s2, msg := refusal(k.Console.log(), "list terminations", err)
		k.Console.problemPage(c, s2, titleFor(s2), msg, who(st))
		return
	}
	emails := &staffEmails{k: k.Console, ctx: ctx, cache: map[string]string{}}
	d := exitPageData{consoleView: v, Partner: p, Reason: reason, Effective: effective, Retention: k.Exit.RetentionDays(),
		CanPropose: p.Status != partners.StatusTerminated && staff.Can(st.Role, staff.ActExitPropose)}
	now := time.Now().UTC()
	for _, e := range list {
		steps, err := k.Exit.StepsDone(ctx, e.ID)
		if err != nil {
			s2, msg := refusal(k.Console.log(), "list steps", err)
			k.Console.problemPage(c, s2, titleFor(s2), msg, who(st))
			return
		}
		r := exitRow{Exit: e, Timeline: e.Timeline(), Steps: steps, ProposedBy: emails.of(e.ProposedBy), DecidedBy: emails.of(e.DecidedBy),
			Maker: e.ProposedBy == st.ID}
		r.CanDecide = e.Status == exit.StatusProposed && staff.Can(st.Role, staff.ActExitApprove)
		r.CanCancel = (e.Status == exit.StatusProposed || e.Status == exit.StatusScheduled) && now.Before(e.EffectiveAt) &&
			staff.Can(st.Role, staff.ActExitPropose)
		if e.Status == exit.StatusProposed || e.Status == exit.StatusScheduled || e.Status == exit.StatusRunning {
			d.CanPropose = false
		}
		d.Exits = append(d.Exits, r)
	}
	if _, err := k.Exit.ExportForStaff(ctx, st.ID, p.ID); err == nil {
		d.HasExport = true
	}
	k.Console.page(c, status, "console/exit", Page{Title: "Termination of " + p.Name(), User: who(st), Flash: flash, Error: errMsg, Data: d})
}

// parseEffective reads the optional effective date (YYYY-MM-DD, 00:00 UTC).
func parseEffective(v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse("2006-01-02", v)
	if err != nil {
		return time.Time{}, problem.New(problem.CodeValidation, "effective date %q is not a date such as 2027-01-31", v)
	}
	return t.UTC(), nil
}

func (k *ConsoleExit) propose(c *gin.Context) {
	st, v, ok := k.staff(c)
	if !ok {
		return
	}
	pid, reason, eff := c.Param("pid"), c.PostForm("reason"), c.PostForm("effective_date")
	at, err := parseEffective(eff)
	if err == nil {
		_, err = k.Exit.Propose(c.Request.Context(), st.ID, pid, reason, at)
	}
	if err != nil {
		status, msg := refusal(k.Console.log(), "propose termination", err)
		k.render(c, st, v, pid, status, "", msg, reason, eff)
		return
	}
	c.Redirect(http.StatusSeeOther, "/console/partners/"+pid+"/exit?done=proposed")
}

func (k *ConsoleExit) action(name string) gin.HandlerFunc {
	return func(c *gin.Context) {
		st, v, ok := k.staff(c)
		if !ok {
			return
		}
		ctx, id := c.Request.Context(), c.Param("id")
		e, err := k.Exit.Get(ctx, id)
		if err != nil {
			status, msg := refusal(k.Console.log(), "load termination", err)
			k.Console.problemPage(c, status, titleFor(status), msg, who(st))
			return
		}
		switch name {
		case "approve":
			_, err = k.Exit.Decide(ctx, st.ID, id, true, c.PostForm("note"))
		case "reject":
			_, err = k.Exit.Decide(ctx, st.ID, id, false, c.PostForm("note"))
		case "cancel":
			_, err = k.Exit.Cancel(ctx, st.ID, id, c.PostForm("reason"))
		}
		if err != nil {
			status, msg := refusal(k.Console.log(), name+" termination", err)
			k.render(c, st, v, e.PartnerID, status, "", msg, "", "")
			return
		}
		c.Redirect(http.StatusSeeOther, "/console/partners/"+e.PartnerID+"/exit?done="+name)
	}
}

func (k *ConsoleExit) export(c *gin.Context) {
	st, _, ok := k.staff(c)
	if !ok {
		return
	}
	x, err := k.Exit.ExportForStaff(c.Request.Context(), st.ID, c.Param("pid"))
	if err != nil {
		status, msg := refusal(k.Console.log(), "data export", err)
		k.Console.problemPage(c, status, titleFor(status), msg, who(st))
		return
	}
	serveExport(c, x)
}

// serveExport sends the archive as a JSON download.
func serveExport(c *gin.Context, x *exit.Export) {
	c.Header("Content-Disposition", `attachment; filename="`+x.Filename()+`"`)
	c.Header("Cache-Control", "no-store")
	c.Header("X-Content-SHA256", x.SHA256)
	c.Data(http.StatusOK, "application/json", x.Archive)
}
