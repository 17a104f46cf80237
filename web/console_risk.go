package web

import (
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/internal/httpx"
	"github.com/bankbridge/bankbridge/partners/staff"
	"github.com/bankbridge/bankbridge/risk"
)

// ConsoleRisk serves the console's Risk cases (issue 16): the queue of
// payments the risk scoring held, oldest first with their age against the
// time limit, each case's page (payment, customer, partner, score, reasons,
// screening matches) and the release or reject decision with a mandatory
// note, under dual control above the amount risk.Service names. Risk
// officers decide; admins read (staff.ActRiskCasesRead/Decide).
type ConsoleRisk struct {
	Console *Console
	Risk    *risk.Service
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Register mounts the pages under /console/risk.
func (k *ConsoleRisk) Register(r gin.IRouter) {
	g := r.Group("/console/risk")
	g.GET("/cases", k.list)
	g.GET("/cases/:id", k.detail)
	g.POST("/cases/:id/decide", k.decide)
	g.POST("/cases/:id/sars", k.fileSAR)
	g.GET("/sars/:sid/export", k.exportSAR)
}

func (k *ConsoleRisk) now() time.Time {
	if k.Now != nil {
		return k.Now().UTC()
	}
	return time.Now().UTC()
}

// caseView is a case as the pages show it.
type caseView struct {
	risk.Case
	Age      string
	Overdue  bool
	NeedsTwo bool
	// Amount is the amount in major units with its currency.
	AmountText string
}

func (k *ConsoleRisk) view(c *risk.Case, now time.Time) caseView {
	return caseView{Case: *c, Age: age(c.Age(now)), Overdue: k.Risk.Overdue(c, now), NeedsTwo: k.Risk.NeedsTwo(c),
		AmountText: c.Amount.String()}
}

// age says a duration in hours and minutes ("26 h 05 min", "12 min").
func age(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	h, m := int(d.Hours()), int(d.Minutes())%60
	if h == 0 {
		return fmt.Sprintf("%d min", m)
	}
	return fmt.Sprintf("%d h %02d min", h, m)
}

type riskListData struct {
	*consoleView
	Cases []caseView
	SLA   string
}

func actorOfStaff(c *gin.Context, st *staff.Member) risk.Actor {
	return risk.Actor{ID: st.ID, Role: st.Role, InteractionID: httpx.InteractionIDOf(c)}
}

func (k *ConsoleRisk) list(c *gin.Context) {
	st, v, ok := k.Console.staff(c, "risk")
	if !ok {
		return
	}
	cases, err := k.Risk.OpenCases(c.Request.Context(), actorOfStaff(c, st))
	if err != nil {
		status, msg := refusal(k.Console.log(), "risk cases", err)
		k.Console.problemPage(c, status, titleFor(status), msg, who(st))
		return
	}
	now := k.now()
	d := riskListData{consoleView: v, SLA: age(k.Risk.SLA())}
	for i := range cases {
		d.Cases = append(d.Cases, k.view(&cases[i], now))
	}
	k.Console.page(c, http.StatusOK, "console/risk_cases", Page{Title: "Risk cases", User: who(st), Data: d})
}

type riskCaseData struct {
	*consoleView
	Case      caseView
	CanDecide bool
	// Mine: the viewer proposed the pending decision (a second officer approves it).
	Mine     bool
	Decision string // the form's values after a refusal
	Note     string
	// SARs are the suspicious activity reports filed from the case (shown to
	// roles that may read them); CanFileSAR shows the filing form.
	SARs       []risk.SAR
	CanReadSAR bool
	CanFileSAR bool
	Narrative  string
}

var riskFlashes = map[string]string{
	"proposed": "Decision proposed. A second risk officer must approve it.",
	"released": "Payment released: it was sent to the bank's core.",
	"rejected": "Payment rejected. The partner has been told.",
	"sar":      "Suspicious activity report filed. It is never shown to the partner or the customer.",
}

func (k *ConsoleRisk) detail(c *gin.Context) {
	st, v, ok := k.Console.staff(c, "risk")
	if !ok {
		return
	}
	k.renderCase(c, st, v, http.StatusOK, riskFlashes[c.Query("done")], "", riskCaseData{})
}

// renderCase renders the case page; form carries the values of a refused
// form (Decision, Note, Narrative).
func (k *ConsoleRisk) renderCase(c *gin.Context, st *staff.Member, v *consoleView, status int, flash, errMsg string, form riskCaseData) {
	cs, err := k.Risk.Case(c.Request.Context(), actorOfStaff(c, st), c.Param("id"))
	if err != nil {
		s2, msg := refusal(k.Console.log(), "risk case", err)
		k.Console.problemPage(c, s2, titleFor(s2), msg, who(st))
		return
	}
	d := riskCaseData{consoleView: v, Case: k.view(cs, k.now()), CanDecide: staff.Can(st.Role, staff.ActRiskCasesDecide),
		Mine: cs.Status == risk.CaseProposed && cs.ProposedBy == st.ID, Decision: form.Decision, Note: form.Note,
		Narrative: form.Narrative, CanReadSAR: staff.Can(st.Role, staff.ActSARRead), CanFileSAR: staff.Can(st.Role, staff.ActSARFile)}
	if d.CanReadSAR {
		if d.SARs, err = k.Risk.CaseSARs(c.Request.Context(), actorOfStaff(c, st), cs.ID); err != nil {
			s2, msg := refusal(k.Console.log(), "risk case reports", err)
			k.Console.problemPage(c, s2, titleFor(s2), msg, who(st))
			return
		}
	}
	k.Console.page(c, status, "console/risk_case", Page{Title: "Risk case " + cs.ID, User: who(st), Flash: flash, Error: errMsg, Data: d})
}

func (k *ConsoleRisk) decide(c *gin.Context) {
	st, v, ok := k.Console.staff(c, "risk")
	if !ok {
		return
	}
	decision, note := c.PostForm("decision"), c.PostForm("note")
	cs, err := k.Risk.Decide(c.Request.Context(), actorOfStaff(c, st), c.Param("id"), decision, note)
	if err != nil {
		status, msg := refusal(k.Console.log(), "decide risk case", err)
		k.renderCase(c, st, v, status, "", msg, riskCaseData{Decision: decision, Note: note})
		return
	}
	done := cs.Status
	c.Redirect(http.StatusSeeOther, "/console/risk/cases/"+cs.ID+"?done="+done)
}

func (k *ConsoleRisk) fileSAR(c *gin.Context) {
	st, v, ok := k.Console.staff(c, "risk")
	if !ok {
		return
	}
	narrative := c.PostForm("narrative")
	if _, err := k.Risk.FileSAR(c.Request.Context(), actorOfStaff(c, st), c.Param("id"), narrative); err != nil {
		status, msg := refusal(k.Console.log(), "file SAR", err)
		k.renderCase(c, st, v, status, "", msg, riskCaseData{Narrative: narrative})
		return
	}
	c.Redirect(http.StatusSeeOther, "/console/risk/cases/"+c.Param("id")+"?done=sar")
}

// exportSAR downloads a report with its case and audit trail as JSON.
func (k *ConsoleRisk) exportSAR(c *gin.Context) {
	st, _, ok := k.Console.staff(c, "risk")
	if !ok {
		return
	}
	x, err := k.Risk.ExportSAR(c.Request.Context(), actorOfStaff(c, st), c.Param("sid"))
	if err != nil {
		status, msg := refusal(k.Console.log(), "export SAR", err)
		k.Console.problemPage(c, status, titleFor(status), msg, who(st))
		return
	}
	c.Header("Content-Disposition", `attachment; filename="`+x.SAR.ID+`.json"`)
	c.Header("Cache-Control", "no-store")
	c.IndentedJSON(http.StatusOK, x)
}
