package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/bankbridge/bankbridge/partners/staff"
)

// TestDailyLimitAcrossNodes (issue 16 item 1): two nodes on one
// PostgreSQL, for each cross-node cache bus. Node B has served a payment
// (its cache holds the sandbox's limit rules); on node A a risk officer
// proposes a daily limit for the partner through the real HTTP console and
// a second risk officer approves it there; node B's very next payment of
// that partner is refused with the rule named, while the maker could not
// approve their own proposal.
func TestDailyLimitAcrossNodes(t *testing.T) {
	for bus, extra := range cacheBuses() {
		t.Run(bus, func(t *testing.T) { dailyLimitAcrossNodes(t, extra) })
	}
}

// paymentConsent creates a domestic payment consent of amount GBP at base
// and has alice authorise it there; it returns the consent, its
// Initiation and the payment token.
func (p *flowPartner) paymentConsent(base, amount, ref string) (string, map[string]any, string) {
	p.tb.Helper()
	st, _, body := p.post(base, "/token", p.authenticated(url.Values{"grant_type": {"client_credentials"}, "scope": {"payments"}}),
		p.proof(http.MethodPost, "/token", ""))
	cc, _ := body["access_token"].(string)
	if st != http.StatusOK || cc == "" {
		p.tb.Fatalf("client_credentials (payments): %d %v", st, body)
	}
	in := map[string]any{"InstructionIdentification": "instr-" + ref, "EndToEndIdentification": "e2e-" + ref,
		"InstructedAmount":      map[string]any{"Amount": amount, "Currency": "GBP"},
		"CreditorAccount":       map[string]any{"SchemeName": "UK.OBIE.SortCodeAccountNumber", "Identification": "20000012345678", "Name": "Acme Ltd"},
		"RemittanceInformation": map[string]any{"Reference": ref}}
	st, _, body = p.call(base, http.MethodPost, "/open-banking/v3.1/pisp/domestic-payment-consents", cc, "",
		map[string]any{"Data": map[string]any{"Initiation": in}, "Risk": map[string]any{}})
	data, _ := body["Data"].(map[string]any)
	id, _ := data["ConsentId"].(string)
	if st != http.StatusCreated || id == "" {
		p.tb.Fatalf("create payment consent: %d %v", st, body)
	}
	return id, in, p.codeFlowFor(base, "payments", "payment_initiation", id, nil)
}

// pay submits the payment of a consent at base.
func (p *flowPartner) pay(base, consent string, in map[string]any, token string) (int, map[string]any) {
	p.tb.Helper()
	st, _, body := p.call(base, http.MethodPost, "/open-banking/v3.1/pisp/domestic-payments", token, "",
		map[string]any{"Data": map[string]any{"ConsentId": consent, "Initiation": in}, "Risk": map[string]any{}})
	return st, body
}

var proposalID = regexp.MustCompile(`id="proposal-(lpr_[^"]+)"`)

// consoleAs signs a new staff member of role in to the console at base
// (password change included) and returns the session.
func consoleAs(t *testing.T, s *Server, base, email string, role staff.Role) *browserless {
	t.Helper()
	created, err := s.Main.Platform.Services.Staff.Bootstrap(context.Background(), email, role)
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowserless(t, base)
	code, err := totp.GenerateCodeCustom(created.TOTPSecret, time.Now().UTC(),
		totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	if st, loc, body := b.submit("/console/sign-in", "/console/sign-in", url.Values{"email": {email},
		"password": {created.OneTimePassword}, "code": {code}}); st != http.StatusSeeOther || loc != "/console/password" {
		t.Fatalf("%s sign-in: %d %q\n%s", email, st, loc, body)
	}
	if st, loc, body := b.submit("/console/password", "/console/password", url.Values{"current_password": {created.OneTimePassword},
		"new_password": {"staff-new-password-1"}, "confirm_password": {"staff-new-password-1"}}); st != http.StatusSeeOther {
		t.Fatalf("%s password change: %d %q\n%s", email, st, loc, body)
	}
	return b
}

func dailyLimitAcrossNodes(t *testing.T, extra []string) {
	a, b := twoNodes(t, extra...)
	p := newFlowPartnerScope(t, a, lbIssuer, "accounts payments")
	app, err := a.Main.Platform.Services.Partners.App(context.Background(), p.id)
	if err != nil {
		t.Fatal(err)
	}

	// Node B pays 12.00 (its cache now holds the sandbox's rules: none).
	c1, in1, tok1 := p.paymentConsent(b.URL, "12.00", "LIM1")
	if st, body := p.pay(b.URL, c1, in1, tok1); st != http.StatusCreated {
		t.Fatalf("first payment on node B: %d %v", st, body)
	}
	c2, in2, tok2 := p.paymentConsent(b.URL, "12.00", "LIM2")

	// On node A, a risk officer proposes 20.00 GBP a day for the partner.
	maker := consoleAs(t, a, a.URL, "maker-"+randJTI()[:8]+"@bank.test", staff.RoleRiskOfficer)
	st, loc, body := maker.submit("/console/limits", "/console/limits/proposals", url.Values{"op": {"create"},
		"environment": {"sandbox"}, "currency": {"GBP"}, "scope": {"partner"}, "subject_id": {app.PartnerID},
		"kind": {"per_day"}, "amount": {"20.00"}, "reason": {"partner under review"}})
	if st != http.StatusSeeOther || loc != "/console/limits?done=proposed" {
		t.Fatalf("propose: %d %q\n%s", st, loc, body)
	}
	_, _, page := maker.get("/console/limits")
	m := proposalID.FindStringSubmatch(page)
	if m == nil || !strings.Contains(page, "create: partner "+app.PartnerID+" per-day limit 20.00 GBP in sandbox") {
		t.Fatalf("the pending proposal is not listed:\n%s", page)
	}
	id := m[1]
	t.Run("fail/maker-approves-own-proposal", func(t *testing.T) {
		st, _, body := maker.submit("/console/limits", "/console/limits/proposals/"+id+"/approve", url.Values{})
		if st != http.StatusForbidden || !strings.Contains(body, "Limit proposal "+id+" was made by ") ||
			!strings.Contains(body, ", who cannot also approve it.") {
			t.Fatalf("maker's approval: %d\n%s", st, body)
		}
	})
	// The payment is still allowed on node B: nothing is in force yet.
	if st, body := p.pay(b.URL, c2, in2, tok2); st != http.StatusCreated {
		t.Fatalf("second payment before approval on node B: %d %v", st, body)
	}
	c3, in3, tok3 := p.paymentConsent(b.URL, "1.00", "LIM3")

	// A second risk officer approves on node A...
	checker := consoleAs(t, a, a.URL, "checker-"+randJTI()[:8]+"@bank.test", staff.RoleRiskOfficer)
	if st, loc, body := checker.submit("/console/limits", "/console/limits/proposals/"+id+"/approve", url.Values{}); st != http.StatusSeeOther ||
		loc != "/console/limits?done=approved" {
		t.Fatalf("approve: %d %q\n%s", st, loc, body)
	}
	// ... and node B refuses the partner's very next payment.
	st2, refusal := p.pay(b.URL, c3, in3, tok3)
	if st2 != http.StatusUnprocessableEntity || refusal["code"] != "limit_exceeded" ||
		refusal["detail"] != "the partner per-day limit is 20.00 GBP" || refusal["used_today"] != "24.00" {
		t.Fatalf("payment on node B after the approval: %d %v", st2, refusal)
	}
	_, _, page = checker.get("/console/limits")
	if !strings.Contains(page, "<td>partner "+app.PartnerID+"</td><td>per-day</td><td>20.00 GBP</td>") {
		t.Fatalf("the rule is not listed in force:\n%s", page)
	}
}

// TestE2ELimitsConsoleAcrossNodes is TestDailyLimitAcrossNodes with the
// console in a real browser (e2e/limits.mjs): the maker proposes in the
// form on node A, is not offered to approve, a second risk officer
// approves there, and node B refuses the partner's next payment at once.
func TestE2ELimitsConsoleAcrossNodes(t *testing.T) {
	requireE2E(t, true)
	a, b := twoNodes(t)
	p := newFlowPartnerScope(t, a, lbIssuer, "accounts payments")
	ctx := context.Background()
	app, err := a.Main.Platform.Services.Partners.App(ctx, p.id)
	if err != nil {
		t.Fatal(err)
	}
	c1, in1, tok1 := p.paymentConsent(b.URL, "30.00", "BRW1")
	if st, body := p.pay(b.URL, c1, in1, tok1); st != http.StatusCreated {
		t.Fatalf("first payment on node B: %d %v", st, body)
	}
	c2, in2, tok2 := p.paymentConsent(b.URL, "1.00", "BRW2")
	sa := a.Main.Platform.Services.Staff
	maker, err := sa.Bootstrap(ctx, "maker-"+randJTI()[:8]+"@bank.test", staff.RoleRiskOfficer)
	if err != nil {
		t.Fatal(err)
	}
	checker, err := sa.Bootstrap(ctx, "checker-"+randJTI()[:8]+"@bank.test", staff.RoleRiskOfficer)
	if err != nil {
		t.Fatal(err)
	}
	res := runNode(t, "limits.mjs", map[string]string{"BASE": a.URL,
		"MAKER_EMAIL": maker.Staff.Email, "MAKER_PASSWORD": maker.OneTimePassword, "MAKER_TOTP": maker.TOTPSecret,
		"CHECKER_EMAIL": checker.Staff.Email, "CHECKER_PASSWORD": checker.OneTimePassword, "CHECKER_TOTP": checker.TOTPSecret,
		"ENVIRONMENT": "sandbox", "CURRENCY": "GBP", "PARTNER_ID": app.PartnerID, "AMOUNT": "30.50",
		"CHROMIUM": chromiumPath(), "ARTIFACTS": artifactsDir(t)})
	if res.Error != nil {
		b, _ := json.MarshalIndent(res, "", "  ")
		t.Fatalf("flow failed:\n%s", b)
	}
	if s := res.Step("maker_limits"); s["url"] != "/console/limits" || s["h1"] != "Payment limits" {
		t.Fatalf("maker's Limits page: %v", s)
	}
	if s := res.Step("proposed"); s["flash"] != "Proposal recorded: another risk officer or an admin must approve it." ||
		s["pending"] != "create: partner "+app.PartnerID+" per-day limit 30.50 GBP in sandbox" ||
		s["makerApproveButtons"] != 0.0 || s["makerNote"] != true {
		t.Fatalf("proposed: %v", s)
	}
	if s := res.Step("approved"); s["flash"] != "Approved: the change is in force on every node." || s["pendingLeft"] != 0.0 ||
		!strings.Contains(s["rule"].(string), "partner "+app.PartnerID+"\tper-day\t30.50 GBP") {
		t.Fatalf("approved: %v", s)
	}
	st, refusal := p.pay(b.URL, c2, in2, tok2)
	if st != http.StatusUnprocessableEntity || refusal["code"] != "limit_exceeded" ||
		refusal["detail"] != "the partner per-day limit is 30.50 GBP" || refusal["used_today"] != "30.00" {
		t.Fatalf("payment on node B after the approval: %d %v", st, refusal)
	}
}
