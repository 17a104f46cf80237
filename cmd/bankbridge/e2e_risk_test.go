package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/partners/staff"
	"github.com/bankbridge/bankbridge/risk"
	bankbridge "github.com/bankbridge/bankbridge/sdk/go"
)

// statusEvents returns the payment.status_changed events the sink got for
// paymentID, waiting (up to 20 s) until one has status want.
func (s *webhookSink) statusEvents(t *testing.T, paymentID, want string) []bankbridge.PaymentStatusChangedEventData {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var out []bankbridge.PaymentStatusChangedEventData
		found := false
		s.mu.Lock()
		for _, ev := range s.events {
			var d bankbridge.PaymentStatusChangedEventData
			if ev.Type != "payment.status_changed" || ev.DecodeData(&d) != nil || d.PaymentId != paymentID {
				continue
			}
			out = append(out, d)
			found = found || d.Status == want
		}
		s.mu.Unlock()
		if found || time.Now().After(deadline) {
			return out
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var (
	caseLink = regexp.MustCompile(`href="/console/risk/cases/(rcs_[0-9a-z]+)"`)
	sarLink  = regexp.MustCompile(`href="/console/risk/sars/(sar_[0-9a-z]+)/export"`)
)

// TestE2ERiskHold: a payment to a payee on a watch list imported with
// `bankbridge screening import` is held:
// Pending, the Suspended reason in payment-details, never sent to the core
// (balance unchanged), listed by `bankbridge risk cases`; a risk officer
// releases it in the console (real HTTP, CSRF form) and it is executed, the
// partner's webhook endpoint receiving payment.status_changed; a second
// held payment is rejected there: Rejected, with the webhook, and the
// officer's note never reaches the partner. A suspicious activity report
// filed from that case exports with its audit trail (console and CLI) and
// shows nowhere in the partner API, webhooks, portal or customer dashboard.
func TestE2ERiskHold(t *testing.T) {
	requireE2E(t, false)
	bin := buildBinary(t)
	for name, dbURL := range engineURLs(t) {
		t.Run(name, func(t *testing.T) {
			s := MustStart(t, dbURL(t), "--webhooks-allow-loopback")
			ctx := context.Background()
			// The operator imports the bank's watch list with the real
			// command (another process, as in production).
			watch := filepath.Join(t.TempDir(), "watch.csv")
			if err := os.WriteFile(watch, []byte("name,list,reference\nIvan Sanctioned,bank-watch,E2E-1\nOlga Listed,bank-watch,E2E-2\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if out, errOut, code := runBinary(t, bin, s, "screening", "import", "--format", "csv", watch); code != 0 {
				t.Fatalf("screening import: exit %d\n%s%s", code, out, errOut)
			}
			redirect := "https://wallet.example/callback"
			f := contractedPartner(t, s, redirect) // a portal owner too, to look for reports there
			c, err := bankbridge.New(bankbridge.Config{Issuer: s.URL, ClientID: f.ClientID, PrivateJWK: []byte(f.Key.PrivateJSON(t))})
			if err != nil {
				t.Fatal(err)
			}
			app, err := c.ClientCredentials(ctx, "payments webhooks")
			if err != nil {
				t.Fatal(err)
			}
			admin := c.API(app)
			sink := newWebhookSink(t)
			ep, err := admin.CreateWebhookEndpoint(ctx, bankbridge.WebhookEndpointInput{URL: sink.srv.URL + "/hooks",
				EventTypes: []string{"payment.created", "payment.status_changed"}})
			if err != nil {
				t.Fatal(err)
			}
			sink.mu.Lock()
			sink.keys = []string{ep.VerificationKey()}
			sink.mu.Unlock()
			platform := s.Main.Platform
			payments := apis.NewGormStore(platform.DB)

			// pay creates a consent to payee, has alice authorise it (forms,
			// no browser) and submits the payment.
			pay := func(amount, payee, ref string) (*bankbridge.API, *bankbridge.OBWriteDomesticResponse5) {
				t.Helper()
				pc, err := admin.CreateDomesticPaymentConsent(ctx, bankbridge.OBWriteDomesticConsent4{
					Data: bankbridge.OBWriteDomesticConsent4Data{Initiation: bankbridge.DomesticInitiation{
						InstructionIdentification: ref, EndToEndIdentification: ref,
						InstructedAmount: bankbridge.InstructedAmount{Amount: amount, Currency: "GBP"},
						CreditorAccount: bankbridge.CreditorAccount{SchemeName: "UK.OBIE.SortCodeAccountNumber",
							Identification: "20000077777777", Name: payee},
					}},
				})
				if err != nil {
					t.Fatal(err)
				}
				pending, err := c.PushAuthorization(ctx, bankbridge.AuthorizationRequest{RedirectURI: redirect, Scope: "openid payments",
					AuthorizationDetails: []bankbridge.AuthorizationDetail{{Type: bankbridge.DetailPaymentInitiation, ConsentID: pc.Data.ConsentId}}})
				if err != nil {
					t.Fatal(err)
				}
				cb, _ := url.Parse(formConsent(t, pending.URL, "alice", "sandbox-password-1", nil))
				tok, err := c.ExchangeCode(ctx, pending, cb.Query())
				if err != nil {
					t.Fatal(err)
				}
				papi := c.API(tok)
				p, err := papi.CreateDomesticPayment(ctx, bankbridge.PaymentFor(pc))
				if err != nil {
					t.Fatal(err)
				}
				return papi, p
			}
			balance := func(accountID string) int64 {
				t.Helper()
				a, err := platform.Services.Core.Account(ctx, accountID)
				if err != nil {
					t.Fatal(err)
				}
				return a.Balance.Minor
			}

			papi, first := pay("12.00", "Ivan Sanctioned", "risk-e2e-1")
			firstID := first.Data.DomesticPaymentId
			stored, err := payments.Payment(ctx, firstID)
			if err != nil {
				t.Fatal(err)
			}
			startBalance := balance(stored.DebtorAccountID)
			if first.Data.Status != bankbridge.PaymentStatusCodePending || !stored.Held {
				t.Fatalf("payment %s held %v, want Pending and held", first.Data.Status, stored.Held)
			}
			if got, err := papi.DomesticPayment(ctx, firstID); err != nil || got.Data.Status != bankbridge.PaymentStatusCodePending {
				t.Fatalf("GET payment %+v %v", got, err)
			}
			details, err := papi.DomesticPaymentDetails(ctx, firstID)
			if err != nil {
				t.Fatal(err)
			}
			ps := details.Data.PaymentStatus[0]
			if ps.StatusDetail == nil || ps.StatusDetail.StatusReason == nil || string(*ps.StatusDetail.StatusReason) != "Suspended" ||
				ps.StatusDetail.StatusReasonDescription == nil || *ps.StatusDetail.StatusReasonDescription != "Held for review by the bank" {
				t.Fatalf("payment details %+v", ps)
			}
			_, second := pay("13.00", "Olga Listed", "risk-e2e-2")
			secondID := second.Data.DomesticPaymentId
			if second.Data.Status != bankbridge.PaymentStatusCodePending {
				t.Fatalf("second payment %s", second.Data.Status)
			}
			if b := balance(stored.DebtorAccountID); b != startBalance {
				t.Fatalf("held payments moved the balance: %d → %d", startBalance, b)
			}

			// The operator's CLI lists both open cases, oldest first.
			out := runCLI(t, s, "risk", "cases", "--json")
			list, _ := out["cases"].([]any)
			if len(list) != 2 || list[0].(map[string]any)["payment_id"] != firstID || list[1].(map[string]any)["payment_id"] != secondID {
				t.Fatalf("risk cases --json: %v", out)
			}

			created, err := platform.Services.Staff.Bootstrap(ctx, "officer@bank.example", staff.RoleRiskOfficer)
			if err != nil {
				t.Fatal(err)
			}
			officer := staffConsole(t, s.URL, created)
			_, _, queue := officer.get("/console/risk/cases")
			ids := caseLink.FindAllStringSubmatch(queue, -1)
			if len(ids) != 2 || !strings.Contains(queue, "Ivan Sanctioned") {
				t.Fatalf("queue page:\n%s", queue)
			}
			firstCase, secondCase := ids[0][1], ids[1][1]
			_, _, page := officer.get("/console/risk/cases/" + firstCase)
			for _, w := range []string{firstID, "screening_match", "Ivan Sanctioned", "bank-watch", "E2E-1", "12.00 GBP", stored.CustomerID} {
				if !strings.Contains(page, w) {
					t.Errorf("case page lacks %q", w)
				}
			}

			t.Run("fail/decision without a note", func(t *testing.T) {
				st, _, body := officer.submit("/console/risk/cases/"+firstCase, "/console/risk/cases/"+firstCase+"/decide",
					url.Values{"decision": {"release"}, "note": {" "}})
				if st != http.StatusUnprocessableEntity || !strings.Contains(body, "A decision needs a note.") {
					t.Fatalf("%d\n%s", st, body)
				}
			})
			t.Run("fail/form without CSRF token", func(t *testing.T) {
				resp, err := officer.c.PostForm(s.URL+"/console/risk/cases/"+firstCase+"/decide", url.Values{"decision": {"release"}, "note": {"x"}})
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusForbidden {
					t.Fatalf("status %d", resp.StatusCode)
				}
			})

			t.Run("ok/release executes the payment", func(t *testing.T) {
				st, loc, body := officer.submit("/console/risk/cases/"+firstCase, "/console/risk/cases/"+firstCase+"/decide",
					url.Values{"decision": {"release"}, "note": {"customer confirmed the payee by phone"}})
				if st != http.StatusSeeOther || loc != "/console/risk/cases/"+firstCase+"?done=released" {
					t.Fatalf("release: %d %q\n%s", st, loc, body)
				}
				if _, _, page := officer.get(loc); !strings.Contains(page, `id="case-status">released<`) {
					t.Errorf("case page after release:\n%s", page)
				}
				if b := balance(stored.DebtorAccountID); b != startBalance-1200 {
					t.Fatalf("balance %d, want %d", b, startBalance-1200)
				}
				evs := sink.statusEvents(t, firstID, "AcceptedSettlementInProcess")
				if len(evs) != 1 || evs[0].PreviousStatus == nil || *evs[0].PreviousStatus != "Pending" {
					t.Fatalf("webhooks for %s: %+v", firstID, evs)
				}
				if got, err := papi.DomesticPayment(ctx, firstID); err != nil || got.Data.Status == bankbridge.PaymentStatusCodePending {
					t.Fatalf("payment after release %+v %v", got, err)
				}
			})

			t.Run("ok/reject after review", func(t *testing.T) {
				note := "payee matches the sanctions list entry"
				st, loc, body := officer.submit("/console/risk/cases/"+secondCase, "/console/risk/cases/"+secondCase+"/decide",
					url.Values{"decision": {"reject"}, "note": {note}})
				if st != http.StatusSeeOther || loc != "/console/risk/cases/"+secondCase+"?done=rejected" {
					t.Fatalf("reject: %d %q\n%s", st, loc, body)
				}
				evs := sink.statusEvents(t, secondID, "Rejected")
				if len(evs) != 1 || evs[0].Status != "Rejected" {
					t.Fatalf("webhooks for %s: %+v", secondID, evs)
				}
				// Both webhooks: payment.created (Pending, when held) and the rejection.
				created := 0
				sink.mu.Lock()
				for _, ev := range sink.events {
					var d bankbridge.PaymentCreatedEventData
					if ev.Type == "payment.created" && ev.DecodeData(&d) == nil && d.PaymentId == secondID && d.Status != nil && *d.Status == "Pending" {
						created++
					}
				}
				sink.mu.Unlock()
				if created != 1 {
					t.Errorf("payment.created webhooks for %s: %d", secondID, created)
				}
				got, err := payments.Payment(ctx, secondID)
				if err != nil || got.Status != apis.PaymentRejected || got.RejectReason != risk.RejectReason {
					t.Fatalf("payment %+v %v", got, err)
				}
				if b := balance(stored.DebtorAccountID); b != startBalance-1200 {
					t.Fatalf("balance %d after the rejection, want %d", b, startBalance-1200)
				}
				// The partner reads the bank's generic reason, never the officer's note.
				sink.mu.Lock()
				defer sink.mu.Unlock()
				for _, ev := range sink.events {
					if strings.Contains(string(ev.Data), note) {
						t.Errorf("webhook %s carries the officer's note", ev.Type)
					}
				}
			})
			if out := runCLI(t, s, "risk", "cases", "--json"); len(out["cases"].([]any)) != 0 {
				t.Errorf("open cases after both decisions: %v", out)
			}

			t.Run("ok/suspicious activity report, exported with its audit trail, seen by no partner or customer", func(t *testing.T) {
				narrative := "Payee on the sanctions list; third attempt this week (e2e-sar-narrative)"
				casePage := "/console/risk/cases/" + secondCase
				st, loc, body := officer.submit(casePage, casePage+"/sars", url.Values{"narrative": {narrative}})
				if st != http.StatusSeeOther || loc != casePage+"?done=sar" {
					t.Fatalf("file SAR: %d %q\n%s", st, loc, body)
				}
				_, _, page := officer.get(casePage)
				m := sarLink.FindStringSubmatch(page)
				if m == nil {
					t.Fatalf("case page lists no report:\n%s", page)
				}
				sarID := m[1]
				st, _, export := officer.get("/console/risk/sars/" + sarID + "/export")
				var x risk.SARExport
				if err := json.Unmarshal([]byte(export), &x); st != http.StatusOK || err != nil {
					t.Fatalf("export: %d %v\n%s", st, err, export)
				}
				var trail []string
				for _, e := range x.Audit {
					trail = append(trail, e.Action)
				}
				if x.Format != risk.SARFormat || x.SAR.Narrative != narrative || x.Case.PaymentID != secondID ||
					x.Case.DecisionNote != "payee matches the sanctions list entry" {
					t.Errorf("export %+v", x)
				}
				for _, w := range []string{"payment.created", "risk_case.opened", "risk_case.rejected", "payment.status_changed", "sar.filed"} {
					if !slices.Contains(trail, w) {
						t.Errorf("audit trail %v lacks %s", trail, w)
					}
				}
				cli := runCLI(t, s, "risk", "sar", "export", sarID)
				if cli["format"] != risk.SARFormat || cli["sar"].(map[string]any)["narrative"] != narrative {
					t.Errorf("CLI export %v", cli)
				}
				// An admin reads the case queue but not the reports.
				adm := staffConsole(t, s.URL, f.Staff)
				if st, _, body := adm.get("/console/risk/sars/" + sarID + "/export"); st != http.StatusForbidden || strings.Contains(body, narrative) {
					t.Errorf("admin export: %d", st)
				}
				if _, _, body := adm.get(casePage); strings.Contains(body, sarID) || !strings.Contains(body, secondID) {
					t.Errorf("admin case page shows the report (or not the case)")
				}
				hidden := func(where, body string) {
					t.Helper()
					for _, w := range []string{sarID, narrative, "e2e-sar-narrative", "uspicious activity"} {
						if strings.Contains(body, w) {
							t.Errorf("%s reveals %q", where, w)
						}
					}
				}
				// The partner's API and webhooks.
				got, err := admin.DomesticPayment(ctx, secondID)
				if err != nil {
					t.Fatal(err)
				}
				det, err := admin.DomesticPaymentDetails(ctx, secondID)
				if err != nil {
					t.Fatal(err)
				}
				b1, _ := json.Marshal(got)
				b2, _ := json.Marshal(det)
				hidden("the partner API", string(b1)+string(b2))
				sink.mu.Lock()
				for _, ev := range sink.events {
					hidden("webhook "+ev.Type, string(ev.Data))
				}
				sink.mu.Unlock()
				// The partner's portal.
				owner := newBrowserless(t, s.URL)
				if st, loc, body := owner.submit("/portal/sign-in", "/portal/sign-in",
					url.Values{"email": {f.OwnerEmail}, "password": {f.OwnerPassword}}); st != http.StatusSeeOther {
					t.Fatalf("owner sign-in: %d %s\n%s", st, loc, body)
				}
				org := "/portal/orgs/" + f.PartnerID
				for _, path := range []string{org, org + "/apps", org + "/apps/" + f.ClientID, org + "/apps/" + f.ClientID + "/requests"} {
					st, _, body := owner.get(path)
					if st != http.StatusOK {
						t.Errorf("portal %s: %d", path, st)
					}
					hidden("portal "+path, body)
				}
				// The customer's dashboard.
				cust := newBrowserless(t, s.URL)
				if st, loc, body := cust.submit("/sandbox/customer/login", "/sandbox/customer/login",
					url.Values{"username": {"alice"}, "password": {"sandbox-password-1"}}); st != http.StatusSeeOther {
					t.Fatalf("customer sign-in: %d %s\n%s", st, loc, body)
				}
				st, _, body = cust.get("/sandbox/customer/consents")
				if st != http.StatusOK || !strings.Contains(body, "Olga Listed") && !strings.Contains(body, "Cert Wallet") {
					t.Errorf("customer consents page: %d\n%s", st, body)
				}
				hidden("customer dashboard", body)
			})

			t.Run("ok/release in the browser", func(t *testing.T) {
				requireE2E(t, true)
				_, third := pay("11.00", "Ivan Sanctioned", "risk-e2e-3")
				thirdID := third.Data.DomesticPaymentId
				open, err := risk.NewGormStore(platform.DB).OpenCases(ctx)
				if err != nil || len(open) != 1 || open[0].PaymentID != thirdID {
					t.Fatalf("open cases %+v %v", open, err)
				}
				before := balance(stored.DebtorAccountID)
				browserOfficer, err := platform.Services.Staff.Bootstrap(ctx, "officer.browser@bank.example", staff.RoleRiskOfficer)
				if err != nil {
					t.Fatal(err)
				}
				res := runNode(t, "risk.mjs", map[string]string{"BASE": s.URL, "CASE_ID": open[0].ID,
					"STAFF_EMAIL": browserOfficer.Staff.Email, "STAFF_PASSWORD": browserOfficer.OneTimePassword,
					"STAFF_TOTP": browserOfficer.TOTPSecret, "CHROMIUM": chromiumPath(), "ARTIFACTS": artifactsDir(t)})
				if q := res.Step("queue"); q["h1"] != "Risk cases" || q["rows"] != 1.0 {
					t.Errorf("queue %v", q)
				}
				if c := res.Step("case"); c["score"] == "" || !slices.Contains(anyStrings(c["reasons"]), "screening_match") || c["matches"] != 1.0 {
					t.Errorf("case %v", c)
				}
				d := res.Step("decided")
				if d["status"] != "released" || d["flash"] != "Payment released: it was sent to the bank's core." ||
					!strings.Contains(d["decision"].(string), "Customer confirmed the payee by phone (browser)") || len(d["violations"].([]any)) != 0 {
					t.Fatalf("decided %v", d)
				}
				if b := balance(stored.DebtorAccountID); b != before-1100 {
					t.Fatalf("balance %d, want %d", b, before-1100)
				}
				if evs := sink.statusEvents(t, thirdID, "AcceptedSettlementInProcess"); len(evs) != 1 {
					t.Fatalf("webhooks for %s: %+v", thirdID, evs)
				}
			})
		})
	}
}

// anyStrings is a decoded JSON list of strings.
func anyStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}
