package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/contracts"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/partners"
	"github.com/bankbridge/bankbridge/partners/plans"
	"github.com/bankbridge/bankbridge/partners/staff"
)

type billingHomeData struct {
	*consoleView
	Runs        []contracts.SettlementRun
	Statements  []statementRow
	Adjustments []adjustmentView
	// Pending are the credit notes waiting for a second approver.
	Pending  []adjustmentView
	Partners []partners.Partner
	CanWrite bool
	Period   string // the last complete month, proposed for a run
}

// adjustmentView is a credit or debit note as the billing page lists it.
type adjustmentView struct {
	contracts.Adjustment
	CreatedByEmail string
	Mine           bool // issued by the viewer
}

type statementRow struct {
	contracts.Statement
	PartnerName string
}

// Money renders minor units in the statement's currency.
func (s statementRow) Money(v int64) string { return money.FormatMinor(v, s.Currency) }

func (b *ConsoleBilling) billingHome(c *gin.Context) {
	st, v, ok := b.staff(c, "billing", staff.ActSettlementsRead)
	if !ok {
		return
	}
	b.renderBilling(c, st, v, http.StatusOK, contractFlashes[c.Query("done")], "")
}

func (b *ConsoleBilling) renderBilling(c *gin.Context, st *staff.Member, v *consoleView, status int, flash, errMsg string) {
	ctx := c.Request.Context()
	d := billingHomeData{consoleView: v, CanWrite: staff.Can(st.Role, staff.ActSettlementsWrite),
		Period: contracts.PeriodOf(b.now().AddDate(0, -1, 0))}
	var err error
	if d.Runs, err = b.Contracts.Runs(ctx); err == nil {
		var list []contracts.Statement
		if list, err = b.Contracts.Statements(ctx, ""); err == nil {
			for _, x := range list {
				d.Statements = append(d.Statements, statementRow{Statement: x, PartnerName: b.partnerName(c, x.PartnerID)})
			}
			var adjs []contracts.Adjustment
			if adjs, err = b.Contracts.Adjustments(ctx, ""); err == nil {
				emails := &staffEmails{k: b.Console, ctx: ctx, cache: map[string]string{}}
				for _, a := range adjs {
					v := adjustmentView{Adjustment: a, CreatedByEmail: emails.of(a.CreatedBy), Mine: a.CreatedBy == st.ID}
					d.Adjustments = append(d.Adjustments, v)
					if a.Status == contracts.AdjustmentPending {
						d.Pending = append(d.Pending, v)
					}
				}
			}
		}
	}
	if err != nil {
		s2, msg := refusal(b.Console.log(), "billing", err)
		b.Console.problemPage(c, s2, titleFor(s2), msg, who(st))
		return
	}
	d.Partners, _ = b.Console.Partners.ListPartners(ctx)
	b.Console.page(c, status, "console/billing", Page{Title: "Billing", User: who(st), Flash: flash, Error: errMsg, Data: d})
}

func (b *ConsoleBilling) settle(c *gin.Context) {
	st, v, ok := b.staff(c, "billing", staff.ActSettlementsRead)
	if !ok {
		return
	}
	run, err := b.Contracts.SettleAs(c.Request.Context(), actorOf(st), strings.TrimSpace(c.PostForm("period")), b.now())
	if err != nil {
		status, msg := problemMessage(b.Console, "settle", err)
		b.renderBilling(c, st, v, status, "", msg)
		return
	}
	flash := "Settlement of " + run.Period + " complete: " + strconv.Itoa(len(run.StatementIDs)) + " statement(s)."
	if run.AlreadySettled {
		flash = run.Period + " was already settled; nothing changed."
	}
	b.renderBilling(c, st, v, http.StatusOK, flash, "")
}

func (b *ConsoleBilling) issueAdjustment(c *gin.Context) {
	st, v, ok := b.staff(c, "billing", staff.ActSettlementsRead)
	if !ok {
		return
	}
	currency := strings.ToUpper(strings.TrimSpace(c.PostForm("currency")))
	amount, err := parseAmount(c.PostForm("amount"), currency)
	var adj contracts.Adjustment
	if err == nil {
		adj, err = b.Contracts.IssueAdjustment(c.Request.Context(), actorOf(st), strings.TrimSpace(c.PostForm("partner_id")),
			strings.TrimSpace(c.PostForm("period")), c.PostForm("kind"),
			money.Money{Minor: amount, Currency: currency}, strings.TrimSpace(c.PostForm("reason")))
	}
	if err != nil {
		status, msg := problemMessage(b.Console, "issue adjustment", err)
		b.renderBilling(c, st, v, status, "", msg)
		return
	}
	done := "adjustment"
	if adj.Status == contracts.AdjustmentPending {
		done = "adjustment-pending"
	}
	c.Redirect(http.StatusSeeOther, "/console/billing?done="+done)
}

// decideAdjustment is the second approver's step on a pending credit note.
func (b *ConsoleBilling) decideAdjustment(approve bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		st, v, ok := b.staff(c, "billing", staff.ActSettlementsRead)
		if !ok {
			return
		}
		var err error
		done := "adjustment-approved"
		if approve {
			_, err = b.Contracts.ApproveAdjustment(c.Request.Context(), actorOf(st), c.Param("id"))
		} else {
			done = "adjustment-rejected"
			_, err = b.Contracts.RejectAdjustment(c.Request.Context(), actorOf(st), c.Param("id"), c.PostForm("reason"))
		}
		if err != nil {
			status, msg := problemMessage(b.Console, "decide adjustment", err)
			b.renderBilling(c, st, v, status, "", msg)
			return
		}
		c.Redirect(http.StatusSeeOther, "/console/billing?done="+done)
	}
}

// parseAmount reads a decimal amount in the currency's major unit ("12.05"
// EUR, "1200" JPY, "1.250" BHD) as minor units of currency, exactly, with
// money.ParseMajor: no more decimals than the currency has (ISO 4217
// minor unit), and more than zero.
func parseAmount(s, currency string) (int64, error) {
	n, err := money.ParseMajor(s, currency)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, formInvalid("amount must be more than zero")
	}
	return n, nil
}

// StatementView is a statement as the printable pages show it.
type StatementView struct {
	contracts.Statement
	PartnerName string
	CSVURL      string
	BackURL     string
}

// Money renders minor units in the statement's currency.
func (s StatementView) Money(v int64) string { return money.FormatMinor(v, s.Currency) }

func (b *ConsoleBilling) statement(c *gin.Context) {
	st, cv, ok := b.staff(c, "billing", staff.ActSettlementsRead)
	if !ok {
		return
	}
	s, err := b.Contracts.Statement(c.Request.Context(), "", c.Param("sid"))
	if err != nil {
		status, msg := refusal(b.Console.log(), "statement", err)
		b.Console.problemPage(c, status, titleFor(status), msg, who(st))
		return
	}
	v := StatementView{Statement: s, PartnerName: b.partnerName(c, s.PartnerID),
		CSVURL: "/console/billing/statements/" + s.ID + "/csv", BackURL: "/console/billing"}
	b.Console.page(c, http.StatusOK, "statement", Page{Title: "Statement " + s.Period, User: who(st), Nav: cv.Nav, Data: v})
}

func (b *ConsoleBilling) statementCSV(c *gin.Context) {
	st, _, ok := b.staff(c, "billing", staff.ActSettlementsRead)
	if !ok {
		return
	}
	sendStatementCSV(c, b.Contracts, "", c.Param("sid"), func(status int, msg string) {
		b.Console.problemPage(c, status, titleFor(status), msg, who(st))
	}, b.Console.log())
}

type reconcileData struct {
	*consoleView
	Period string
	Report *contracts.Report
}

func (b *ConsoleBilling) reconcile(c *gin.Context) {
	st, v, ok := b.staff(c, "billing", staff.ActSettlementsRead)
	if !ok {
		return
	}
	d := reconcileData{consoleView: v, Period: strings.TrimSpace(c.Query("period"))}
	if d.Period == "" {
		d.Period = contracts.PeriodOf(b.now().AddDate(0, -1, 0))
	}
	rep, err := b.Contracts.Reconcile(c.Request.Context(), d.Period)
	if err != nil {
		status, msg := problemMessage(b.Console, "reconcile", err)
		b.Console.page(c, status, "console/billing_reconcile", Page{Title: "Reconciliation", User: who(st), Error: msg, Data: d})
		return
	}
	d.Report = &rep
	b.Console.page(c, http.StatusOK, "console/billing_reconcile", Page{Title: "Reconciliation " + d.Period, User: who(st), Data: d})
}

// ---- plans ----

type planListData struct {
	*consoleView
	Plans    []plans.Plan
	Rows     []planRowView
	Groups   []string
	CanWrite bool
	Partners []partners.Partner
}

type planRowView struct {
	Plan  plans.Plan
	Cells []string
}

func (b *ConsoleBilling) planList(c *gin.Context) {
	st, v, ok := b.staff(c, "plans", staff.ActContractsRead)
	if !ok {
		return
	}
	b.renderPlans(c, st, v, http.StatusOK, contractFlashes[c.Query("done")], "")
}

func (b *ConsoleBilling) renderPlans(c *gin.Context, st *staff.Member, v *consoleView, status int, flash, errMsg string) {
	ctx := c.Request.Context()
	list, err := b.Plans.ListPlans(ctx)
	if err != nil {
		s2, msg := refusal(b.Console.log(), "plans", err)
		b.Console.problemPage(c, s2, titleFor(s2), msg, who(st))
		return
	}
	ps, _ := b.Console.Partners.ListPartners(ctx)
	d := planListData{consoleView: v, Plans: list, Groups: plans.APIGroups, CanWrite: staff.Can(st.Role, staff.ActPlansManage), Partners: ps}
	for _, p := range append([]plans.Plan{plans.DefaultSandboxPlan(), plans.DefaultProductionPlan()}, list...) {
		row := planRowView{Plan: p}
		for _, g := range plans.APIGroups {
			cell := strconv.Itoa(p.Limits[g].Rate) + "/s, burst " + strconv.Itoa(p.Limits[g].Burst)
			if v := p.Volumes[g]; v > 0 {
				cell += "; " + strconv.FormatInt(v, 10) + " calls a month"
			}
			row.Cells = append(row.Cells, cell)
		}
		d.Rows = append(d.Rows, row)
	}
	b.Console.page(c, status, "console/billing_plans", Page{Title: "Plans", User: who(st), Flash: flash, Error: errMsg, Data: d})
}

// limitsForm reads "<prefix>rate_<group>", "<prefix>burst_<group>" and
// "<prefix>volume_<group>" fields; empty fields are left out.
func limitsForm(c *gin.Context, prefix string) (map[string]plans.RateLimit, map[string]int64, error) {
	limits, volumes := map[string]plans.RateLimit{}, map[string]int64{}
	for _, g := range plans.APIGroups {
		rs, bs := strings.TrimSpace(c.PostForm(prefix+"rate_"+g)), strings.TrimSpace(c.PostForm(prefix+"burst_"+g))
		if rs != "" || bs != "" {
			r, err := intField(g+" rate", rs)
			if err != nil {
				return nil, nil, err
			}
			bu, err := intField(g+" burst", bs)
			if err != nil {
				return nil, nil, err
			}
			limits[g] = plans.RateLimit{Rate: int(r), Burst: int(bu)}
		}
		if vs := strings.TrimSpace(c.PostForm(prefix + "volume_" + g)); vs != "" {
			n, err := intField(g+" monthly volume", vs)
			if err != nil {
				return nil, nil, err
			}
			volumes[g] = n
		}
	}
	return limits, volumes, nil
}

func (b *ConsoleBilling) savePlan(c *gin.Context) {
	st, v, ok := b.staff(c, "plans", staff.ActContractsRead)
	if !ok {
		return
	}
	limits, volumes, err := limitsForm(c, "")
	if err == nil {
		_, err = b.Plans.SavePlan(c.Request.Context(), st, plans.Plan{ID: strings.TrimSpace(c.PostForm("id")),
			Name: c.PostForm("name"), Description: c.PostForm("description"), Limits: limits, Volumes: volumes})
	}
	if err != nil {
		status, msg := refusal(b.Console.log(), "save plan", err)
		b.renderPlans(c, st, v, status, "", msg)
		return
	}
	c.Redirect(http.StatusSeeOther, "/console/plans?done=plan")
}

func (b *ConsoleBilling) assignPlan(c *gin.Context) {
	st, v, ok := b.staff(c, "plans", staff.ActContractsRead)
	if !ok {
		return
	}
	limits, volumes, err := limitsForm(c, "o_")
	partnerID := strings.TrimSpace(c.PostForm("partner_id"))
	a := plans.PlanAssignment{Scope: plans.ScopePartner, SubjectID: partnerID, PlanID: strings.TrimSpace(c.PostForm("plan_id")),
		LimitOverrides: limits, VolumeOverrides: volumes}
	if app := strings.TrimSpace(c.PostForm("app_id")); app != "" {
		a.Scope, a.SubjectID = plans.ScopeApp, app
		if err == nil {
			var x *partners.App
			if x, err = b.Console.Partners.App(c.Request.Context(), app); err == nil {
				partnerID = x.PartnerID
			}
		}
	}
	if err == nil {
		err = b.Plans.Assign(c.Request.Context(), st, partnerID, a)
	}
	if err != nil {
		status, msg := refusal(b.Console.log(), "assign plan", err)
		b.renderPlans(c, st, v, status, "", msg)
		return
	}
	c.Redirect(http.StatusSeeOther, "/console/plans?done=assigned")
}
