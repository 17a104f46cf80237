package web

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/contracts"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/partners"
	"github.com/bankbridge/bankbridge/partners/plans"
	"github.com/bankbridge/bankbridge/partners/staff"
)

// ConsoleBilling serves the console's commercial pages: contracts (draft,
// edit, submit, maker-checker approval, rejection, termination, renewal
// reminders), plans and their assignment, settlement runs, statements,
// adjustments and the reconciliation report. contracts.Service enforces the
// roles; the pages only hide what a role may not do.
type ConsoleBilling struct {
	Console   *Console
	Contracts *contracts.Service
	Plans     *plans.Service
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Register mounts the pages under /console.
func (b *ConsoleBilling) Register(r gin.IRouter) {
	g := r.Group("/console")
	g.GET("/contracts", b.contractList)
	g.GET("/contracts/new", b.newContractForm)
	g.POST("/contracts", b.draftContract)
	g.GET("/contracts/:cid", b.contractDetail)
	g.POST("/contracts/:cid", b.updateContract)
	g.POST("/contracts/:cid/submit", b.contractAction("submit"))
	g.POST("/contracts/:cid/approve", b.contractAction("approve"))
	g.POST("/contracts/:cid/reject", b.contractAction("reject"))
	g.POST("/contracts/:cid/terminate", b.contractAction("terminate"))
	g.POST("/contracts/:cid/agreement", b.uploadAgreement)
	g.GET("/contracts/:cid/agreements/:version", b.downloadAgreement)
	g.GET("/billing", b.billingHome)
	g.POST("/billing/settle", b.settle)
	g.POST("/billing/adjustments", b.issueAdjustment)
	g.POST("/billing/adjustments/:id/approve", b.decideAdjustment(true))
	g.POST("/billing/adjustments/:id/reject", b.decideAdjustment(false))
	g.GET("/billing/statements/:sid", b.statement)
	g.GET("/billing/statements/:sid/csv", b.statementCSV)
	g.GET("/billing/reconcile", b.reconcile)
	g.GET("/plans", b.planList)
	g.POST("/plans", b.savePlan)
	g.POST("/plans/assign", b.assignPlan)
}

func (b *ConsoleBilling) now() time.Time {
	if b.Now != nil {
		return b.Now().UTC()
	}
	return time.Now().UTC()
}

// BillingNavLinks are the console links this area adds for a role.
func billingNavLinks(role staff.Role, current string) []navLink {
	var out []navLink
	if staff.Can(role, staff.ActContractsRead) {
		out = append(out, navLink{"/console/contracts", "Contracts", current == "contracts"})
		out = append(out, navLink{"/console/plans", "Plans", current == "plans"})
	}
	if staff.Can(role, staff.ActSettlementsRead) {
		out = append(out, navLink{"/console/billing", "Billing", current == "billing"})
	}
	return out
}

func actorOf(st *staff.Member) contracts.Actor {
	return contracts.Actor{ID: st.ID, Role: st.Role}
}

// staff signs the member in (as Console.staff) and requires read access.
func (b *ConsoleBilling) staff(c *gin.Context, current string, need staff.Action) (*staff.Member, *consoleView, bool) {
	k := b.Console
	st, v, ok := k.staff(c, current)
	if !ok {
		return nil, nil, false
	}
	if !staff.Can(st.Role, need) {
		k.problemPage(c, http.StatusForbidden, "Not allowed", "Your role ("+string(st.Role)+") may not see this page.", who(st))
		return nil, nil, false
	}
	return st, v, true
}

type contractRow struct {
	contracts.Contract
	PartnerName string
	ReminderDue bool
}

type contractListData struct {
	*consoleView
	Contracts []contractRow
	Reminders []contractRow
	// CanDraft: the viewer may draft contracts (staff.ActContractsDraft).
	CanDraft bool
	Partners []partners.Partner
}

// reminderDue mirrors contracts.RenewalReminders' window for display (the
// background job records and logs the reminders).
func reminderDue(x contracts.Contract, now time.Time) bool {
	if x.Status != contracts.StatusActive {
		return false
	}
	return !x.End.After(now.Add(time.Duration(x.NoticeDays)*24*time.Hour + contracts.ReminderWindow))
}

func (b *ConsoleBilling) partnerName(c *gin.Context, id string) string {
	if p, err := b.Console.Partners.Partner(c.Request.Context(), id); err == nil {
		return p.Name()
	}
	return id
}

func (b *ConsoleBilling) contractList(c *gin.Context) {
	st, v, ok := b.staff(c, "contracts", staff.ActContractsRead)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	list, err := b.Contracts.Contracts(ctx, contracts.ContractFilter{PartnerID: c.Query("partner"), Status: c.Query("status")})
	if err != nil {
		status, msg := refusal(b.Console.log(), "list contracts", err)
		b.Console.problemPage(c, status, titleFor(status), msg, who(st))
		return
	}
	d := contractListData{consoleView: v, CanDraft: staff.Can(st.Role, staff.ActContractsDraft)}
	now := b.now()
	for _, x := range list {
		row := contractRow{Contract: x, PartnerName: b.partnerName(c, x.PartnerID), ReminderDue: reminderDue(x, now)}
		d.Contracts = append(d.Contracts, row)
		if row.ReminderDue {
			d.Reminders = append(d.Reminders, row)
		}
	}
	sort.Slice(d.Reminders, func(i, j int) bool { return d.Reminders[i].End.Before(d.Reminders[j].End) })
	b.Console.page(c, http.StatusOK, "console/contracts", Page{Title: "Contracts", User: who(st), Flash: contractFlashes[c.Query("done")], Data: d})
}

var contractFlashes = map[string]string{
	"drafted": "Contract drafted. Submit it for approval when the terms are final.",
	"updated": "Terms saved.",
	"submit":  "Submitted for approval. A second member of staff must approve it.",
	"approve": "Contract approved: the terms are now in force.",
	"approve_hook": "Contract approved: the terms are now in force. The partner's status was not changed " +
		"(it becomes contracted only from approved).",
	"reject":     "Sent back to draft.",
	"agreement":  "Signed agreement attached.",
	"terminate":  "Contract terminated.",
	"settled":    "Settlement complete.",
	"adjustment": "Adjustment issued.",
	"adjustment-pending": "Credit note recorded, not issued yet: it is above the limit one person may issue, " +
		"so another member of staff (finance or admin) must approve it before it is posted.",
	"adjustment-approved": "Credit note approved and posted.",
	"adjustment-rejected": "Credit note rejected; it will not be posted.",
	"plan":                "Plan saved.",
	"assigned":            "Plan assignment saved.",
}

// termsForm is the contract form's fields as typed.
type termsForm struct {
	PartnerID      string
	Start, End     string // YYYY-MM-DD
	AutoRenew      bool
	NoticeDays     string
	Currency       string
	DataScopes     string // comma separated
	CallFees       string // one tier per line: product from to unit_price_micros
	PaymentFixed   string
	PaymentBPS     string
	MonthlyMinimum string
	ShareTiers     string // one band per line: from to bps
	clausesForm
}

func formOfTerms(partnerID string, t contracts.Terms) termsForm {
	f := termsForm{PartnerID: partnerID, Start: t.Start.UTC().Format("2006-01-02"), End: t.End.UTC().Format("2006-01-02"),
		AutoRenew: t.AutoRenew, NoticeDays: strconv.Itoa(t.NoticeDays), Currency: t.Currency, DataScopes: strings.Join(t.DataScopes, ", "),
		PaymentFixed: strconv.FormatInt(t.FeeSchedule.PaymentFee.FixedMinor, 10), PaymentBPS: strconv.FormatInt(t.FeeSchedule.PaymentFee.BPS, 10),
		MonthlyMinimum: strconv.FormatInt(t.FeeSchedule.MonthlyMinimum, 10)}
	var lines []string
	for _, pf := range t.FeeSchedule.CallFees {
		for _, tr := range pf.Tiers {
			lines = append(lines, fmt.Sprintf("%s %d %d %d", pf.Product, tr.From, tr.To, tr.UnitPriceMicros))
		}
	}
	f.CallFees = strings.Join(lines, "\n")
	lines = nil
	for _, s := range t.RevenueShare.Tiers {
		lines = append(lines, fmt.Sprintf("%d %d %d", s.From, s.To, s.BPS))
	}
	f.ShareTiers = strings.Join(lines, "\n")
	f.clausesForm = formOfClauses(t)
	return f
}

func readTermsForm(c *gin.Context) termsForm {
	return termsForm{PartnerID: strings.TrimSpace(c.PostForm("partner_id")), Start: c.PostForm("start"), End: c.PostForm("end"),
		AutoRenew: c.PostForm("auto_renew") != "", NoticeDays: c.PostForm("notice_days"), Currency: strings.TrimSpace(c.PostForm("currency")),
		DataScopes: c.PostForm("data_scopes"), CallFees: c.PostForm("call_fees"), PaymentFixed: c.PostForm("payment_fixed_minor"),
		PaymentBPS: c.PostForm("payment_bps"), MonthlyMinimum: c.PostForm("monthly_minimum"), ShareTiers: c.PostForm("share_tiers"),
		clausesForm: readClausesForm(c)}
}

func formInvalid(format string, args ...any) error {
	return problem.New(problem.CodeValidation, format, args...)
}

func intField(name, v string) (int64, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, formInvalid("%s must be a whole number", name)
	}
	return n, nil
}

// terms parses the form; contracts.Terms.Validate checks the rest.
func (f termsForm) terms() (contracts.Terms, error) {
	var t contracts.Terms
	var err error
	if t.Start, err = time.Parse("2006-01-02", strings.TrimSpace(f.Start)); err != nil {
		return t, formInvalid("term start must be a date (YYYY-MM-DD)")
	}
	if t.End, err = time.Parse("2006-01-02", strings.TrimSpace(f.End)); err != nil {
		return t, formInvalid("term end must be a date (YYYY-MM-DD)")
	}
	t.AutoRenew, t.Currency = f.AutoRenew, strings.ToUpper(f.Currency)
	n, err := intField("notice period", f.NoticeDays)
	if err != nil {
		return t, err
	}
	t.NoticeDays = int(n)
	for _, s := range strings.Split(f.DataScopes, ",") {
		if s = strings.TrimSpace(s); s != "" {
			t.DataScopes = append(t.DataScopes, s)
		}
	}
	byProduct := map[string]int{}
	for i, line := range strings.Split(f.CallFees, "\n") {
		fs := strings.Fields(line)
		if len(fs) == 0 {
			continue
		}
		if len(fs) != 4 {
			return t, formInvalid("call fee line %d must be: product from to unit_price_micros", i+1)
		}
		var nums [3]int64
		for j := range nums {
			if nums[j], err = intField(fmt.Sprintf("call fee line %d", i+1), fs[j+1]); err != nil {
				return t, err
			}
		}
		k, ok := byProduct[fs[0]]
		if !ok {
			k = len(t.FeeSchedule.CallFees)
			byProduct[fs[0]] = k
			t.FeeSchedule.CallFees = append(t.FeeSchedule.CallFees, contracts.ProductFee{Product: fs[0]})
		}
		t.FeeSchedule.CallFees[k].Tiers = append(t.FeeSchedule.CallFees[k].Tiers, contracts.Tier{From: nums[0], To: nums[1], UnitPriceMicros: nums[2]})
	}
	if t.FeeSchedule.PaymentFee.FixedMinor, err = intField("payment fixed fee", f.PaymentFixed); err != nil {
		return t, err
	}
	if t.FeeSchedule.PaymentFee.BPS, err = intField("payment fee rate", f.PaymentBPS); err != nil {
		return t, err
	}
	if t.FeeSchedule.MonthlyMinimum, err = intField("monthly minimum", f.MonthlyMinimum); err != nil {
		return t, err
	}
	for i, line := range strings.Split(f.ShareTiers, "\n") {
		fs := strings.Fields(line)
		if len(fs) == 0 {
			continue
		}
		if len(fs) != 3 {
			return t, formInvalid("revenue share line %d must be: from to bps", i+1)
		}
		var nums [3]int64
		for j := range nums {
			if nums[j], err = intField(fmt.Sprintf("revenue share line %d", i+1), fs[j]); err != nil {
				return t, err
			}
		}
		t.RevenueShare.Tiers = append(t.RevenueShare.Tiers, contracts.ShareTier{From: nums[0], To: nums[1], BPS: nums[2]})
	}
	return t, f.clausesForm.apply(&t)
}

// problemMessage is a refusal's detail plus its field errors, for the page.
func problemMessage(c *Console, what string, err error) (int, string) {
	status, msg := refusal(c.log(), what, err)
	if pe, ok := err.(*problem.Error); ok {
		if fe, ok := pe.Extra["errors"].([]contracts.FieldError); ok {
			var parts []string
			for _, x := range fe {
				parts = append(parts, x.Field+": "+x.Reason)
			}
			if len(parts) > 0 {
				msg += " " + strings.Join(parts, "; ") + "."
			}
		}
	}
	return status, msg
}

type contractFormData struct {
	*consoleView
	Form     termsForm
	Partners []partners.Partner
	Action   string
}

func defaultTermsForm(partnerID string, now time.Time) termsForm {
	start := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	return termsForm{PartnerID: partnerID, Start: start.Format("2006-01-02"), End: start.AddDate(1, 0, 0).Format("2006-01-02"),
		AutoRenew: true, NoticeDays: "60", Currency: "EUR", DataScopes: "transaction_insights",
		CallFees: "accounts 0 100000 250000\naccounts 100000 0 100000", PaymentFixed: "10", PaymentBPS: "5", MonthlyMinimum: "0",
		ShareTiers: "0 0 1000"}
}

func (b *ConsoleBilling) newContractForm(c *gin.Context) {
	st, v, ok := b.staff(c, "contracts", staff.ActContractsRead)
	if !ok {
		return
	}
	ps, _ := b.Console.Partners.ListPartners(c.Request.Context())
	d := contractFormData{consoleView: v, Form: defaultTermsForm(c.Query("partner"), b.now()), Partners: ps, Action: "/console/contracts"}
	b.Console.page(c, http.StatusOK, "console/contracts_form", Page{Title: "Draft a contract", User: who(st), Data: d})
}

func (b *ConsoleBilling) draftContract(c *gin.Context) {
	st, v, ok := b.staff(c, "contracts", staff.ActContractsRead)
	if !ok {
		return
	}
	f := readTermsForm(c)
	t, err := f.terms()
	var ct contracts.Contract
	if err == nil {
		ct, err = b.Contracts.Draft(c.Request.Context(), actorOf(st), f.PartnerID, t)
	}
	if err != nil {
		status, msg := problemMessage(b.Console, "draft contract", err)
		ps, _ := b.Console.Partners.ListPartners(c.Request.Context())
		b.Console.page(c, status, "console/contracts_form", Page{Title: "Draft a contract", User: who(st), Error: msg,
			Data: contractFormData{consoleView: v, Form: f, Partners: ps, Action: "/console/contracts"}})
		return
	}
	c.Redirect(http.StatusSeeOther, "/console/contracts/"+ct.ID+"?done=drafted")
}

type contractDetailData struct {
	*consoleView
	Contract    contracts.Contract
	PartnerName string
	Versions    []contracts.Version
	Latest      contracts.Version
	Form        termsForm
	// CanSubmit … CanTerminate: what the viewer's role may do (staff.Can).
	CanSubmit    bool
	CanEditTerms bool
	CanApprove   bool
	CanReject    bool
	CanTerminate bool
	// Editable: the latest version's and the contract's status allow editing.
	Editable    bool
	Pending     bool
	Mine        bool // the pending version was submitted by the viewer
	ReminderDue bool
	// Clauses are the latest version's clauses, read-only.
	Clauses ClausesView
	// Agreements are the versions' signed agreements; LatestAgreement the
	// latest version's (nil: none yet); CanAttach: the viewer may attach one
	// now (draft or pending latest version).
	Agreements      []contracts.Agreement
	LatestAgreement *contracts.Agreement
	CanAttach       bool
	MaxAgreementMB  int
}

func (b *ConsoleBilling) renderContract(c *gin.Context, st *staff.Member, v *consoleView, id string, status int, flash, errMsg string, form *termsForm) {
	ctx := c.Request.Context()
	ct, err := b.Contracts.Contract(ctx, id)
	var vs []contracts.Version
	if err == nil {
		vs, err = b.Contracts.Versions(ctx, id)
	}
	if err != nil {
		st2, msg := refusal(b.Console.log(), "load contract", err)
		b.Console.problemPage(c, st2, titleFor(st2), msg, who(st))
		return
	}
	d := contractDetailData{consoleView: v, Contract: ct, PartnerName: b.partnerName(c, ct.PartnerID), Versions: vs,
		CanSubmit:    staff.Can(st.Role, staff.ActContractsSubmit),
		CanEditTerms: staff.Can(st.Role, staff.ActContractsEdit),
		CanApprove:   staff.Can(st.Role, staff.ActContractsApprove),
		CanReject:    staff.Can(st.Role, staff.ActContractsReject),
		CanTerminate: staff.Can(st.Role, staff.ActContractsTerminate),
		ReminderDue:  reminderDue(ct, b.now())}
	if len(vs) > 0 {
		d.Latest = vs[len(vs)-1]
		d.Pending = d.Latest.Status == contracts.StatusPendingApproval
		d.Mine = d.Pending && d.Latest.SubmittedBy == st.ID
		d.Editable = d.Latest.Status == contracts.StatusDraft || d.Latest.Status == contracts.StatusActive || d.Latest.Status == contracts.VersionSuperseded
		d.Editable = d.Editable && ct.Status != contracts.StatusExpired && ct.Status != contracts.StatusTerminated
		d.Form = formOfTerms(ct.PartnerID, d.Latest.Terms)
		d.Clauses = clausesView(d.Latest.Terms)
		d.CanAttach = d.CanEditTerms && (d.Latest.Status == contracts.StatusDraft || d.Pending) &&
			ct.Status != contracts.StatusExpired && ct.Status != contracts.StatusTerminated
	}
	d.MaxAgreementMB = contracts.MaxAgreementBytes >> 20
	if d.Agreements, err = b.Contracts.Agreements(ctx, "", id); err != nil {
		st2, msg := refusal(b.Console.log(), "load agreements", err)
		b.Console.problemPage(c, st2, titleFor(st2), msg, who(st))
		return
	}
	for i := range d.Agreements {
		if d.Agreements[i].Version == d.Latest.Version {
			d.LatestAgreement = &d.Agreements[i]
		}
	}
	if form != nil {
		d.Form = *form
	}
	b.Console.page(c, status, "console/contracts_detail", Page{Title: "Contract " + ct.ID, User: who(st), Flash: flash, Error: errMsg, Data: d})
}

func (b *ConsoleBilling) contractDetail(c *gin.Context) {
	st, v, ok := b.staff(c, "contracts", staff.ActContractsRead)
	if !ok {
		return
	}
	b.renderContract(c, st, v, c.Param("cid"), http.StatusOK, contractFlashes[c.Query("done")], "", nil)
}

func (b *ConsoleBilling) updateContract(c *gin.Context) {
	st, v, ok := b.staff(c, "contracts", staff.ActContractsRead)
	if !ok {
		return
	}
	f := readTermsForm(c)
	t, err := f.terms()
	if err == nil {
		_, err = b.Contracts.Update(c.Request.Context(), actorOf(st), c.Param("cid"), t)
	}
	if err != nil {
		status, msg := problemMessage(b.Console, "update contract", err)
		b.renderContract(c, st, v, c.Param("cid"), status, "", msg, &f)
		return
	}
	c.Redirect(http.StatusSeeOther, "/console/contracts/"+c.Param("cid")+"?done=updated")
}

func (b *ConsoleBilling) contractAction(action string) gin.HandlerFunc {
	return func(c *gin.Context) {
		st, v, ok := b.staff(c, "contracts", staff.ActContractsRead)
		if !ok {
			return
		}
		ctx, id, a := c.Request.Context(), c.Param("cid"), actorOf(st)
		var err error
		switch action {
		case "submit":
			_, err = b.Contracts.Submit(ctx, a, id)
		case "approve":
			var ct contracts.Contract
			ct, err = b.Contracts.Approve(ctx, a, id)
			if err != nil && ct.Status == contracts.StatusActive {
				// approved; only the partner hook (MarkContracted) refused,
				// e.g. for a partner that is not yet approved.
				b.Console.log().Warn("web: contract approved but partner not marked contracted", "contract", id, "err", err)
				c.Redirect(http.StatusSeeOther, "/console/contracts/"+id+"?done=approve_hook")
				return
			}
		case "reject":
			_, err = b.Contracts.Reject(ctx, a, id, strings.TrimSpace(c.PostForm("reason")))
		case "terminate":
			_, err = b.Contracts.Terminate(ctx, a, id, strings.TrimSpace(c.PostForm("reason")))
		}
		if err != nil {
			status, msg := problemMessage(b.Console, action+" contract", err)
			b.renderContract(c, st, v, id, status, "", msg, nil)
			return
		}
		c.Redirect(http.StatusSeeOther, "/console/contracts/"+id+"?done="+action)
	}
}
