package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/bankbridge/bankbridge/partners/certification"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/partners"
	"github.com/bankbridge/bankbridge/partners/staff"
)

// contractedPartner takes a freshly signed-up partner through application,
// review, due diligence, approval and contract (the contracts area's step)
// with the real services, and adds a sandbox app with key. It returns the
// partner, its owner's credentials, the app's client_id and key, and the
// staff member's login.
type certFixture struct {
	PartnerID, OwnerEmail, OwnerPassword string
	ClientID                             string
	Key                                  *TestClientKey
	Staff                                *staff.Created
}

func contractedPartner(t *testing.T, s *Server, redirect string) *certFixture {
	t.Helper()
	ctx := context.Background()
	ps := s.Main.Platform.Services.Partners
	f := &certFixture{OwnerEmail: "owner@cert.example", OwnerPassword: "cert-owner-password-1"}
	su, err := ps.SignUp(ctx, f.OwnerEmail, f.OwnerPassword, "Cert Wallet Ltd")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ps.VerifyEmail(ctx, su.VerificationToken); err != nil {
		t.Fatal(err)
	}
	f.PartnerID = su.Partner.ID
	if f.Staff, err = ps.Staff().Bootstrap(ctx, "risk@bank.example", staff.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	sid := f.Staff.Staff.ID
	steps := []func() error{
		func() error {
			_, err := ps.SubmitApplication(ctx, su.User.ID, f.PartnerID, partners.Application{LegalName: "Cert Wallet Limited",
				CompanyNumber: "07654321", Country: "GB", LicenceNumber: "FRN 700001", Website: "https://cert.example",
				IntendedUse: "Account information and payments for a wallet", ExpectedMonthlyAPICalls: 1000,
				ExpectedMonthlyPayments: 10, ExpectedMonthlyPaymentValue: 100000, Currency: "GBP",
				ContactName: "Cy Cert", ContactEmail: f.OwnerEmail})
			return err
		},
		func() error { return ps.StartReview(ctx, sid, f.PartnerID) },
		func() error {
			_, err := ps.RecordDueDiligence(ctx, sid, f.PartnerID, partners.DueDiligence{IndustryStanding: 4, BusinessCapability: 4,
				ResourceIntegration: 4, WillingnessToCooperate: 4, LicenceVerified: true, AMLResult: partners.AMLClear})
			return err
		},
		func() error { return ps.DecideApplication(ctx, sid, f.PartnerID, partners.DecisionApproved, "") },
		func() error { return ps.MarkContracted(ctx, f.PartnerID) },
	}
	for i, st := range steps {
		if err := st(); err != nil {
			t.Fatalf("lifecycle step %d: %v", i, err)
		}
	}
	f.Key = MustClientKey(t)
	app := runCLI(t, s, "apps", "create", "--partner", f.PartnerID, "--env", "sandbox", "--name", "Cert wallet",
		"--redirect-uri", redirect, "--jwks", f.Key.WriteJWKS(t), "--scope", "openid accounts payments webhooks", "--json")
	if f.ClientID, _ = app["client_id"].(string); f.ClientID == "" {
		t.Fatalf("apps create printed no client_id: %v", app)
	}
	return f
}

// browserless is a cookie-keeping HTTP client that does not follow redirects.
type browserless struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newBrowserless(t *testing.T, base string) *browserless {
	jar, _ := cookiejar.New(nil)
	return &browserless{t: t, base: base, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// get returns the status, Location and body.
func (b *browserless) get(path string) (int, string, string) {
	b.t.Helper()
	resp, err := b.c.Get(b.base + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(body)
}

// submit loads page, takes its CSRF token and posts form to action.
func (b *browserless) submit(page, action string, form url.Values) (int, string, string) {
	b.t.Helper()
	_, _, body := b.get(page)
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		b.t.Fatalf("%s has no CSRF token:\n%s", page, body)
	}
	form.Set("csrf_token", m[1])
	resp, err := b.c.PostForm(b.base+action, form)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(out)
}

// staffConsole signs a new staff account in to the console (one-time
// password and a current TOTP code) and sets its password, as the first
// sign-in requires; it returns the signed-in client.
func staffConsole(t *testing.T, base string, created *staff.Created) *browserless {
	t.Helper()
	b := newBrowserless(t, base)
	code, err := totp.GenerateCodeCustom(created.TOTPSecret, time.Now().UTC(),
		totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	if st, loc, body := b.submit("/console/sign-in", "/console/sign-in", url.Values{"email": {created.Staff.Email},
		"password": {created.OneTimePassword}, "code": {code}}); st != http.StatusSeeOther || loc != "/console/password" {
		t.Fatalf("staff sign-in: %d %q\n%s", st, loc, body)
	}
	if st, loc, body := b.submit("/console/password", "/console/password", url.Values{"current_password": {created.OneTimePassword},
		"new_password": {"staff-new-password-1"}, "confirm_password": {"staff-new-password-1"}}); st != http.StatusSeeOther {
		t.Fatalf("password change: %d %q\n%s", st, loc, body)
	}
	return b
}

func wantChecks(t *testing.T, run *partners.CertificationRun, want map[string]string) {
	t.Helper()
	got := map[string]string{}
	for _, c := range run.Checks {
		state := "failed: " + c.Detail
		switch {
		case c.Evidence["skipped"] == true:
			state = "skipped: " + c.Detail
		case c.Passed:
			state = "passed"
		}
		got[c.Name] = state
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("check %q = %q, want %q", name, got[name], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("checks %v, want exactly %v", got, want)
	}
}

// TestE2ECertification: the partner launches certification from the portal;
// before any traffic it fails listing exactly the missing checks; after a
// real PAR + DPoP code flow, an account read and a payment (independent
// client + chromium) it passes with evidence, the partner is certified and
// the go-live screen in the console shows the evidence.
func TestE2ECertification(t *testing.T) {
	requireE2E(t, true)
	for name, dbURL := range engineURLs(t) {
		t.Run(name, func(t *testing.T) {
			s := MustStart(t, dbURL(t), "--webhooks-allow-loopback")
			ctx := context.Background()
			ps := s.Main.Platform.Services.Partners
			redirect := "https://wallet.example/callback"
			f := contractedPartner(t, s, redirect)

			owner := newBrowserless(t, s.URL)
			if st, loc, body := owner.submit("/portal/sign-in", "/portal/sign-in",
				url.Values{"email": {f.OwnerEmail}, "password": {f.OwnerPassword}}); st != http.StatusSeeOther {
				t.Fatalf("owner sign-in: %d %s\n%s", st, loc, body)
			}
			certPage := "/portal/orgs/" + f.PartnerID + "/certification"
			runFromPortal := func(t *testing.T) *partners.CertificationRun {
				t.Helper()
				st, loc, body := owner.submit(certPage, certPage, url.Values{"app_id": {f.ClientID}})
				if st != http.StatusSeeOther || loc != certPage+"?done=certification" {
					t.Fatalf("run certification: %d %q\n%s", st, loc, body)
				}
				runs, err := ps.CertificationRuns(ctx, f.PartnerID)
				if err != nil || len(runs) == 0 {
					t.Fatalf("runs %v %v", runs, err)
				}
				return &runs[0]
			}
			appID := f.ClientID

			t.Run("refusals", func(t *testing.T) {
				// Another organisation's owner, and a viewer of this one.
				other, err := ps.SignUp(ctx, "other@cert.example", "other-owner-password-1", "Other Org Ltd")
				if err != nil {
					t.Fatal(err)
				}
				ps.VerifyEmail(ctx, other.VerificationToken)
				ownerID := ""
				if u, err := ps.Login(ctx, f.OwnerEmail, f.OwnerPassword); err == nil {
					ownerID = u.ID
				}
				inv, err := ps.Invite(ctx, ownerID, f.PartnerID, "viewer@cert.example", partners.RoleViewer)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := ps.SignUpWithInvitation(ctx, inv.Token, "viewer-password-12"); err != nil {
					t.Fatal(err)
				}
				signIn := func(email, pw string) *browserless {
					b := newBrowserless(t, s.URL)
					if st, loc, body := b.submit("/portal/sign-in", "/portal/sign-in", url.Values{"email": {email}, "password": {pw}}); st != http.StatusSeeOther {
						t.Fatalf("sign-in %s: %d %s\n%s", email, st, loc, body)
					}
					return b
				}
				otherB, viewerB := signIn("other@cert.example", "other-owner-password-1"), signIn("viewer@cert.example", "viewer-password-12")
				otherPage := "/portal/orgs/" + other.Partner.ID + "/certification"
				cases := []struct {
					name   string
					run    func() (int, string)
					status int
					msg    string
				}{
					{"fail/csrf-missing", func() (int, string) {
						resp, err := owner.c.PostForm(s.URL+certPage, url.Values{"app_id": {appID}})
						if err != nil {
							t.Fatal(err)
						}
						defer resp.Body.Close()
						b, _ := io.ReadAll(resp.Body)
						return resp.StatusCode, string(b)
					}, 403, "This form has expired or did not come from this site. Go back, reload the page and try again."},
					{"fail/other-orgs-partner", func() (int, string) {
						st, _, body := otherB.submit(otherPage, certPage, url.Values{"app_id": {appID}})
						return st, body
					}, 404, "Partner " + f.PartnerID + " not found."},
					{"fail/viewer", func() (int, string) {
						st, _, body := viewerB.submit(certPage, certPage, url.Values{"app_id": {appID}})
						return st, body
					}, 403, "Role viewer may not apps.write.sandbox."},
					{"fail/not-contracted", func() (int, string) {
						st, _, body := otherB.submit(otherPage, otherPage, url.Values{"app_id": {appID}})
						return st, body
					}, 409, "Cannot record a certification: partner is sandbox (needs contracted or certified)."},
					{"fail/unknown-app", func() (int, string) {
						_, err := ps.RunCertification(ctx, ownerID, f.PartnerID, "app_unknown")
						return statusOf(err), detailOf(err)
					}, 404, "app app_unknown not found"},
				}
				for _, tc := range cases {
					t.Run(tc.name, func(t *testing.T) {
						st, body := tc.run()
						if st != tc.status || !strings.Contains(body, htmlEscape(tc.msg)) {
							t.Fatalf("got %d, want %d with %q:\n%s", st, tc.status, tc.msg, body)
						}
					})
				}
				if runs, _ := ps.CertificationRuns(ctx, f.PartnerID); len(runs) != 0 {
					t.Fatalf("refused runs were kept: %+v", runs)
				}
			})

			t.Run("fail/no traffic yet", func(t *testing.T) {
				run := runFromPortal(t)
				if run.Result != partners.CertFailed || run.AppID != appID || !strings.HasPrefix(run.RunBy, "usr_") {
					t.Fatalf("run %+v", run)
				}
				wantChecks(t, run, map[string]string{
					certification.CheckCodeFlow: "failed: No DPoP-bound access token from a pushed (PAR) authorization-code flow was issued to " + appID + ".",
					certification.CheckAccounts: "failed: No successful GET /open-banking/v3.1/aisp/accounts… by " + appID + " in the request log.",
					certification.CheckPayment:  "failed: No successful POST /open-banking/v3.1/pisp/domestic-payments (with x-idempotency-key) by " + appID + " in the request log.",
					certification.CheckWebhooks: "failed: No enabled webhook endpoint of " + appID + " has acknowledged a signed delivery with a 2xx (send it a test event).",
				})
				p, _ := ps.Partner(ctx, f.PartnerID)
				if p.Status != partners.StatusContracted {
					t.Fatalf("status %s after a failed run", p.Status)
				}
				_, _, page := owner.get(certPage + "?done=certification")
				for _, w := range []string{"<strong>failed</strong>", "No successful GET /open-banking/v3.1/aisp/accounts", "No enabled webhook endpoint"} {
					if !strings.Contains(page, w) {
						t.Errorf("portal certification page lacks %q", w)
					}
				}
			})

			res := runNode(t, "journey.mjs", map[string]string{"MODE": "traffic", "ISSUER": s.URL, "CLIENT_ID": appID,
				"CLIENT_JWK": f.Key.PrivateJSON(t), "REDIRECT_URI": redirect, "USERNAME": "alice",
				"PASSWORD": "sandbox-password-1", "CHROMIUM": chromiumPath()})
			if res.Error != nil {
				b, _ := json.MarshalIndent(res, "", "  ")
				t.Fatalf("traffic failed:\n%s", b)
			}
			if st := res.Step("account_read"); st == nil || st["status"] != float64(200) {
				t.Fatalf("account read: %+v", st)
			}
			pay := res.Step("payment")
			if pay == nil || pay["status"] != float64(201) {
				t.Fatalf("payment: %+v", pay)
			}
			hook := res.Step("webhook")
			if hook == nil || hook["test_status"] != float64(202) || hook["arrived"] != true || hook["verified"] != true || hook["recorded"] != true {
				t.Fatalf("webhook: %+v", hook)
			}

			t.Run("ok/after real traffic", func(t *testing.T) {
				run := runFromPortal(t)
				if run.Result != partners.CertPassed {
					b, _ := json.MarshalIndent(run, "", "  ")
					t.Fatalf("run not passed:\n%s", b)
				}
				wantChecks(t, run, map[string]string{certification.CheckCodeFlow: "passed", certification.CheckAccounts: "passed", certification.CheckPayment: "passed", certification.CheckWebhooks: "passed"})
				ev := map[string]map[string]any{}
				for _, c := range run.Checks {
					ev[c.Name] = c.Evidence
				}
				if ev[certification.CheckCodeFlow]["client_id"] != appID || ev[certification.CheckCodeFlow]["jkt"] == "" || ev[certification.CheckCodeFlow]["grant_id"] == "" ||
					ev[certification.CheckCodeFlow]["par_dpop_jkt"] != ev[certification.CheckCodeFlow]["jkt"] {
					t.Errorf("code flow evidence %v", ev[certification.CheckCodeFlow])
				}
				if ev[certification.CheckPayment]["interaction_id"] != pay["interaction_id"] || ev[certification.CheckPayment]["path"] != "/open-banking/v3.1/pisp/domestic-payments" {
					t.Errorf("payment evidence %v, want interaction id %v", ev[certification.CheckPayment], pay["interaction_id"])
				}
				if ev[certification.CheckAccounts]["status"] != float64(200) && ev[certification.CheckAccounts]["status"] != 200 {
					t.Errorf("account evidence %v", ev[certification.CheckAccounts])
				}
				if ev[certification.CheckWebhooks]["endpoint_id"] != hook["endpoint_id"] || ev[certification.CheckWebhooks]["event_id"] != hook["event_id"] ||
					ev[certification.CheckWebhooks]["event_type"] != "webhook.test" {
					t.Errorf("webhook evidence %v, want endpoint %v event %v", ev[certification.CheckWebhooks], hook["endpoint_id"], hook["event_id"])
				}
				p, _ := ps.Partner(ctx, f.PartnerID)
				if p.Status != partners.StatusCertified {
					t.Fatalf("status %s after a passed run", p.Status)
				}
			})

			t.Run("ok/staff see the evidence at go-live", func(t *testing.T) {
				staff := staffConsole(t, s.URL, f.Staff)
				_, _, page := staff.get("/console/partners/" + f.PartnerID)
				i := strings.Index(page, `id="golive-evidence"`)
				if i < 0 {
					t.Fatalf("no go-live evidence on the partner page:\n%s", page)
				}
				golive := page[i:]
				for _, w := range []string{"Certification evidence for go-live", f.OwnerEmail + " (partner)",
					certification.CheckCodeFlow + ": passed", certification.CheckAccounts + ": passed", certification.CheckPayment + ": passed", certification.CheckWebhooks + ": passed",
					pay["interaction_id"].(string), "Request go-live"} {
					if !strings.Contains(golive, htmlEscape(w)) {
						t.Errorf("go-live section lacks %q", w)
					}
				}
				if !strings.Contains(golive, `<span class="badge ok">passed</span>`) {
					t.Errorf("go-live section does not show the run as passed:\n%s", golive)
				}
				// The Consents section shows how alice (no second factor) authorised
				// the traffic's two consents: the console reads the apis store.
				for _, c := range []struct{ id, auth string }{
					{res.Step("account_read")["consent_id"].(string), `Password only<br><span class="muted">the customer has no second factor; ` +
						`the bank allows account access with the password alone</span>`},
					{pay["consent_id"].(string), `Exempt: low value<br><span class="muted">12.34 GBP is within the low-value limits: ` +
						`payment 1 of 5 since the last SCA, 12.34 GBP of 100.00 GBP</span>`},
				} {
					row := regexp.MustCompile(`(?s)<tr id="consent-` + regexp.QuoteMeta(c.id) + `">.*?<td data-label="Authentication">(.*?)</td>`).FindStringSubmatch(page)
					if row == nil {
						t.Errorf("consent %s is not on the partner page:\n%s", c.id, page)
					} else if row[1] != c.auth {
						t.Errorf("consent %s: authentication cell %q, want %q", c.id, row[1], c.auth)
					}
				}

				// Maker-checker: the maker cannot approve their own go-live request.
				if st, loc, body := staff.submit("/console/partners/"+f.PartnerID, "/console/partners/"+f.PartnerID+"/go-live",
					url.Values{}); st != http.StatusSeeOther {
					t.Fatalf("request go-live: %d %q\n%s", st, loc, body)
				}
				pending, err := ps.Approvals(ctx, partners.ApprovalPending)
				if err != nil || len(pending) != 1 || pending[0].Kind != partners.KindGoLive {
					t.Fatalf("pending approvals %+v %v", pending, err)
				}
				st, _, body := staff.submit("/console/partners/"+f.PartnerID, "/console/approvals/"+pending[0].ID+"/approve",
					url.Values{"partner_id": {f.PartnerID}})
				if want := "The go_live request must be decided by another staff member than the one who made it."; st != http.StatusForbidden || !strings.Contains(body, want) {
					t.Fatalf("fail/self-approval: %d, want 403 %q\n%s", st, want, body)
				}
				if !strings.Contains(body, `id="golive-evidence"`) {
					t.Errorf("the refused approval page does not show the certification evidence")
				}
				if p, _ := ps.Partner(ctx, f.PartnerID); p.Status != partners.StatusCertified {
					t.Fatalf("status %s after a refused self-approval", p.Status)
				}
			})
		})
	}
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "+", "&#43;").Replace(s)
}

func statusOf(err error) int {
	var pe *problem.Error
	if errors.As(err, &pe) {
		return pe.Status()
	}
	return 0
}

func detailOf(err error) string {
	var pe *problem.Error
	if errors.As(err, &pe) {
		return pe.Detail
	}
	return fmt.Sprint(err)
}
