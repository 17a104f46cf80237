package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/partners"
)

// lifecycleStep is one step of the partner lifecycle as the dashboard shows it.
type lifecycleStep struct {
	Status partners.Status
	Label  string
	Done   bool
	Now    bool
}

var stepLabels = map[partners.Status]string{
	partners.StatusSandbox:     "Sandbox",
	partners.StatusApplied:     "Applied",
	partners.StatusUnderReview: "Under review",
	partners.StatusApproved:    "Approved",
	partners.StatusContracted:  "Contracted",
	partners.StatusCertified:   "Certified",
	partners.StatusLive:        "Live",
	partners.StatusSuspended:   "Suspended",
	partners.StatusTerminated:  "Terminated",
}

// statusLabel is a partner status in words.
func statusLabel(s partners.Status) string {
	if l, ok := stepLabels[s]; ok {
		return l
	}
	return string(s)
}

// nextStep explains, in plain words, where the organisation is and what
// happens next.
func nextStep(p *partners.Partner) string {
	switch p.Status {
	case partners.StatusSandbox:
		if p.StatusReason != "" {
			return "Your last application was not approved. You can keep using the sandbox, fix what the bank asked for and apply again."
		}
		return "You can build and test against the sandbox now. When you are ready for real customers, submit a partnership application."
	case partners.StatusApplied:
		return "The bank has your application and will start its review soon. Nothing to do for now."
	case partners.StatusUnderReview:
		return "The bank is reviewing your application (due diligence). You will see the decision here."
	case partners.StatusApproved:
		return "Your application is approved. The next step is signing a contract with the bank; your partner manager will contact you."
	case partners.StatusContracted:
		return "Your contract is active. Next the bank certifies your sandbox app: run the full consent, account and payment journeys in the sandbox so the integration checks can pass."
	case partners.StatusCertified:
		return "Your sandbox app passed certification. Two people at the bank now approve your go-live."
	case partners.StatusLive:
		return "You are live. Owners can create production apps and credentials."
	case partners.StatusSuspended:
		return "Your organisation is suspended: no tokens are issued and no API calls are served. Contact the bank to resolve it."
	case partners.StatusTerminated:
		return "The partnership has ended. Your apps no longer work."
	}
	return ""
}

type dashboardData struct {
	*orgView
	Steps       []lifecycleStep
	StatusLabel string
	NextStep    string
	Reason      string
	Application *partners.Application
	// Others are the user's other organisations (for switching).
	Others []partners.MembershipView
}

func (p *Portal) dashboard(c *gin.Context) {
	u, o, ok := p.org(c, "Overview")
	if !ok {
		return
	}
	d := dashboardData{orgView: o, StatusLabel: statusLabel(o.Partner.Status), NextStep: nextStep(o.Partner), Reason: o.Partner.StatusReason}
	cur := o.Partner.Status
	if cur == partners.StatusSuspended && o.Partner.SuspendedFrom != "" {
		cur = o.Partner.SuspendedFrom
	}
	reached := true
	for _, s := range partners.Statuses[:7] { // sandbox … live
		now := s == cur
		d.Steps = append(d.Steps, lifecycleStep{Status: s, Label: stepLabels[s], Done: reached && !now, Now: now})
		if now {
			reached = false
		}
	}
	if a, err := p.Partners.LatestApplication(c.Request.Context(), o.Partner.ID); err == nil {
		d.Application = a
	}
	if ms, err := p.Partners.Memberships(c.Request.Context(), u.ID); err == nil {
		for _, m := range ms {
			if m.Partner.ID != o.Partner.ID {
				d.Others = append(d.Others, m)
			}
		}
	}
	flash := ""
	switch c.Query("done") {
	case "applied":
		flash = "Application submitted. The bank will review it."
	case "profile":
		flash = "Organisation details saved."
	}
	p.page(c, http.StatusOK, "portal/dashboard", Page{Title: o.Partner.Name(), User: u.Email, Flash: flash, Data: d})
}

type profileData struct {
	*orgView
	In partners.ProfileInput
}

// Value is the expected monthly payment value in major units, for the form.
func (d profileData) Value() string { return minorToMajor(d.In.ExpectedMonthlyPaymentValue) }

func profileOf(pt *partners.Partner) partners.ProfileInput {
	return partners.ProfileInput{LegalName: pt.LegalName, TradingName: pt.TradingName, CompanyNumber: pt.CompanyNumber,
		Country: pt.Country, LicenceNumber: pt.LicenceNumber, Website: pt.Website, IntendedUse: pt.IntendedUse,
		ExpectedMonthlyAPICalls: pt.ExpectedMonthlyAPICalls, ExpectedMonthlyPayments: pt.ExpectedMonthlyPayments,
		ExpectedMonthlyPaymentValue: pt.ExpectedMonthlyPaymentValue, Currency: pt.Currency}
}

// formInt reads a whole number field; "" is 0, anything unreadable -1 (the
// service refuses negatives with its own message).
func formInt(c *gin.Context, name string) int64 {
	v := strings.ReplaceAll(strings.TrimSpace(c.PostForm(name)), ",", "")
	if v == "" {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// formMinor reads an amount in major units with up to two decimals ("1250.50")
// as minor units; unreadable is -1.
func formMinor(c *gin.Context, name string) int64 {
	v := strings.ReplaceAll(strings.TrimSpace(c.PostForm(name)), ",", "")
	if v == "" {
		return 0
	}
	whole, frac, _ := strings.Cut(v, ".")
	if len(frac) > 2 {
		return -1
	}
	frac += strings.Repeat("0", 2-len(frac))
	w, err1 := strconv.ParseInt(whole, 10, 64)
	f, err2 := strconv.ParseInt(frac, 10, 64)
	if err1 != nil || err2 != nil || w < 0 || w > 1e15 {
		return -1
	}
	return w*100 + f
}

// minorToMajor formats minor units as a plain major-unit amount ("1250.50").
func minorToMajor(v int64) string {
	if v <= 0 {
		return ""
	}
	return strconv.FormatInt(v/100, 10) + "." + strings.TrimPrefix(strconv.FormatInt(100+v%100, 10), "1")
}

func profileFromForm(c *gin.Context) partners.ProfileInput {
	f := func(n string) string { return strings.TrimSpace(c.PostForm(n)) }
	return partners.ProfileInput{LegalName: f("legal_name"), TradingName: f("trading_name"), CompanyNumber: f("company_number"),
		Country: strings.ToUpper(f("country")), LicenceNumber: f("licence_number"), Website: f("website"), IntendedUse: f("intended_use"),
		ExpectedMonthlyAPICalls: formInt(c, "expected_monthly_api_calls"), ExpectedMonthlyPayments: formInt(c, "expected_monthly_payments"),
		ExpectedMonthlyPaymentValue: formMinor(c, "expected_monthly_payment_value"), Currency: strings.ToUpper(f("currency"))}
}

func (p *Portal) profileForm(c *gin.Context) {
	u, o, ok := p.org(c, "Organisation")
	if !ok {
		return
	}
	p.page(c, http.StatusOK, "portal/profile", Page{Title: "Organisation details", User: u.Email,
		Data: profileData{orgView: o, In: profileOf(o.Partner)}})
}

func (p *Portal) updateProfile(c *gin.Context) {
	u, o, ok := p.org(c, "Organisation")
	if !ok {
		return
	}
	in := profileFromForm(c)
	if _, err := p.Partners.UpdateProfile(c.Request.Context(), u.ID, o.Partner.ID, in); err != nil {
		status, msg := refusal(p.log(), "update profile", err)
		p.page(c, status, "portal/profile", Page{Title: "Organisation details", User: u.Email, Error: msg,
			Data: profileData{orgView: o, In: in}})
		return
	}
	c.Redirect(http.StatusSeeOther, o.Base()+"?done=profile")
}

type applicationData struct {
	*orgView
	In          partners.Application
	CanApplyNow bool
	Submitted   *partners.Application
	StatusLabel string
}

// Value is the expected monthly payment value in major units, for the form.
func (d applicationData) Value() string { return minorToMajor(d.In.ExpectedMonthlyPaymentValue) }

func (p *Portal) applicationForm(c *gin.Context) {
	u, o, ok := p.org(c, "Overview")
	if !ok {
		return
	}
	pt := o.Partner
	in := partners.Application{LegalName: pt.LegalName, TradingName: pt.TradingName, CompanyNumber: pt.CompanyNumber,
		Country: pt.Country, LicenceNumber: pt.LicenceNumber, Website: pt.Website, IntendedUse: pt.IntendedUse,
		ExpectedMonthlyAPICalls: pt.ExpectedMonthlyAPICalls, ExpectedMonthlyPayments: pt.ExpectedMonthlyPayments,
		ExpectedMonthlyPaymentValue: pt.ExpectedMonthlyPaymentValue, Currency: pt.Currency, ContactEmail: u.Email}
	d := applicationData{orgView: o, In: in, CanApplyNow: pt.Status == partners.StatusSandbox, StatusLabel: statusLabel(pt.Status)}
	if a, err := p.Partners.LatestApplication(c.Request.Context(), pt.ID); err == nil {
		d.Submitted = a
		if d.CanApplyNow { // applying again after a rejection: start from the last one
			d.In.ContactName, d.In.ContactEmail = a.ContactName, a.ContactEmail
		}
	}
	p.page(c, http.StatusOK, "portal/application", Page{Title: "Partnership application", User: u.Email, Data: d})
}

func (p *Portal) submitApplication(c *gin.Context) {
	u, o, ok := p.org(c, "Overview")
	if !ok {
		return
	}
	pr := profileFromForm(c)
	a := partners.Application{LegalName: pr.LegalName, TradingName: pr.TradingName, CompanyNumber: pr.CompanyNumber,
		Country: pr.Country, LicenceNumber: pr.LicenceNumber, Website: pr.Website, IntendedUse: pr.IntendedUse,
		ExpectedMonthlyAPICalls: pr.ExpectedMonthlyAPICalls, ExpectedMonthlyPayments: pr.ExpectedMonthlyPayments,
		ExpectedMonthlyPaymentValue: pr.ExpectedMonthlyPaymentValue, Currency: pr.Currency,
		ContactName: strings.TrimSpace(c.PostForm("contact_name")), ContactEmail: strings.TrimSpace(c.PostForm("contact_email"))}
	if _, err := p.Partners.SubmitApplication(c.Request.Context(), u.ID, o.Partner.ID, a); err != nil {
		status, msg := refusal(p.log(), "submit application", err)
		p.page(c, status, "portal/application", Page{Title: "Partnership application", User: u.Email, Error: msg,
			Data: applicationData{orgView: o, In: a, CanApplyNow: true, StatusLabel: statusLabel(o.Partner.Status)}})
		return
	}
	c.Redirect(http.StatusSeeOther, o.Base()+"?done=applied")
}

type teamData struct {
	*orgView
	Members []partners.Member
	Me      string
	Roles   []partners.Role
	Invited *partners.InviteResult
}

var memberRoles = []partners.Role{partners.RoleOwner, partners.RoleDeveloper, partners.RoleViewer}

func (p *Portal) renderTeam(c *gin.Context, u *portalUser, o *orgView, status int, flash, errMsg string, invited *partners.InviteResult) {
	members, err := p.Partners.Team(c.Request.Context(), u.ID, o.Partner.ID)
	if err != nil {
		status, errMsg = refusal(p.log(), "team", err)
	}
	p.page(c, status, "portal/team", Page{Title: "Team", User: u.Email, Flash: flash, Error: errMsg,
		Data: teamData{orgView: o, Members: members, Me: u.ID, Roles: memberRoles, Invited: invited}})
}

func (p *Portal) team(c *gin.Context) {
	u, o, ok := p.org(c, "Team")
	if !ok {
		return
	}
	flash := ""
	switch c.Query("done") {
	case "role":
		flash = "Role changed."
	case "removed":
		flash = "Member removed."
	}
	p.renderTeam(c, u, o, http.StatusOK, flash, "", nil)
}

func (p *Portal) invite(c *gin.Context) {
	u, o, ok := p.org(c, "Team")
	if !ok {
		return
	}
	inv, err := p.Partners.Invite(c.Request.Context(), u.ID, o.Partner.ID, c.PostForm("email"), partners.Role(c.PostForm("role")))
	if err != nil {
		status, msg := refusal(p.log(), "invite", err)
		p.renderTeam(c, u, o, status, "", msg, nil)
		return
	}
	p.renderTeam(c, u, o, http.StatusOK, "Invitation sent to "+inv.Invitation.Email+".", "", inv)
}

func (p *Portal) changeRole(c *gin.Context) {
	u, o, ok := p.org(c, "Team")
	if !ok {
		return
	}
	if err := p.Partners.ChangeRole(c.Request.Context(), u.ID, o.Partner.ID, c.Param("uid"), partners.Role(c.PostForm("role"))); err != nil {
		status, msg := refusal(p.log(), "change role", err)
		p.renderTeam(c, u, o, status, "", msg, nil)
		return
	}
	c.Redirect(http.StatusSeeOther, o.Base()+"/team?done=role")
}

func (p *Portal) removeMember(c *gin.Context) {
	u, o, ok := p.org(c, "Team")
	if !ok {
		return
	}
	uid := c.Param("uid")
	if err := p.Partners.RemoveMember(c.Request.Context(), u.ID, o.Partner.ID, uid); err != nil {
		status, msg := refusal(p.log(), "remove member", err)
		p.renderTeam(c, u, o, status, "", msg, nil)
		return
	}
	if uid == u.ID { // left the organisation
		p.toFirstOrg(c.Request.Context(), c, u.ID)
		return
	}
	c.Redirect(http.StatusSeeOther, o.Base()+"/team?done=removed")
}
