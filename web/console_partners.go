package web

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/monitoring/reviews"
	"github.com/bankbridge/bankbridge/partners"
	"github.com/bankbridge/bankbridge/partners/staff"
)

type statusOption struct {
	Value, Label string
	Selected     bool
}

type partnerRow struct {
	partners.Partner
	StatusLabel string
}

type approvalView struct {
	partners.ApprovalRequest
	PartnerName      string
	RequestedByEmail string
	Label            string // "Go-live", "Reinstatement", "Reinstatement of app …"
	ApproveLabel     string // "Approve go-live", "Approve reinstatement", "Approve app reinstatement"
	CanDecide        bool
	Mine             bool
	// NeedsRisk is set when approving lifts a risk officer's suspension.
	NeedsRisk bool
}

type partnerListData struct {
	*consoleView
	Statuses []statusOption
	Partners []partnerRow
	Pending  []approvalView
}

func (k *Console) partnerList(c *gin.Context) {
	st, v, ok := k.staff(c, "partners")
	if !ok {
		return
	}
	if !k.allowed(c, st, staff.ActPartnersRead) {
		return
	}
	ctx := c.Request.Context()
	status := partners.Status(c.Query("status"))
	d := partnerListData{consoleView: v, Statuses: []statusOption{{"", "All statuses", status == ""}}}
	for _, s := range partners.Statuses {
		d.Statuses = append(d.Statuses, statusOption{string(s), statusLabel(s), s == status})
	}
	var filter []partners.Status
	if status != "" {
		if !status.Valid() {
			k.page(c, http.StatusBadRequest, "console/partners", Page{Title: "Partners", User: who(st),
				Error: "Choose a status from the list.", Data: d})
			return
		}
		filter = append(filter, status)
	}
	list, err := k.Partners.ListPartners(ctx, filter...)
	if err != nil {
		code, msg := refusal(k.log(), "list partners", err)
		k.problemPage(c, code, titleFor(code), msg, who(st))
		return
	}
	names := map[string]string{}
	for _, p := range list {
		d.Partners = append(d.Partners, partnerRow{Partner: p, StatusLabel: statusLabel(p.Status)})
		names[p.ID] = p.Name()
	}
	d.Pending = k.pendingApprovals(ctx, st, "", names)
	flash := ""
	if c.Query("done") == "password" {
		flash = "Password changed."
	}
	k.page(c, http.StatusOK, "console/partners", Page{Title: "Partners", User: who(st), Flash: flash, Data: d})
}

// staffEmails resolves staff ids to emails for display, once per id.
type staffEmails struct {
	k     *Console
	ctx   context.Context
	cache map[string]string
}

func (s *staffEmails) of(id string) string {
	if id == "" {
		return ""
	}
	if e, ok := s.cache[id]; ok {
		return e
	}
	e := id
	if st, err := s.k.staffAccounts().Get(s.ctx, id); err == nil {
		e = st.Email
	}
	s.cache[id] = e
	return e
}

// pendingApprovals lists pending maker-checker requests (of one partner, or
// all when partnerID is "").
func (k *Console) pendingApprovals(ctx context.Context, st *staff.Member, partnerID string, names map[string]string) []approvalView {
	reqs, err := k.Partners.Approvals(ctx, partners.ApprovalPending)
	if err != nil {
		k.log().Error("web: list approvals", "err", err)
		return nil
	}
	emails := &staffEmails{k: k, ctx: ctx, cache: map[string]string{}}
	var out []approvalView
	for _, r := range reqs {
		if partnerID != "" && r.PartnerID != partnerID {
			continue
		}
		v := approvalView{ApprovalRequest: r, PartnerName: names[r.PartnerID], RequestedByEmail: emails.of(r.RequestedBy),
			Mine: r.RequestedBy == st.ID, Label: "Go-live", ApproveLabel: "Approve go-live"}
		switch r.Kind {
		case partners.KindReinstate:
			v.Label, v.ApproveLabel = "Reinstatement", "Approve reinstatement"
		case partners.KindAppReinstate:
			v.Label, v.ApproveLabel = "Reinstatement of app "+r.AppID, "Approve app reinstatement"
		}
		needs, err := k.Partners.ApprovalNeeds(ctx, r)
		if err != nil {
			k.log().Error("web: approval needs", "request", r.ID, "err", err)
		}
		v.CanDecide = len(needs) > 0
		for _, a := range needs {
			v.CanDecide = v.CanDecide && staff.Can(st.Role, a)
			v.NeedsRisk = v.NeedsRisk || a == staff.ActLiftRiskSuspension
		}
		out = append(out, v)
	}
	return out
}

type checkView struct {
	Name, Detail, Evidence string
	Passed                 bool
	Skipped                bool // not yet available: neither passed nor failed
}

type certRunView struct {
	partners.CertificationRun
	RunByEmail string
	Checks     []checkView
}

type appRow struct {
	partners.App
	CanSuspend, CanReinstate bool
	// ReinstatePending is set while a reinstatement request for the app waits.
	ReinstatePending bool
}

// riskRow is one change of a partner's risk rating with who made it.
type riskRow struct {
	partners.RiskChange
	By string
}

// ReviewID is the review a "review:<id>" source names ("" for other sources).
func (r riskRow) ReviewID() string {
	id, _ := strings.CutPrefix(r.Source, "review:")
	if id == r.Source {
		return ""
	}
	return id
}

type partnerDetailData struct {
	*consoleView
	Partner     *partners.Partner
	StatusLabel string
	Application *partners.Application
	AppValue    string                 // the application's expected monthly payment value in major units
	Scorecard   *partners.DueDiligence // recorded
	DDForm      partners.DueDiligence  // the form's values
	Scores      []int
	AMLResults  []partners.AMLResult
	Apps        []appRow
	SandboxApps []partners.App
	Runs        []certRunView
	LatestRun   *certRunView // the evidence shown with go-live
	Pending     []approvalView
	Consents    consentsSection
	// Risk is the history of the partner's risk rating, newest first.
	Risk []riskRow
	// Reviews are the partner's performance reviews (ShowReviews: the
	// viewer may read them and the console has them).
	Reviews     []reviews.Review
	ShowReviews bool
	// Screening is the matches of the legal name while under review.
	Screening partnerScreening
	// Which actions to show.
	CanStartReview, CanRecordDD, CanDecide, CanCertify, CanRequestGoLive bool
	CanSuspend, CanRequestReinstate, CanTerminate                        bool
}

// renderPartner renders a partner's detail page with a message, to a role
// that may read partners (others get the refusal).
func (k *Console) renderPartner(c *gin.Context, st *staff.Member, v *consoleView, pid string, status int, flash, errMsg string, form *partners.DueDiligence) {
	if !k.allowed(c, st, staff.ActPartnersRead) {
		return
	}
	ctx := c.Request.Context()
	p, err := k.Partners.Partner(ctx, pid)
	if err != nil {
		code, msg := refusal(k.log(), "load partner", err)
		k.problemPage(c, code, titleFor(code), msg, who(st))
		return
	}
	can := func(a staff.Action) bool { return staff.Can(st.Role, a) }
	d := partnerDetailData{consoleView: v, Partner: p, StatusLabel: statusLabel(p.Status), Scores: []int{1, 2, 3, 4, 5},
		AMLResults: []partners.AMLResult{partners.AMLClear, partners.AMLReview, partners.AMLHit}}
	if a, err := k.Partners.LatestApplication(ctx, pid); err == nil {
		d.Application, d.AppValue = a, minorToMajor(a.ExpectedMonthlyPaymentValue)
	}
	if dd, err := k.Partners.DueDiligenceFor(ctx, pid); err == nil && (d.Application == nil || dd.ApplicationID == d.Application.ID) {
		d.Scorecard = dd
		d.DDForm = *dd
	}
	if form != nil {
		d.DDForm = *form
	}
	apps, err := k.Partners.PartnerApps(ctx, pid)
	if err != nil {
		k.log().Error("web: partner apps", "err", err)
	}
	d.Pending = k.pendingApprovals(ctx, st, pid, map[string]string{pid: p.Name()})
	pendingKind, pendingApp := map[string]bool{}, map[string]bool{}
	for _, a := range d.Pending {
		pendingKind[a.Kind] = true
		if a.Kind == partners.KindAppReinstate {
			pendingApp[a.AppID] = true
		}
	}
	for _, a := range apps {
		d.Apps = append(d.Apps, appRow{App: a, CanSuspend: a.Status == partners.AppActive && can(staff.ActSuspend),
			CanReinstate:     a.Status == partners.AppSuspended && can(staff.ActReinstateRequest) && !pendingApp[a.ID],
			ReinstatePending: a.Status == partners.AppSuspended && pendingApp[a.ID]})
		if a.Environment == environment.Sandbox && a.Status != partners.AppRevoked {
			d.SandboxApps = append(d.SandboxApps, a)
		}
	}
	emails := &staffEmails{k: k, ctx: ctx, cache: map[string]string{}}
	runs, err := k.Partners.CertificationRuns(ctx, pid)
	if err != nil {
		k.log().Error("web: certification runs", "err", err)
	}
	d.Runs = certRunViews(runs, func(id string) string {
		if strings.HasPrefix(id, "usr_") {
			if u, err := k.Partners.User(ctx, id); err == nil {
				return u.Email + " (partner)"
			}
		}
		return emails.of(id)
	})
	if len(d.Runs) > 0 {
		d.LatestRun = &d.Runs[0]
	}
	d.Consents = k.partnerConsents(ctx, pid)
	if hist, err := k.Partners.RiskHistory(ctx, pid); err != nil {
		k.log().Error("web: risk history", "err", err)
	} else {
		for _, h := range hist {
			by := emails.of(h.ActorID)
			if h.ActorType != audit.ActorStaff {
				by = h.ActorType + ":" + h.ActorID
			}
			d.Risk = append(d.Risk, riskRow{RiskChange: h, By: by})
		}
	}
	if k.Reviews != nil && can(staff.ActReviewsRead) {
		d.ShowReviews = true
		if d.Reviews, err = k.Reviews.List(ctx, reviews.Filter{PartnerID: pid}); err != nil {
			k.log().Error("web: partner reviews", "err", err)
		}
	}
	d.Screening = k.screenPartner(ctx, st, p)
	s := p.Status
	d.CanStartReview = s == partners.StatusApplied && can(staff.ActApplicationsReview)
	d.CanRecordDD = s == partners.StatusUnderReview && can(staff.ActDueDiligence)
	d.CanDecide = s == partners.StatusUnderReview && can(staff.ActApplicationsDecide)
	d.CanCertify = (s == partners.StatusContracted || s == partners.StatusCertified) && can(staff.ActCertification) && len(d.SandboxApps) > 0
	d.CanRequestGoLive = s == partners.StatusCertified && can(staff.ActGoLiveRequest) && !pendingKind[partners.KindGoLive]
	d.CanSuspend = partners.CanTransition(s, partners.StatusSuspended) && can(staff.ActSuspend)
	d.CanRequestReinstate = s == partners.StatusSuspended && can(staff.ActReinstateRequest) && !pendingKind[partners.KindReinstate]
	d.CanTerminate = s != partners.StatusTerminated && can(staff.ActTerminate)
	k.page(c, status, "console/partner", Page{Title: p.Name(), User: who(st), Flash: flash, Error: errMsg, Data: d})
}

var consoleFlashes = map[string]string{
	"review":        "Review started.",
	"due-diligence": "Scorecard saved.",
	"approved":      "Application approved. The partner sees the decision.",
	"rejected":      "Application rejected. The partner sees your reasons.",
	"certification": "Certification run recorded.",
	"go-live":       "Go-live requested. Another staff member must approve it.",
	"suspended":     "Partner suspended. Its tokens are revoked and its API calls refused.",
	"reinstate":     "Reinstatement requested. Another staff member must approve it (a risk officer, when a risk officer suspended the partner).",
	"terminated":    "Partnership terminated.",
	"approval":      "Request approved.",
	"approval-no":   "Request rejected.",
	"app-suspended": "App suspended. Its tokens are revoked.",
	"app-reinstate": "App reinstatement requested. Another staff member must approve it " +
		"(a risk officer, when a risk officer suspended the app).",
}

func (k *Console) partnerDetail(c *gin.Context) {
	st, v, ok := k.staff(c, "partners")
	if !ok {
		return
	}
	k.renderPartner(c, st, v, c.Param("pid"), http.StatusOK, consoleFlashes[c.Query("done")], "", nil)
}

// partnerAction runs one state-changing service call for the :pid partner
// and redirects back to its page, or shows the refusal there.
func (k *Console) partnerAction(c *gin.Context, done string, call func(ctx context.Context, staffID, pid string) error) {
	st, v, ok := k.staff(c, "partners")
	if !ok {
		return
	}
	pid := c.Param("pid")
	if err := call(c.Request.Context(), st.ID, pid); err != nil {
		status, msg := refusal(k.log(), "console "+done, err)
		k.renderPartner(c, st, v, pid, status, "", msg, nil)
		return
	}
	c.Redirect(http.StatusSeeOther, "/console/partners/"+pid+"?done="+done)
}

func (k *Console) startReview(c *gin.Context) {
	k.partnerAction(c, "review", k.Partners.StartReview)
}

func formScore(c *gin.Context, name string) int {
	n, err := strconv.Atoi(strings.TrimSpace(c.PostForm(name)))
	if err != nil {
		return 0
	}
	return n
}

func (k *Console) recordDueDiligence(c *gin.Context) {
	st, v, ok := k.staff(c, "partners")
	if !ok {
		return
	}
	pid := c.Param("pid")
	dd := partners.DueDiligence{
		IndustryStanding: formScore(c, "industry_standing"), IndustryStandingNotes: c.PostForm("industry_standing_notes"),
		BusinessCapability: formScore(c, "business_capability"), BusinessCapabilityNotes: c.PostForm("business_capability_notes"),
		ResourceIntegration: formScore(c, "resource_integration"), ResourceIntegrationNotes: c.PostForm("resource_integration_notes"),
		WillingnessToCooperate: formScore(c, "willingness_to_cooperate"), WillingnessToCooperateNotes: c.PostForm("willingness_to_cooperate_notes"),
		LicenceVerified: c.PostForm("licence_verified") != "", AMLResult: partners.AMLResult(c.PostForm("aml_result")),
		ComplianceNotes: c.PostForm("compliance_notes")}
	if _, err := k.Partners.RecordDueDiligence(c.Request.Context(), st.ID, pid, dd); err != nil {
		status, msg := refusal(k.log(), "record due diligence", err)
		k.renderPartner(c, st, v, pid, status, "", msg, &dd)
		return
	}
	c.Redirect(http.StatusSeeOther, "/console/partners/"+pid+"?done=due-diligence")
}

func (k *Console) decide(c *gin.Context) {
	decision := partners.Decision(c.PostForm("decision"))
	done := "approved"
	if decision == partners.DecisionRejected {
		done = "rejected"
	}
	k.partnerAction(c, done, func(ctx context.Context, staffID, pid string) error {
		return k.Partners.DecideApplication(ctx, staffID, pid, decision, c.PostForm("reasons"))
	})
}

func (k *Console) certify(c *gin.Context) {
	k.partnerAction(c, "certification", func(ctx context.Context, staffID, pid string) error {
		_, err := k.Partners.RecordCertification(ctx, staffID, pid, c.PostForm("app_id"))
		return err
	})
}

func (k *Console) requestGoLive(c *gin.Context) {
	k.partnerAction(c, "go-live", func(ctx context.Context, staffID, pid string) error {
		_, err := k.Partners.RequestGoLive(ctx, staffID, pid)
		return err
	})
}

func (k *Console) suspend(c *gin.Context) {
	k.partnerAction(c, "suspended", func(ctx context.Context, staffID, pid string) error {
		return k.Partners.Suspend(ctx, staffID, pid, c.PostForm("reason"))
	})
}

func (k *Console) requestReinstate(c *gin.Context) {
	k.partnerAction(c, "reinstate", func(ctx context.Context, staffID, pid string) error {
		_, err := k.Partners.RequestReinstate(ctx, staffID, pid, c.PostForm("reason"))
		return err
	})
}

func (k *Console) terminate(c *gin.Context) {
	k.partnerAction(c, "terminated", func(ctx context.Context, staffID, pid string) error {
		return k.Partners.Terminate(ctx, staffID, pid, c.PostForm("reason"))
	})
}

// approvalDecision is the checker step of a maker-checker request. The
// request's partner comes from the form (to show the page again); the service
// decides on the request id alone.
func (k *Console) approvalDecision(c *gin.Context, approve bool) {
	st, v, ok := k.staff(c, "partners")
	if !ok {
		return
	}
	id, pid := c.Param("id"), c.PostForm("partner_id")
	err := k.Partners.DecideApproval(c.Request.Context(), st.ID, id, approve, c.PostForm("reasons"))
	if err != nil {
		status, msg := refusal(k.log(), "decide approval", err)
		if pid == "" {
			k.problemPage(c, status, titleFor(status), msg, who(st))
			return
		}
		k.renderPartner(c, st, v, pid, status, "", msg, nil)
		return
	}
	done := "approval"
	if !approve {
		done = "approval-no"
	}
	if pid == "" {
		c.Redirect(http.StatusSeeOther, "/console/partners")
		return
	}
	c.Redirect(http.StatusSeeOther, "/console/partners/"+pid+"?done="+done)
}

func (k *Console) approve(c *gin.Context)        { k.approvalDecision(c, true) }
func (k *Console) rejectApproval(c *gin.Context) { k.approvalDecision(c, false) }

// appAction suspends or reinstates an app and returns to its partner's page.
func (k *Console) appAction(c *gin.Context, done string, call func(ctx context.Context, staffID, aid string) error) {
	st, v, ok := k.staff(c, "partners")
	if !ok {
		return
	}
	ctx := c.Request.Context()
	a, err := k.Partners.App(ctx, c.Param("aid"))
	if err != nil {
		status, msg := refusal(k.log(), "load app", err)
		k.problemPage(c, status, titleFor(status), msg, who(st))
		return
	}
	if err := call(ctx, st.ID, a.ID); err != nil {
		status, msg := refusal(k.log(), "console "+done, err)
		k.renderPartner(c, st, v, a.PartnerID, status, "", msg, nil)
		return
	}
	c.Redirect(http.StatusSeeOther, "/console/partners/"+a.PartnerID+"?done="+done)
}

func (k *Console) suspendApp(c *gin.Context) {
	k.appAction(c, "app-suspended", func(ctx context.Context, staffID, aid string) error {
		return k.Partners.SuspendApp(ctx, staffID, aid, c.PostForm("reason"))
	})
}

// reinstateApp is the maker step of an app's reinstatement; the checker
// decides it among the partner's pending requests.
func (k *Console) reinstateApp(c *gin.Context) {
	k.appAction(c, "app-reinstate", func(ctx context.Context, staffID, aid string) error {
		_, err := k.Partners.RequestAppReinstate(ctx, staffID, aid, c.PostForm("reason"))
		return err
	})
}
