package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/contracts"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/mail"
	"github.com/bankbridge/bankbridge/partners"
	"github.com/bankbridge/bankbridge/partners/exit"
	"github.com/bankbridge/bankbridge/partners/staff"
	"github.com/bankbridge/bankbridge/webhooks"
)

// typeSink is a webhook endpoint that records the type of each event in
// the order they arrive.
type typeSink struct {
	mu        sync.Mutex
	types     []string
	revokedBy []string // of each consent.revoked
	srv       *httptest.Server
}

func newTypeSink(t *testing.T) *typeSink {
	s := &typeSink{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Type string `json:"type"`
			Data struct {
				RevokedBy string `json:"revoked_by"`
			} `json:"data"`
		}
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, &body)
		s.mu.Lock()
		s.types = append(s.types, body.Type)
		if body.Type == "consent.revoked" {
			s.revokedBy = append(s.revokedBy, body.Data.RevokedBy)
		}
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *typeSink) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.types)
}

// TestE2EPartnerExit (BANKBRIDGE_E2E=1, both engines, the real server):
// partner A has an active contract (no notice), a sandbox app, a customer's
// consent with a working token and a webhook endpoint; partner B has the
// same customer's consent. A partner manager proposes A's termination,
// another approves it; A's owner sees the timeline in the portal; the
// wind-down runs. Then A's client gets no token (the exact OAuth error), A's
// old token is refused (the exact 401 problem), the final statement exists,
// the customer got one mail, the endpoint got partner.terminated last, the
// export downloads for A's owner and is 404 for B's; B still works. The
// console refuses a date inside the notice and the maker's own approval;
// after the retention period (0 days here) A's personal data is erased.
func TestE2EPartnerExit(t *testing.T) {
	requireE2E(t, false)
	for name, dbURL := range engineURLs(t) {
		t.Run(name, func(t *testing.T) {
			s := MustStart(t, dbURL(t), "--webhooks-allow-loopback", "--exit-retention-days", "0")
			ctx := context.Background()
			p := s.Main.Platform
			svc := p.Services
			ps := svc.Partners

			// Partner A: signed up, approved, under contract.
			ownerA, pwA := "owner@leaving.example", "leaving-owner-password-1"
			su, err := ps.SignUp(ctx, ownerA, pwA, "Leaving Wallet Ltd")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ps.VerifyEmail(ctx, su.VerificationToken); err != nil {
				t.Fatal(err)
			}
			pid := su.Partner.ID
			admin, err := ps.Staff().Bootstrap(ctx, "admin@bank.example", staff.RoleAdmin)
			if err != nil {
				t.Fatal(err)
			}
			fin, err := ps.Staff().Bootstrap(ctx, "finance@bank.example", staff.RoleFinance)
			if err != nil {
				t.Fatal(err)
			}
			aid := admin.Staff.ID
			now := time.Now().UTC()
			terms := contracts.Terms{Start: now.Add(-24 * time.Hour), End: now.AddDate(1, 0, 0), NoticeDays: 0, Currency: "GBP",
				FeeSchedule: contracts.FeeSchedule{
					CallFees:       []contracts.ProductFee{{Product: "accounts", Tiers: []contracts.Tier{{From: 0, To: 0, UnitPriceMicros: 1_000}}}},
					PaymentFee:     contracts.PaymentFee{FixedMinor: 10, BPS: 15},
					MonthlyMinimum: 3000_00}}
			var contractID string
			steps := []func() error{
				func() error {
					_, err := ps.SubmitApplication(ctx, su.User.ID, pid, partners.Application{LegalName: "Leaving Wallet Limited",
						CompanyNumber: "07654322", Country: "GB", Website: "https://leaving.example",
						IntendedUse: "Account information for a wallet app", Currency: "GBP", ContactName: "Lee Leaving", ContactEmail: ownerA})
					return err
				},
				func() error { return ps.StartReview(ctx, aid, pid) },
				func() error {
					_, err := ps.RecordDueDiligence(ctx, aid, pid, partners.DueDiligence{IndustryStanding: 4, BusinessCapability: 4,
						ResourceIntegration: 4, WillingnessToCooperate: 4, LicenceVerified: true, AMLResult: partners.AMLClear})
					return err
				},
				func() error { return ps.DecideApplication(ctx, aid, pid, partners.DecisionApproved, "") },
				func() error {
					c, err := p.billing.Contracts.Draft(ctx, contracts.Actor{ID: fin.Staff.ID, Role: staff.RoleFinance}, pid, terms)
					contractID = c.ID
					return err
				},
				func() error {
					_, err := p.billing.Contracts.Submit(ctx, contracts.Actor{ID: fin.Staff.ID, Role: staff.RoleFinance}, contractID)
					return err
				},
				func() error { // the platform approves no version without its signed agreement
					_, err := p.billing.Contracts.UploadAgreement(ctx, contracts.Actor{ID: fin.Staff.ID, Role: staff.RoleFinance}, contractID,
						"signed.pdf", []byte("%PDF-1.7\nsigned\n%%EOF\n"))
					return err
				},
				func() error {
					_, err := p.billing.Contracts.Approve(ctx, contracts.Actor{ID: aid, Role: staff.RoleAdmin}, contractID)
					return err
				},
			}
			for i, st := range steps {
				if err := st(); err != nil {
					t.Fatalf("set-up step %d: %v", i, err)
				}
			}
			key := MustClientKey(t)
			app := runCLI(t, s, "apps", "create", "--partner", pid, "--env", "sandbox", "--name", "Leaving wallet",
				"--redirect-uri", "https://wallet.example/cb", "--jwks", key.WriteJWKS(t), "--scope", "accounts", "--json")
			cid, _ := app["client_id"].(string)
			dk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			a := &flowPartner{tb: t, issuer: s.Issuer, id: cid, key: key, dpop: dk, hc: &http.Client{Timeout: 30 * time.Second}}
			consentA := a.accountConsent(s.URL)
			tokenA := a.codeFlow(s.URL, consentA, nil)
			pathA := transactionsPath(a.firstAccount(s.URL, tokenA))
			if st, _, body := a.call(s.URL, http.MethodGet, pathA, tokenA, "", nil); st != http.StatusOK {
				t.Fatalf("A before: %d %v", st, body)
			}
			c, err := apis.NewGormStore(p.DB).Consent(ctx, consentA)
			if err != nil {
				t.Fatal(err)
			}
			customerEmail := "alice@customer.example"
			if err := svc.Core.SetCustomerEmail(ctx, c.CustomerID, customerEmail); err != nil {
				t.Fatal(err)
			}
			sink := newTypeSink(t)
			if _, _, err := svc.Webhooks.CreateEndpoint(ctx, webhooks.Scope{PartnerID: pid, AppID: cid}, environment.Sandbox,
				webhooks.EndpointInput{URL: sink.srv.URL + "/hook", EventTypes: []string{"consent.revoked", "partner.status_changed",
					"partner.termination_scheduled", "partner.terminated", "statement.issued"}}); err != nil {
				t.Fatal(err)
			}

			// Partner B: the same customer's consent; an owner of its own.
			b := newFlowPartner(t, s, s.Issuer)
			consentB := b.accountConsent(s.URL)
			tokenB := b.codeFlow(s.URL, consentB, nil)
			pathB := transactionsPath(b.firstAccount(s.URL, tokenB))
			ownerB, pwB := "owner@staying.example", "staying-owner-password-1"
			suB, err := ps.SignUp(ctx, ownerB, pwB, "Staying Ltd")
			if err == nil {
				_, err = ps.VerifyEmail(ctx, suB.VerificationToken)
			}
			if err != nil {
				t.Fatal(err)
			}

			// Notice: proposed by one partner manager, approved by another.
			pm1, err := ps.Staff().Bootstrap(ctx, "pm1@bank.example", staff.RolePartnerManager)
			if err != nil {
				t.Fatal(err)
			}
			pm2, err := ps.Staff().Bootstrap(ctx, "pm2@bank.example", staff.RolePartnerManager)
			if err != nil {
				t.Fatal(err)
			}
			exitPage := "/console/partners/" + pid + "/exit"
			maker, checker := staffConsole(t, s.URL, pm1), staffConsole(t, s.URL, pm2)
			if st, _, body := maker.submit(exitPage, exitPage, url.Values{"reason": {"Contract ended by mutual agreement."},
				"effective_date": {"2020-01-01"}}); st != http.StatusUnprocessableEntity ||
				!strings.Contains(body, "The effective date must be on or after ") || !strings.Contains(body, "(0 days&#39; notice).") {
				t.Fatalf("propose with a past date: %d\n%s", st, body)
			}
			if st, loc, body := maker.submit(exitPage, exitPage, url.Values{"reason": {"Contract ended by mutual agreement."}}); st != http.StatusSeeOther {
				t.Fatalf("propose: %d %s\n%s", st, loc, body)
			}
			list, err := svc.Exit.List(ctx, pid)
			if err != nil || len(list) != 1 {
				t.Fatalf("terminations %v %v", list, err)
			}
			e := &list[0]
			if e.NoticeDays != 0 || e.ContractID != contractID || e.Status != exit.StatusProposed {
				t.Fatalf("proposed %+v, want the contract's notice", e)
			}
			if st, _, body := maker.submit(exitPage, "/console/exits/"+e.ID+"/approve", url.Values{}); st != http.StatusForbidden ||
				!strings.Contains(body, "Termination "+e.ID+" was proposed by "+pm1.Staff.ID+", who cannot also decide it.") {
				t.Fatalf("maker approves: %d\n%s", st, body)
			}
			if st, loc, body := checker.submit(exitPage, "/console/exits/"+e.ID+"/approve", url.Values{"note": {"agreed"}}); st != http.StatusSeeOther {
				t.Fatalf("checker approves: %d %s\n%s", st, loc, body)
			}
			portalA := newBrowserless(t, s.URL)
			if st, loc, body := portalA.submit("/portal/sign-in", "/portal/sign-in", url.Values{"email": {ownerA}, "password": {pwA}}); st != http.StatusSeeOther {
				t.Fatalf("owner A sign-in: %d %s\n%s", st, loc, body)
			}
			if st, _, body := portalA.get("/portal/orgs/" + pid + "/wind-down"); st != http.StatusOK ||
				!strings.Contains(body, "Contract ended by mutual agreement.") || !strings.Contains(body, `id="wind-down-timeline"`) {
				t.Fatalf("wind-down page: %d\n%s", st, body)
			}

			// The effective date has come: the housekeeping job, run here
			// until the dispatcher has delivered the last events.
			deadline := time.Now().Add(60 * time.Second)
			for {
				if _, err := svc.Exit.RunDue(ctx); err != nil {
					t.Fatal(err)
				}
				got, err := svc.Exit.Get(ctx, e.ID)
				if err != nil {
					t.Fatal(err)
				}
				if got.Status == exit.StatusCompleted {
					break
				}
				if time.Now().After(deadline) {
					steps, _ := svc.Exit.StepsDone(ctx, e.ID)
					t.Fatalf("wind-down not completed: %s, steps %+v", got.Status, steps)
				}
				time.Sleep(100 * time.Millisecond)
			}

			// No token for A's client, A's old token refused.
			st, _, body := a.post(s.URL, "/token", a.authenticated(url.Values{"grant_type": {"client_credentials"}, "scope": {"accounts"}}),
				a.proof(http.MethodPost, "/token", ""))
			if st != http.StatusUnauthorized || body["error"] != "invalid_client" || body["error_description"] != "Client authentication failed "+
				"(e.g., unknown client, no client authentication included, or unsupported authentication method). The client is not active." {
				t.Fatalf("token endpoint after termination: %d %v", st, body)
			}
			st2, h, body2 := a.call(s.URL, http.MethodGet, pathA, tokenA, "", nil)
			wantResourceRefusal(t, st2, h, body2, http.StatusUnauthorized, "invalid_token", "The access token is not active.")

			// The final statement.
			sts, err := p.billing.Contracts.Statements(ctx, pid)
			if err != nil {
				t.Fatal(err)
			}
			if len(sts) != 1 || sts[0].RunID != contracts.FinalRunID || sts[0].Period != contracts.PeriodOf(e.EffectiveAt) {
				t.Fatalf("statements %+v, want the final one", sts)
			}
			// The customer's one mail.
			ms, err := mail.List(ctx, p.DB.DB, customerEmail, 20)
			if err != nil {
				t.Fatal(err)
			}
			var notices []mail.Message
			for _, m := range ms {
				if m.Template == exit.MailCustomer {
					notices = append(notices, m)
				}
			}
			if len(notices) != 1 || notices[0].Subject != "Your consents to Leaving Wallet Limited have ended" ||
				!strings.Contains(notices[0].Body, "Every consent you gave Leaving Wallet Limited") {
				t.Fatalf("customer mails %+v", ms)
			}
			// The endpoint: consent.revoked, then partner.terminated last.
			types := sink.got()
			if len(types) == 0 || types[len(types)-1] != exit.EventTerminated || !slices.Contains(types, "consent.revoked") ||
				slices.Index(types, "consent.revoked") > slices.Index(types, exit.EventTerminated) {
				t.Fatalf("webhooks received %v, want consent.revoked … partner.terminated last", types)
			}
			sink.mu.Lock()
			revokedBy := slices.Clone(sink.revokedBy)
			sink.mu.Unlock()
			if !slices.Equal(revokedBy, []string{apis.RevokedByBank}) {
				t.Fatalf("consent.revoked revoked_by %v, want [bank]", revokedBy)
			}
			// The export: A's owner downloads it, B's owner gets 404.
			st3, _, arch := portalA.get("/portal/orgs/" + pid + "/wind-down/export")
			var doc map[string]any
			if st3 != http.StatusOK || json.Unmarshal([]byte(arch), &doc) != nil || doc["format"] != exit.ExportFormat {
				t.Fatalf("export: %d\n%.300s", st3, arch)
			}
			portalB := newBrowserless(t, s.URL)
			if st, loc, body := portalB.submit("/portal/sign-in", "/portal/sign-in", url.Values{"email": {ownerB}, "password": {pwB}}); st != http.StatusSeeOther {
				t.Fatalf("owner B sign-in: %d %s\n%s", st, loc, body)
			}
			if st, _, body := portalB.get("/portal/orgs/" + pid + "/wind-down/export"); st != http.StatusNotFound {
				t.Fatalf("B downloads A's export: %d\n%.300s", st, body)
			}
			if st, _, body := portalB.get("/portal/orgs/" + pid + "/wind-down"); st != http.StatusNotFound ||
				!strings.Contains(body, "Partner "+pid+" not found.") {
				t.Fatalf("B reads A's wind-down: %d\n%.300s", st, body)
			}
			// B is unaffected.
			if st, _, body := b.call(s.URL, http.MethodGet, pathB, tokenB, "", nil); st != http.StatusOK {
				t.Fatalf("B after A's termination: %d %v", st, body)
			}

			if st, _, body := checker.get(exitPage); st != http.StatusOK || !strings.Contains(body, `id="exit-steps-`+e.ID+`"`) ||
				!strings.Contains(body, exit.StepEndpointsDisabled) || !strings.Contains(body, `id="staff-export"`) {
				t.Fatalf("console termination page: %d\n%s", st, body)
			}
			// The retention period (0 days here) is over: the personal data
			// goes, B's stays.
			erased, err := svc.Exit.PurgeDue(ctx)
			if err != nil || len(erased) != 1 || erased[0] != e.ID {
				t.Fatalf("PurgeDue %v %v", erased, err)
			}
			store := apis.NewGormStore(p.DB)
			if ca, err := store.Consent(ctx, consentA); err != nil || ca.CustomerID != "" || len(ca.AccountIDs) != 0 {
				t.Fatalf("A's consent after erasure %+v %v", ca, err)
			}
			if cb, err := store.Consent(ctx, consentB); err != nil || cb.CustomerID == "" {
				t.Fatalf("B's consent after A's erasure %+v %v", cb, err)
			}
			if st, _, body := portalA.get("/portal/orgs/" + pid + "/wind-down/export"); st != http.StatusNotFound {
				t.Fatalf("A's export after erasure: %d\n%.300s", st, body)
			}
		})
	}
}

// TestPartnerExitAcrossNodes: node B has a partner's token, consent and
// customer cached (calls succeed there); the partnership's wind-down runs on
// node A; node B's very next resource call is refused with the exact
// problem, on each cache bus.
func TestPartnerExitAcrossNodes(t *testing.T) {
	for bus, extra := range cacheBuses() {
		t.Run(bus, func(t *testing.T) {
			a, b := twoNodes(t, extra...)
			ctx := context.Background()
			p := newFlowPartner(t, a, lbIssuer)
			consent := p.accountConsent(a.URL)
			token := p.codeFlow(a.URL, consent, nil)
			path := transactionsPath(p.firstAccount(a.URL, token))
			for range 2 {
				if st, _, body := p.call(b.URL, http.MethodGet, path, token, "", nil); st != http.StatusOK {
					t.Fatalf("node B before: %d %v", st, body)
				}
			}
			app, err := a.Main.Platform.Services.Partners.App(ctx, p.id)
			if err != nil {
				t.Fatal(err)
			}
			svc := a.Main.Platform.Services
			pm1, err := svc.Staff.Bootstrap(ctx, "pm1-"+randJTI()[:8]+"@bank.test", staff.RolePartnerManager)
			if err != nil {
				t.Fatal(err)
			}
			pm2, err := svc.Staff.Bootstrap(ctx, "pm2-"+randJTI()[:8]+"@bank.test", staff.RolePartnerManager)
			if err != nil {
				t.Fatal(err)
			}
			e, err := svc.Exit.Propose(ctx, pm1.Staff.ID, app.PartnerID, "test: across nodes", time.Time{})
			if err == nil {
				_, err = svc.Exit.Decide(ctx, pm2.Staff.ID, e.ID, true, "")
			}
			if err == nil {
				_, err = svc.Exit.RunDue(ctx)
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, err := svc.Exit.Get(ctx, e.ID); err != nil || got.Status != exit.StatusCompleted {
				t.Fatalf("wind-down on node A: %+v %v", got, err)
			}
			st, h, body := p.call(b.URL, http.MethodGet, path, token, "", nil)
			wantResourceRefusal(t, st, h, body, http.StatusUnauthorized, "invalid_token", "The access token is not active.")
		})
	}
}
