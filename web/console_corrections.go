package web

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/corrections"
	"github.com/bankbridge/bankbridge/internal/httpx"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/partners/staff"
)

// ConsoleCorrections serves the console's Corrections (issue 17 item 2):
// the list of refunds and reversals (those waiting for a decision first),
// the form to raise one, and each correction's page with the approve or
// reject decision and its note. Whoever raised a correction cannot decide
// it (maker-checker); an approved correction the core has not posted yet
// can be posted again ("Retry posting", idempotent in the core).
type ConsoleCorrections struct {
	Console     *Console
	Corrections *corrections.Service
}

// Register mounts the pages under /console/corrections.
func (k *ConsoleCorrections) Register(r gin.IRouter) {
	g := r.Group("/console/corrections")
	g.GET("", k.list)
	g.POST("", k.raise)
	g.GET("/:id", k.detail)
	g.POST("/:id/decide", k.decide)
	g.POST("/:id/retry", k.retry)
}

func correctionsActor(c *gin.Context, st *staff.Member) corrections.Actor {
	return corrections.Actor{ID: st.ID, Role: st.Role, InteractionID: httpx.InteractionIDOf(c)}
}

// correctionView is a correction as the pages show it.
type correctionView struct {
	corrections.Correction
	AmountText string
}

func viewCorrection(c *corrections.Correction) correctionView {
	return correctionView{Correction: *c, AmountText: c.Amount.String()}
}

// raiseForm is the raise form's values (kept after a refusal).
type raiseForm struct {
	PaymentID, Kind, Amount, Currency, Reason, ComplaintID string
}

type correctionsListData struct {
	*consoleView
	Pending, Others []correctionView
	CanRaise        bool
	Form            raiseForm
}

func (k *ConsoleCorrections) list(c *gin.Context) {
	st, v, ok := k.Console.staff(c, "corrections")
	if !ok {
		return
	}
	k.renderList(c, st, v, http.StatusOK, "", raiseForm{Kind: corrections.KindRefund, Currency: "GBP"})
}

func (k *ConsoleCorrections) renderList(c *gin.Context, st *staff.Member, v *consoleView, status int, errMsg string, form raiseForm) {
	all, err := k.Corrections.List(c.Request.Context(), correctionsActor(c, st), corrections.Filter{})
	if err != nil {
		s2, msg := refusal(k.Console.log(), "corrections", err)
		k.Console.problemPage(c, s2, titleFor(s2), msg, who(st))
		return
	}
	d := correctionsListData{consoleView: v, CanRaise: staff.Can(st.Role, staff.ActCorrectionsRaise), Form: form}
	for i := range all {
		if all[i].Pending() {
			d.Pending = append(d.Pending, viewCorrection(&all[i]))
		} else {
			d.Others = append(d.Others, viewCorrection(&all[i]))
		}
	}
	k.Console.page(c, status, "console/corrections", Page{Title: "Corrections", User: who(st), Error: errMsg, Data: d})
}

func (k *ConsoleCorrections) raise(c *gin.Context) {
	st, v, ok := k.Console.staff(c, "corrections")
	if !ok {
		return
	}
	form := raiseForm{PaymentID: strings.TrimSpace(c.PostForm("payment_id")), Kind: c.PostForm("kind"),
		Amount: strings.TrimSpace(c.PostForm("amount")), Currency: strings.ToUpper(strings.TrimSpace(c.PostForm("currency"))),
		Reason: c.PostForm("reason"), ComplaintID: c.PostForm("complaint_id")}
	in := corrections.Raise{PaymentID: form.PaymentID, Kind: form.Kind, Reason: form.Reason, ComplaintID: form.ComplaintID}
	if form.Amount != "" {
		minor, err := money.ParseMajor(form.Amount, form.Currency)
		if err != nil {
			k.renderList(c, st, v, http.StatusUnprocessableEntity, readable("amount: "+err.Error()), form)
			return
		}
		in.Amount = money.Money{Minor: minor, Currency: form.Currency}
	}
	cr, err := k.Corrections.Raise(c.Request.Context(), correctionsActor(c, st), in)
	if err != nil {
		status, msg := refusal(k.Console.log(), "raise correction", err)
		k.renderList(c, st, v, status, msg, form)
		return
	}
	c.Redirect(http.StatusSeeOther, "/console/corrections/"+cr.ID+"?done=raised")
}

type correctionData struct {
	*consoleView
	Correction   correctionView
	Totals       corrections.Totals
	LeftText     string
	OriginalText string
	CanDecide    bool
	// Mine: the viewer raised it (another staff member decides).
	Mine     bool
	Decision string
	Note     string
}

var correctionFlashes = map[string]string{
	"raised":   "Correction raised. A second member of staff must approve it.",
	"posted":   "Correction approved and posted: the customer's account was credited.",
	"approved": "Correction approved. Posting it in the core did not complete; retry posting.",
	"rejected": "Correction rejected. Nothing was posted.",
	"failed":   "The bank's core refused the posting: the correction failed and nothing was posted.",
}

func (k *ConsoleCorrections) detail(c *gin.Context) {
	st, v, ok := k.Console.staff(c, "corrections")
	if !ok {
		return
	}
	k.renderDetail(c, st, v, http.StatusOK, correctionFlashes[c.Query("done")], "", correctionData{})
}

func (k *ConsoleCorrections) renderDetail(c *gin.Context, st *staff.Member, v *consoleView, status int, flash, errMsg string, form correctionData) {
	ctx := c.Request.Context()
	cr, err := k.Corrections.Get(ctx, correctionsActor(c, st), c.Param("id"))
	if err != nil {
		s2, msg := refusal(k.Console.log(), "correction", err)
		k.Console.problemPage(c, s2, titleFor(s2), msg, who(st))
		return
	}
	t, err := k.Corrections.Totals(ctx, correctionsActor(c, st), cr.PaymentID)
	if err != nil {
		s2, msg := refusal(k.Console.log(), "correction totals", err)
		k.Console.problemPage(c, s2, titleFor(s2), msg, who(st))
		return
	}
	d := correctionData{consoleView: v, Correction: viewCorrection(cr), Totals: t,
		LeftText:     money.Money{Minor: t.Original.Minor - t.Reserved, Currency: cr.Amount.Currency}.String(),
		OriginalText: money.Money{Minor: t.Original.Minor, Currency: cr.Amount.Currency}.String(),
		CanDecide:    staff.Can(st.Role, staff.ActCorrectionsApprove),
		Mine:         cr.RaisedByType == corrections.RaisedByStaff && cr.RaisedBy == st.ID, Decision: form.Decision, Note: form.Note}
	k.Console.page(c, status, "console/correction", Page{Title: "Correction " + cr.ID, User: who(st), Flash: flash, Error: errMsg, Data: d})
}

func (k *ConsoleCorrections) decide(c *gin.Context) {
	st, v, ok := k.Console.staff(c, "corrections")
	if !ok {
		return
	}
	decision, note := c.PostForm("decision"), c.PostForm("note")
	cr, err := k.Corrections.Decide(c.Request.Context(), correctionsActor(c, st), c.Param("id"), decision, note)
	if err != nil && cr == nil {
		status, msg := refusal(k.Console.log(), "decide correction", err)
		k.renderDetail(c, st, v, status, "", msg, correctionData{Decision: decision, Note: note})
		return
	}
	if err != nil { // decided, but the posting failed: it stays approved
		k.Console.log().Error("web: post correction", "correction_id", cr.ID, "err", err)
	}
	c.Redirect(http.StatusSeeOther, "/console/corrections/"+cr.ID+"?done="+cr.Status)
}

func (k *ConsoleCorrections) retry(c *gin.Context) {
	st, v, ok := k.Console.staff(c, "corrections")
	if !ok {
		return
	}
	if !staff.Can(st.Role, staff.ActCorrectionsApprove) {
		k.renderDetail(c, st, v, http.StatusForbidden, "", readable(`role "`+string(st.Role)+`" may not `+string(staff.ActCorrectionsApprove)), correctionData{})
		return
	}
	cr, err := k.Corrections.Resume(c.Request.Context(), c.Param("id"))
	if err != nil {
		status, msg := refusal(k.Console.log(), "post correction", err)
		k.renderDetail(c, st, v, status, "", msg, correctionData{})
		return
	}
	c.Redirect(http.StatusSeeOther, "/console/corrections/"+cr.ID+"?done="+cr.Status)
}
