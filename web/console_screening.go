package web

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/partners"
	"github.com/bankbridge/bankbridge/partners/staff"
	"github.com/bankbridge/bankbridge/risk/screening"
)

// The console's Screening page (issue 16 item 3): /console/screening lists
// the imported sanctions and watch lists (entries, when, by whom, the
// file's SHA-256) and screens a name typed in ("test a name", a POST so the
// name stays out of URLs and access logs), each match explained. Staff
// whose role has staff.ActScreening see it. The partner page shows, while a
// partner is under review (due diligence), the matches of its legal name,
// read-only.

// Screening is what the console needs of risk/screening.
type Screening interface {
	screening.Screener
	Lists(ctx context.Context) ([]screening.ListSummary, error)
	Threshold() float64
}

type screeningData struct {
	*consoleView
	Lists     []screening.ListSummary
	Threshold float64
	// Name is the name screened ("" before a test), Matches its matches.
	Name    string
	Tested  bool
	Matches []screening.Match
}

// screeningStaff signs the member in and requires staff.ActScreening and
// a configured screening service.
func (k *Console) screeningStaff(c *gin.Context) (*staff.Member, *consoleView, bool) {
	st, v, ok := k.staff(c, "screening")
	if !ok {
		return nil, nil, false
	}
	if !k.allowed(c, st, staff.ActScreening) {
		return nil, nil, false
	}
	if k.Screening == nil {
		k.problemPage(c, http.StatusNotFound, "Not found", "Screening is not available on this server.", who(st))
		return nil, nil, false
	}
	return st, v, true
}

func (k *Console) screeningPage(c *gin.Context, st *staff.Member, d screeningData, status int, errMsg string) {
	var err error
	if d.Lists, err = k.Screening.Lists(c.Request.Context()); err != nil {
		s2, msg := refusal(k.log(), "screening lists", err)
		k.problemPage(c, s2, titleFor(s2), msg, who(st))
		return
	}
	d.Threshold = k.Screening.Threshold()
	k.page(c, status, "console/screening", Page{Title: "Screening", User: who(st), Error: errMsg, Data: d})
}

func (k *Console) screeningHome(c *gin.Context) {
	st, v, ok := k.screeningStaff(c)
	if !ok {
		return
	}
	k.screeningPage(c, st, screeningData{consoleView: v}, http.StatusOK, "")
}

func (k *Console) screeningTest(c *gin.Context) {
	st, v, ok := k.screeningStaff(c)
	if !ok {
		return
	}
	d := screeningData{consoleView: v, Name: c.PostForm("name"), Tested: true}
	ms, err := k.Screening.Screen(c.Request.Context(), d.Name)
	var p *problem.Error
	switch {
	case errors.As(err, &p) && p.Code == problem.CodeValidation:
		d.Tested = false
		k.screeningPage(c, st, d, http.StatusUnprocessableEntity, upperFirst(p.Detail)+".")
		return
	case err != nil:
		s2, msg := refusal(k.log(), "screen a name", err)
		k.problemPage(c, s2, titleFor(s2), msg, who(st))
		return
	}
	d.Matches = ms
	k.screeningPage(c, st, d, http.StatusOK, "")
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// partnerScreening is the partner page's section: the matches of the
// partner's legal name while it is under review.
type partnerScreening struct {
	Shown bool
	// Unavailable says why there are no results ("" when there are).
	Unavailable string
	Name        string
	Matches     []screening.Match
}

// screenPartner screens p's legal name for the partner page, while p is
// under review, for staff who record due diligence or use screening.
func (k *Console) screenPartner(ctx context.Context, st *staff.Member, p *partners.Partner) partnerScreening {
	if p.Status != partners.StatusUnderReview || !(staff.Can(st.Role, staff.ActDueDiligence) || staff.Can(st.Role, staff.ActScreening)) {
		return partnerScreening{}
	}
	out := partnerScreening{Shown: true, Name: p.LegalName}
	if out.Name == "" {
		out.Name = p.Name()
	}
	if k.Screening == nil {
		out.Unavailable = "Screening is not available on this server."
		return out
	}
	ms, err := k.Screening.Screen(ctx, out.Name)
	if err != nil {
		k.log().Error("web: screen partner", "partner_id", p.ID, "err", err)
		out.Unavailable = "The screening could not be run; try again."
		return out
	}
	out.Matches = ms
	return out
}
