package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/monitoring/reviews"
	"github.com/bankbridge/bankbridge/partners"
	"github.com/bankbridge/bankbridge/partners/staff"
)

// ConsoleReviews serves quarterly partner performance reviews in the staff
// console (issue 15): the list of reviews (/console/reviews), a partner's
// reviews with the form that drafts one for a quarter
// (/console/partners/:pid/reviews), and a review's page with its frozen
// scorecard, the maker's ratings, notes and outcome, submission, and the
// checker's sign-off or return. Controls are shown by role (staff.Can); the
// service enforces the same rules and maker-checker.
type ConsoleReviews struct {
	Console *Console
	Reviews *reviews.Service
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Register mounts the pages under /console.
func (k *ConsoleReviews) Register(r gin.IRouter) {
	g := r.Group("/console")
	g.GET("/reviews", k.list)
	g.GET("/partners/:pid/reviews", k.partnerReviews)
	g.POST("/partners/:pid/reviews", k.draft)
	g.GET("/reviews/:id", k.detail)
	g.POST("/reviews/:id", k.edit)
	g.POST("/reviews/:id/refresh", k.action("refresh"))
	g.POST("/reviews/:id/submit", k.action("submit"))
	g.POST("/reviews/:id/approve", k.action("approve"))
	g.POST("/reviews/:id/reject", k.action("reject"))
}

func (k *ConsoleReviews) now() time.Time {
	if k.Now != nil {
		return k.Now().UTC()
	}
	return time.Now().UTC()
}

var reviewFlashes = map[string]string{
	"drafted": "Draft created with the quarter's scorecard.",
	"saved":   "Ratings and notes saved.",
	"refresh": "Scorecard recomputed from the platform's data.",
	"submit":  "Submitted. Another staff member with the approve right must sign it off.",
	"approve": "Signed off and published: the partner sees it in the portal, and its risk rating follows the outcome.",
	"reject":  "Sent back to the maker as a draft with your note.",
}

// staff signs the member in and requires reviews.read.
func (k *ConsoleReviews) staff(c *gin.Context) (*staff.Member, *consoleView, bool) {
	st, v, ok := k.Console.staff(c, "reviews")
	if !ok {
		return nil, nil, false
	}
	if !staff.Can(st.Role, staff.ActReviewsRead) {
		k.Console.problemPage(c, http.StatusForbidden, "Not allowed", "Your role ("+string(st.Role)+") may not see this page.", who(st))
		return nil, nil, false
	}
	return st, v, true
}

type reviewRow struct {
	reviews.Review
	PartnerName string
}

type reviewListData struct {
	*consoleView
	Reviews []reviewRow
	// Partner is set on a partner's reviews page.
	Partner  *partners.Partner
	CanDraft bool
	// Quarter is proposed for a new draft (the last complete quarter).
	Quarter string
	Status  string
}

func (k *ConsoleReviews) list(c *gin.Context) {
	st, v, ok := k.staff(c)
	if !ok {
		return
	}
	k.renderList(c, st, v, nil, http.StatusOK, "", "")
}

func (k *ConsoleReviews) partnerReviews(c *gin.Context) {
	st, v, ok := k.staff(c)
	if !ok {
		return
	}
	p, err := k.Console.Partners.Partner(c.Request.Context(), c.Param("pid"))
	if err != nil {
		status, msg := refusal(k.Console.log(), "load partner", err)
		k.Console.problemPage(c, status, titleFor(status), msg, who(st))
		return
	}
	k.renderList(c, st, v, p, http.StatusOK, "", "")
}

func (k *ConsoleReviews) renderList(c *gin.Context, st *staff.Member, v *consoleView, p *partners.Partner, status int, quarter, errMsg string) {
	ctx := c.Request.Context()
	d := reviewListData{consoleView: v, Partner: p, CanDraft: p != nil && staff.Can(st.Role, staff.ActReviewsDraft),
		Quarter: reviews.QuarterOf(k.now()).Previous().String(), Status: c.Query("status")}
	if quarter != "" {
		d.Quarter = quarter
	}
	f := reviews.Filter{Status: reviews.Status(d.Status)}
	if p != nil {
		f.PartnerID = p.ID
	}
	list, err := k.Reviews.List(ctx, f)
	if err != nil {
		s2, msg := refusal(k.Console.log(), "list reviews", err)
		k.Console.problemPage(c, s2, titleFor(s2), msg, who(st))
		return
	}
	names := map[string]string{}
	for _, r := range list {
		if _, ok := names[r.PartnerID]; !ok {
			names[r.PartnerID] = r.PartnerID
			if x, err := k.Console.Partners.Partner(ctx, r.PartnerID); err == nil {
				names[r.PartnerID] = x.Name()
			}
		}
		d.Reviews = append(d.Reviews, reviewRow{Review: r, PartnerName: names[r.PartnerID]})
	}
	title := "Performance reviews"
	if p != nil {
		title = "Performance reviews of " + p.Name()
	}
	k.Console.page(c, status, "console/reviews", Page{Title: title, User: who(st), Error: errMsg, Data: d})
}

func (k *ConsoleReviews) draft(c *gin.Context) {
	st, v, ok := k.staff(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	p, err := k.Console.Partners.Partner(ctx, c.Param("pid"))
	if err != nil {
		status, msg := refusal(k.Console.log(), "load partner", err)
		k.Console.problemPage(c, status, titleFor(status), msg, who(st))
		return
	}
	r, err := k.Reviews.Draft(ctx, st.ID, p.ID, c.PostForm("quarter"))
	if err != nil {
		status, msg := refusal(k.Console.log(), "draft review", err)
		k.renderList(c, st, v, p, status, c.PostForm("quarter"), msg)
		return
	}
	c.Redirect(http.StatusSeeOther, "/console/reviews/"+r.ID+"?done=drafted")
}

type reviewDetailData struct {
	*consoleView
	Review      *reviews.Review
	PartnerName string
	Scorecard   scorecardView
	Ratings     []ratingRow
	Outcomes    []reviews.Outcome
	// OutcomeLabel names the chosen outcome; RiskRating is what it sets.
	OutcomeLabel, RiskRating string
	CreatedBy, SubmittedBy   string
	DecidedBy                string
	// What the viewer may do now.
	CanEdit, CanDecide bool
	// Maker: the viewer prepared it (and so may not sign it off).
	Maker bool
}

// OutcomeName names an outcome for the form.
func (reviewDetailData) OutcomeName(o reviews.Outcome) string { return outcomeLabels[o] }

func (k *ConsoleReviews) detail(c *gin.Context) {
	st, v, ok := k.staff(c)
	if !ok {
		return
	}
	k.renderDetail(c, st, v, c.Param("id"), http.StatusOK, reviewFlashes[c.Query("done")], "", nil)
}

// renderDetail renders a review's page; form, when set, replaces the stored
// assessment (a refused edit is shown as typed).
func (k *ConsoleReviews) renderDetail(c *gin.Context, st *staff.Member, v *consoleView, id string, status int, flash, errMsg string, form *reviews.Assessment) {
	ctx := c.Request.Context()
	r, err := k.Reviews.Get(ctx, id)
	if err != nil {
		s2, msg := refusal(k.Console.log(), "load review", err)
		k.Console.problemPage(c, s2, titleFor(s2), msg, who(st))
		return
	}
	if form != nil {
		r.Ratings, r.PartnerNotes, r.InternalNotes, r.Outcome = form.Ratings, form.PartnerNotes, form.InternalNotes, form.Outcome
	}
	emails := &staffEmails{k: k.Console, ctx: ctx, cache: map[string]string{}}
	d := reviewDetailData{consoleView: v, Review: r, PartnerName: r.PartnerID, Scorecard: scorecardView{&r.Scorecard},
		Ratings: ratingRows(r.Ratings), Outcomes: reviews.Outcomes, OutcomeLabel: outcomeLabels[r.Outcome],
		CreatedBy: emails.of(r.CreatedBy), SubmittedBy: emails.of(r.SubmittedBy), DecidedBy: emails.of(r.DecidedBy),
		Maker: st.ID == r.CreatedBy || st.ID == r.SubmittedBy}
	if r.Outcome != "" {
		d.RiskRating = string(r.Outcome.RiskRating())
	}
	if p, err := k.Console.Partners.Partner(ctx, r.PartnerID); err == nil {
		d.PartnerName = p.Name()
	}
	d.CanEdit = r.Status == reviews.StatusDraft && staff.Can(st.Role, staff.ActReviewsDraft)
	d.CanDecide = r.Status == reviews.StatusSubmitted && staff.Can(st.Role, staff.ActReviewsApprove)
	k.Console.page(c, status, "console/review", Page{Title: "Review " + r.Quarter + " of " + d.PartnerName, User: who(st),
		Flash: flash, Error: errMsg, Data: d})
}

// assessmentForm reads the review form.
func assessmentForm(c *gin.Context) reviews.Assessment {
	a := reviews.Assessment{Ratings: reviews.Ratings{}, PartnerNotes: c.PostForm("partner_notes"),
		InternalNotes: c.PostForm("internal_notes"), Outcome: reviews.Outcome(c.PostForm("outcome"))}
	for _, dim := range reviews.Dimensions {
		if s := c.PostForm("rating_" + dim.Key); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil {
				n = -1 // refused by the service as out of range
			}
			a.Ratings[dim.Key] = n
		}
	}
	return a
}

func (k *ConsoleReviews) edit(c *gin.Context) {
	st, v, ok := k.staff(c)
	if !ok {
		return
	}
	a := assessmentForm(c)
	if _, err := k.Reviews.Edit(c.Request.Context(), st.ID, c.Param("id"), a); err != nil {
		status, msg := refusal(k.Console.log(), "edit review", err)
		k.renderDetail(c, st, v, c.Param("id"), status, "", msg, &a)
		return
	}
	c.Redirect(http.StatusSeeOther, "/console/reviews/"+c.Param("id")+"?done=saved")
}

// action handles refresh, submit, approve and reject.
func (k *ConsoleReviews) action(name string) gin.HandlerFunc {
	return func(c *gin.Context) {
		st, v, ok := k.staff(c)
		if !ok {
			return
		}
		ctx, id := c.Request.Context(), c.Param("id")
		var err error
		switch name {
		case "refresh":
			_, err = k.Reviews.Refresh(ctx, st.ID, id)
		case "submit":
			_, err = k.Reviews.Submit(ctx, st.ID, id)
		case "approve":
			_, err = k.Reviews.Approve(ctx, st.ID, id)
		case "reject":
			_, err = k.Reviews.Reject(ctx, st.ID, id, c.PostForm("note"))
		}
		if err != nil {
			status, msg := refusal(k.Console.log(), name+" review", err)
			k.renderDetail(c, st, v, id, status, "", msg, nil)
			return
		}
		c.Redirect(http.StatusSeeOther, "/console/reviews/"+id+"?done="+name)
	}
}
