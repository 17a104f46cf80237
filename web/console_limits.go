package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/partners/staff"
	"github.com/bankbridge/bankbridge/risk/limits"
)

// ConsoleLimits is the console's Limits page (issue 16 item 1): the payment
// limit rules in force, the built-in defaults they replace, a form to
// propose a rule, and the proposals waiting for a second risk officer or
// an admin, who approves or rejects them. Risk officers and admins act;
// auditors read (staff.ActLimitsRead, ActLimitsPropose, ActLimitsApprove;
// risk/limits enforces the same).
type ConsoleLimits struct {
	Console *Console
	Limits  *limits.Service
}

// Register mounts the page under /console/limits.
func (l *ConsoleLimits) Register(r gin.IRouter) {
	g := r.Group("/console/limits")
	g.GET("", l.home)
	g.POST("/proposals", l.propose)
	g.POST("/proposals/:id/approve", l.approve)
	g.POST("/proposals/:id/reject", l.reject)
}

// limitsNavLink is the console's navigation entry for roles that may see
// the page.
func limitsNavLink(role staff.Role, current string) []navLink {
	if !staff.Can(role, staff.ActLimitsRead) {
		return nil
	}
	return []navLink{{"/console/limits", "Limits", current == "limits"}}
}

type limitsData struct {
	*consoleView
	Defaults   []limitDefaultRow
	Rules      []limitRuleRow
	Pending    []limitProposalRow
	Decided    []limitProposalRow
	CanPropose bool
	CanApprove bool
	// Form is the propose form's values (kept after a refusal).
	Form         limits.ProposalInput
	Environments []environment.Environment
	Scopes       []limits.Scope
	Kinds        []limits.Kind
}

// limitDefaultRow is one environment's built-in limits, in minor units of
// any currency without a platform rule.
type limitDefaultRow struct {
	Environment                 environment.Environment
	PerPayment, Daily, Velocity string
}

type limitRuleRow struct {
	limits.Rule
	ProposedBy, ApprovedBy string
}

type limitProposalRow struct {
	limits.Proposal
	ProposedByEmail, DecidedByEmail string
	Mine                            bool
}

// minorUnits renders an amount of minor units of any currency ("2500000
// minor units: 25000.00 GBP, 2500000 JPY, 2500.000 BHD").
func minorUnits(v int64) string {
	return itoa64(v) + " minor units: " + money.FormatMinor(v, "GBP") + " GBP, " + money.FormatMinor(v, "JPY") + " JPY, " +
		money.FormatMinor(v, "BHD") + " BHD"
}

func itoa64(v int64) string { return strconv.FormatInt(v, 10) }

// DecidedWhen is " · <when>" of a decided proposal ("" while pending).
func (r limitProposalRow) DecidedWhen() string {
	if r.DecidedAt == nil {
		return ""
	}
	return " · " + r.DecidedAt.UTC().Format("2 Jan 2006 15:04 UTC")
}

var limitFlashes = map[string]string{
	"proposed": "Proposal recorded: another risk officer or an admin must approve it.",
	"approved": "Approved: the change is in force on every node.",
	"rejected": "Proposal rejected.",
}

func (l *ConsoleLimits) signedIn(c *gin.Context) (*staff.Member, *consoleView, bool) {
	k := l.Console
	st, v, ok := k.staff(c, "limits")
	if !ok {
		return nil, nil, false
	}
	if !staff.Can(st.Role, staff.ActLimitsRead) {
		k.problemPage(c, http.StatusForbidden, "Not allowed", "Your role ("+string(st.Role)+") may not see this page.", who(st))
		return nil, nil, false
	}
	return st, v, true
}

func (l *ConsoleLimits) home(c *gin.Context) {
	st, v, ok := l.signedIn(c)
	if !ok {
		return
	}
	l.render(c, st, v, http.StatusOK, limitFlashes[c.Query("done")], "", limits.ProposalInput{})
}

func (l *ConsoleLimits) render(c *gin.Context, st *staff.Member, v *consoleView, status int, flash, errMsg string, form limits.ProposalInput) {
	ctx := c.Request.Context()
	k := l.Console
	a := limits.Actor{ID: st.ID, Role: st.Role}
	if form.Environment == "" {
		form.Environment, form.Currency, form.Scope, form.Kind = string(environment.Production), "GBP", string(limits.ScopePartner), string(limits.KindPerDay)
	}
	d := limitsData{consoleView: v, CanPropose: staff.Can(st.Role, staff.ActLimitsPropose),
		CanApprove: staff.Can(st.Role, staff.ActLimitsApprove), Form: form, Environments: environment.All(),
		Scopes: limits.Scopes, Kinds: limits.Kinds}
	for _, env := range environment.All() {
		df := l.Limits.Defaults(env)
		d.Defaults = append(d.Defaults, limitDefaultRow{Environment: env, PerPayment: minorUnits(df.PerPayment),
			Daily:    minorUnits(df.PerPartnerDaily),
			Velocity: itoa64(df.VelocityCount) + " payments per " + itoa64(int64(df.VelocityWindow/time.Second)) + " seconds"})
	}
	rules, err := l.Limits.List(ctx, a, "")
	var props []limits.Proposal
	if err == nil {
		props, err = l.Limits.Proposals(ctx, a, "")
	}
	if err != nil {
		s2, msg := refusal(k.log(), "limits", err)
		k.problemPage(c, s2, titleFor(s2), msg, who(st))
		return
	}
	emails := &staffEmails{k: k, ctx: ctx, cache: map[string]string{}}
	for _, r := range rules {
		d.Rules = append(d.Rules, limitRuleRow{Rule: r, ProposedBy: emails.of(r.ProposedBy), ApprovedBy: emails.of(r.ApprovedBy)})
	}
	for _, p := range props {
		row := limitProposalRow{Proposal: p, ProposedByEmail: emails.of(p.ProposedBy), Mine: p.ProposedBy == st.ID}
		if p.DecidedBy != "" {
			row.DecidedByEmail = emails.of(p.DecidedBy)
		}
		if p.Status == limits.ProposalPending {
			d.Pending = append(d.Pending, row)
		} else if len(d.Decided) < 20 {
			d.Decided = append(d.Decided, row)
		}
	}
	k.page(c, status, "console/limits", Page{Title: "Limits", User: who(st), Flash: flash, Error: errMsg, Data: d})
}

func (l *ConsoleLimits) propose(c *gin.Context) {
	st, v, ok := l.signedIn(c)
	if !ok {
		return
	}
	in := limits.ProposalInput{Op: c.PostForm("op"), RuleID: c.PostForm("rule_id"), Environment: c.PostForm("environment"),
		Currency: c.PostForm("currency"), Scope: c.PostForm("scope"), SubjectID: c.PostForm("subject_id"),
		Kind: c.PostForm("kind"), Amount: c.PostForm("amount"), Count: c.PostForm("count"),
		WindowSeconds: c.PostForm("window_seconds"), Reason: c.PostForm("reason")}
	if _, err := l.Limits.Propose(c.Request.Context(), limits.Actor{ID: st.ID, Role: st.Role}, in); err != nil {
		status, msg := refusal(l.Console.log(), "propose limit", err)
		if in.Op != limits.OpCreate {
			in = limits.ProposalInput{}
		}
		l.render(c, st, v, status, "", msg, in)
		return
	}
	c.Redirect(http.StatusSeeOther, "/console/limits?done=proposed")
}

func (l *ConsoleLimits) approve(c *gin.Context) {
	st, v, ok := l.signedIn(c)
	if !ok {
		return
	}
	if _, err := l.Limits.Approve(c.Request.Context(), limits.Actor{ID: st.ID, Role: st.Role}, c.Param("id")); err != nil {
		status, msg := refusal(l.Console.log(), "approve limit", err)
		l.render(c, st, v, status, "", msg, limits.ProposalInput{})
		return
	}
	c.Redirect(http.StatusSeeOther, "/console/limits?done=approved")
}

func (l *ConsoleLimits) reject(c *gin.Context) {
	st, v, ok := l.signedIn(c)
	if !ok {
		return
	}
	if _, err := l.Limits.Reject(c.Request.Context(), limits.Actor{ID: st.ID, Role: st.Role}, c.Param("id"), c.PostForm("note")); err != nil {
		status, msg := refusal(l.Console.log(), "reject limit", err)
		l.render(c, st, v, status, "", msg, limits.ProposalInput{})
		return
	}
	c.Redirect(http.StatusSeeOther, "/console/limits?done=rejected")
}
