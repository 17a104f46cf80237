package web

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/internal/cachebus"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/partners/staff"
	"github.com/bankbridge/bankbridge/risk/limits"
)

var limitProposalRe = regexp.MustCompile(`id="proposal-(lpr_[^"]+)"`)

// TestConsoleLimits (issue 16 item 1): a risk officer proposes a rule on
// the Limits page (amounts in the currency's major unit, readable
// refusals), cannot approve it, a second risk officer can; auditors read
// without controls; finance is refused; a form without its CSRF token is
// refused.
func TestConsoleLimits(t *testing.T) {
	e, _ := newConsoleEnv(t, nil)
	svc := limits.New(limits.Config{DB: e.d, Bus: cachebus.NewLocal(), Defaults: map[environment.Environment]limits.Defaults{
		environment.Production: {PerPayment: 2_500_000, PerPartnerDaily: 10_000_000, VelocityCount: 10, VelocityWindow: 60e9}}})
	r := gin.New()
	(&ConsoleLimits{Console: &Console{Pages: MustRenderer(), Sessions: &Sessions{DB: e.d.DB}, Partners: e.svc, DB: e.d.DB, Log: e.log},
		Limits: svc}).Register(r)
	rest := e.srv.Config.Handler
	e.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if strings.HasPrefix(req.URL.Path, "/console/limits") {
			r.ServeHTTP(w, req)
			return
		}
		rest.ServeHTTP(w, req)
	})

	_, admin := e.staffBrowser("", "admin@bank.example", staff.RoleAdmin)
	makerB, _ := e.staffBrowser(admin.Staff.ID, "maker@bank.example", staff.RoleRiskOfficer)
	checkerB, _ := e.staffBrowser(admin.Staff.ID, "checker@bank.example", staff.RoleRiskOfficer)
	audB, _ := e.staffBrowser(admin.Staff.ID, "auditor@bank.example", staff.RoleAuditor)
	finB, _ := e.staffBrowser(admin.Staff.ID, "finance@bank.example", staff.RoleFinance)

	status, body := makerB.get("/console/limits")
	want(t, "ok/page", status, body, 200, `href="/console/limits"`, "Built-in defaults",
		"2500000 minor units: 25000.00 GBP, 2500000 JPY, 2500.000 BHD", "10 payments per 60 seconds", "No rules: the built-in defaults apply.")
	rule := func(amount, currency string) url.Values {
		return url.Values{"op": {"create"}, "environment": {"production"}, "currency": {currency}, "scope": {"partner"},
			"subject_id": {"ptn_1"}, "kind": {"per_day"}, "amount": {amount}, "reason": {"under review"}}
	}
	for _, tc := range []struct {
		name, amount, currency string
		status                 int
		text                   string
	}{
		{"fail/jpy-decimals", "12.5", "JPY", 422, "Amount has more decimals than JPY allows (0)."},
		{"fail/bhd-decimals", "1.2345", "BHD", 422, "Amount has more decimals than BHD allows (3)."},
		{"fail/malformed", "12,50", "GBP", 422, "Amount must be a number such as 12.50."},
		{"fail/unknown-currency", "1", "XXX", 422, "Currency must be an ISO 4217 currency code such as GBP."},
		{"ok/bhd", "1.250", "BHD", 200, "Proposal recorded: another risk officer or an admin must approve it."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := makerB.post("/console/limits/proposals", rule(tc.amount, tc.currency))
			want(t, tc.name, status, body, tc.status, tc.text)
		})
	}
	status, body = makerB.get("/console/limits")
	want(t, "ok/pending-for-the-maker", status, body, 200, "create: partner ptn_1 per-day limit 1.250 BHD in production",
		"maker@bank.example (you)", "You proposed this change, so another risk officer or an admin must approve it.")
	if strings.Contains(body, ">Approve</button>") {
		t.Fatal("the maker is offered to approve their own proposal")
	}
	id := limitProposalRe.FindStringSubmatch(body)[1]
	status, body = makerB.post("/console/limits/proposals/"+id+"/approve", url.Values{})
	want(t, "fail/maker-approves", status, body, 403, "Limit proposal "+id+" was made by ")

	status, body = audB.get("/console/limits")
	want(t, "ok/auditor-reads", status, body, 200, "create: partner ptn_1 per-day limit 1.250 BHD in production")
	for _, control := range []string{"Propose rule", ">Approve</button>", "Propose change"} {
		if strings.Contains(body, control) {
			t.Fatalf("the auditor is offered %q", control)
		}
	}
	status, body = audB.post("/console/limits/proposals/"+id+"/approve", url.Values{})
	want(t, "fail/auditor-approves", status, body, 403, `Role &#34;auditor&#34; may not limits.approve.`)
	status, body = finB.get("/console/limits")
	want(t, "fail/finance", status, body, 403, "Your role (finance) may not see this page.")
	status, body = checkerB.postNoCSRF("/console/limits/proposals/"+id+"/approve", url.Values{})
	want(t, "fail/no-csrf", status, body, 403, "This form has expired")

	status, body = checkerB.post("/console/limits/proposals/"+id+"/approve", url.Values{})
	want(t, "ok/checker-approves", status, body, 200, "Approved: the change is in force on every node.",
		"<td>partner ptn_1</td><td>per-day</td><td>1.250 BHD</td>", "approved by checker@bank.example")
	rs, err := svc.Rules(t.Context(), environment.Production)
	if err != nil || len(rs) != 1 || rs[0].Amount != 1250 || rs[0].Currency != "BHD" {
		t.Fatalf("rules %+v, %v", rs, err)
	}
	status, body = checkerB.post("/console/limits/proposals/"+id+"/reject", url.Values{"note": {"late"}})
	want(t, "fail/decided", status, body, 409, "Limit proposal "+id+" is already approved.")
}
