package web

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/secrets"
	"github.com/bankbridge/bankbridge/partners"
	"github.com/bankbridge/bankbridge/recon"
	"github.com/bankbridge/bankbridge/risk"
	"github.com/bankbridge/bankbridge/risk/screening"
)

// pagesEnv is a real partners.Service on SQLite behind the portal and the
// console, served over HTTP.
type pagesEnv struct {
	t   *testing.T
	d   *db.DB
	svc *partners.Service
	srv *httptest.Server
	log *slog.Logger
	// screening is the console's Screening service (consoleEnvOn only).
	screening *screening.Service
	// risk and riskPay are the console's case queue and the payments it
	// drives (consoleEnvOn only).
	risk    *risk.Assessor
	riskPay *fakeRiskPayments
	// recon and reconDays are the console's reconciliation breaks and the
	// platform days they match (consoleEnvOn only).
	recon     *recon.Service
	reconDays *reconDays
}

// certEvidence stands in for apis' certification checks (another package).
type certEvidence struct{}

func (certEvidence) Checks(context.Context, string, string) ([]partners.CertificationCheck, error) {
	return []partners.CertificationCheck{{Name: "par_pkce_dpop_flow", Passed: true,
		Evidence: map[string]any{"interaction_ids": []string{"ia-1"}}}}, nil
}

// fakeRequestLog serves fixed entries for one partner and app (the request
// log belongs to apis, another package).
type fakeRequestLog struct {
	partnerID, clientID string
	got                 RequestLogFilter
}

func (f *fakeRequestLog) RequestLog(_ context.Context, partnerID, clientID string, flt RequestLogFilter) ([]RequestLogEntry, error) {
	f.got = flt
	if partnerID != f.partnerID || clientID != f.clientID {
		return nil, nil
	}
	return []RequestLogEntry{{Time: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC), Method: "GET", Path: "/open-banking/v4/accounts",
		Status: 403, Latency: 12 * time.Millisecond, InteractionID: "ia-42", ProblemType: "consent_revoked"}}, nil
}

func newPagesEnv(t *testing.T, requests RequestLogSource) *pagesEnv {
	t.Helper()
	secrets.PasswordCost = 4 // bcrypt's minimum: the tests hash many passwords
	d := dbtest.MustSQLite(t)
	box, err := secrets.NewBox(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := partners.New(partners.Config{DB: d, Box: box, Evidence: certEvidence{},
		PortalURL: "https://bank.example/portal", RegistrationURL: "https://bank.example/register"})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	gin.SetMode(gin.TestMode)
	r := gin.New()
	pages := MustRenderer()
	sessions := &Sessions{DB: d.DB}
	(&Portal{Pages: pages, Sessions: sessions, Partners: svc, DB: d.DB, DevOutbox: true, Requests: requests, Log: log,
		Personas: SandboxPersonasFunc(func() []PersonaView {
			return []PersonaView{{Username: "alice", Password: "sandbox-password-1", DisplayName: "Alice Fairweather",
				Description: "Salaried", Purpose: "The happy path"}}
		})}).Register(r)
	(&Console{Pages: pages, Sessions: sessions, Partners: svc, DB: d.DB, Log: log}).Register(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return &pagesEnv{t: t, d: d, svc: svc, srv: srv, log: log}
}

// browser is a cookie-keeping client that reads the CSRF token off pages.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
	csrf string
	url  string // the last page's path (after redirects)
}

var csrfRe = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func (e *pagesEnv) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: e.t, base: e.srv.URL, c: &http.Client{Jar: jar}}
}

func (b *browser) read(resp *http.Response, err error) (int, string) {
	b.t.Helper()
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if m := csrfRe.FindStringSubmatch(string(body)); m != nil {
		b.csrf = m[1]
	}
	b.url = resp.Request.URL.RequestURI()
	return resp.StatusCode, string(body)
}

func (b *browser) get(path string) (int, string) {
	b.t.Helper()
	return b.read(b.c.Get(b.base + path))
}

// post submits a form with the page's CSRF token.
func (b *browser) post(path string, form url.Values) (int, string) {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if b.csrf == "" {
		b.t.Fatal("no CSRF token read yet")
	}
	form.Set(CSRFField, b.csrf)
	return b.read(b.c.PostForm(b.base+path, form))
}

// postNoCSRF submits a form without the token (a forged or stale form).
func (b *browser) postNoCSRF(path string, form url.Values) (int, string) {
	b.t.Helper()
	return b.read(b.c.PostForm(b.base+path, form))
}

// want fails unless status and a text in body match.
func want(t *testing.T, name string, status int, body string, wantStatus int, wantText ...string) {
	t.Helper()
	if status != wantStatus {
		t.Fatalf("%s: status %d, want %d:\n%s", name, status, wantStatus, body)
	}
	for _, w := range wantText {
		if !strings.Contains(body, w) {
			t.Fatalf("%s: page lacks %q:\n%s", name, w, body)
		}
	}
}

const testPW = "correct horse battery"

// verifiedUser signs up (through the service) and verifies an account.
func (e *pagesEnv) verifiedUser(email, org string) (userID, partnerID string) {
	e.t.Helper()
	r, err := e.svc.SignUp(context.Background(), email, testPW, org)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.svc.VerifyEmail(context.Background(), r.VerificationToken); err != nil {
		e.t.Fatal(err)
	}
	return r.User.ID, r.Partner.ID
}

func (b *browser) signIn(email, password string) (int, string) {
	b.t.Helper()
	b.get("/portal/sign-in")
	return b.post("/portal/sign-in", url.Values{"email": {email}, "password": {password}})
}

func mustJWKS(t *testing.T) string {
	t.Helper()
	_, pub, err := partners.GenerateES256Key("k1")
	if err != nil {
		t.Fatal(err)
	}
	return string(pub)
}

var tokenRe = regexp.MustCompile(`verify-email\?token=([A-Za-z0-9_-]+)`)

func TestPortalJourney(t *testing.T) {
	e := newPagesEnv(t, nil)
	b := e.browser()

	status, body := b.get("/portal/sign-up")
	want(t, "sign-up form", status, body, 200, `<label for="email">`, `<label for="organisation">`, ">Sign up</button>")

	status, body = b.postNoCSRF("/portal/sign-up", url.Values{"email": {"dev@wallet.example"}, "password": {testPW}, "organisation": {"Wallet Ltd"}})
	want(t, "fail/csrf-missing", status, body, 403, csrfMessage)

	status, body = b.post("/portal/sign-up", url.Values{"email": {"dev@wallet.example"}, "password": {"short"}, "organisation": {"Wallet Ltd"}})
	want(t, "fail/short-password", status, body, 422, "Password must be at least 12 characters.", `value="dev@wallet.example"`)

	status, body = b.post("/portal/sign-up", url.Values{"email": {"dev@wallet.example"}, "password": {testPW}, "organisation": {"Wallet Ltd"}})
	want(t, "ok/sign-up", status, body, 200, "Check your email", `href="/portal/dev/outbox"`)

	status, body = b.post("/portal/sign-up", url.Values{"email": {"dev@wallet.example"}, "password": {testPW}, "organisation": {"Other"}})
	want(t, "ok/email-taken-looks-new", status, body, 200, "Check your email")

	status, body = b.signIn("dev@wallet.example", testPW)
	want(t, "fail/not-verified", status, body, 403, msgPortalVerifyFirst)

	status, body = b.get("/portal/dev/outbox")
	want(t, "dev outbox", status, body, 200, "Verify your Bankbridge email address", "To dev@wallet.example")
	m := tokenRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no verification link in the outbox:\n%s", body)
	}
	status, body = b.get("/portal/verify-email?token=" + m[1])
	want(t, "verify form", status, body, 200, ">Verify email</button>")
	status, body = b.post("/portal/verify-email", url.Values{"token": {m[1]}})
	want(t, "ok/verify", status, body, 200, msgEmailVerified)
	status, body = b.post("/portal/verify-email", url.Values{"token": {m[1]}})
	want(t, "fail/verify-twice", status, body, 400, "The verification link was already used.")

	status, body = b.signIn("dev@wallet.example", "wrong password!!")
	want(t, "fail/wrong-password", status, body, 401, "Unknown email or wrong password.")

	status, body = b.signIn("dev@wallet.example", testPW)
	want(t, "ok/sign-in", status, body, 200, "Wallet Ltd", `id="partner-status">Sandbox<`, "submit a partnership application")
	base := strings.TrimSuffix(b.url, "/")
	if !strings.HasPrefix(base, "/portal/orgs/ptn_") {
		t.Fatalf("signed in to %s", b.url)
	}

	status, body = b.get(base + "/apps/new")
	want(t, "new app form", status, body, 200, `<label for="redirect_uris">`, `name="scopes" value="payments"`, ">Create app</button>")
	status, body = b.post(base+"/apps", url.Values{"name": {"Wallet sandbox"}, "environment": {"sandbox"},
		"redirect_uris": {"https://wallet.example/cb\r\nhttp://localhost:3000/cb\r\n"}, "scopes": {"openid", "accounts"}, "jwks": {mustJWKS(t)}})
	want(t, "ok/create-app", status, body, 200, "App created.", `<code id="client-id">app_`, "http://localhost:3000/cb", ">Rotate credentials</button>", "<code>k1</code>")
	appPath := b.url[:strings.Index(b.url, "?")]
	clientID := appPath[strings.LastIndex(appPath, "/")+1:]

	status, body = b.post(appPath, url.Values{"name": {"Wallet sandbox 2"}, "redirect_uris": {"https://wallet.example/cb2"}, "scopes": {"openid", "payments"}})
	want(t, "ok/update-app", status, body, 200, "Changes saved.", "<h1>Wallet sandbox 2</h1>", "<code>https://wallet.example/cb2</code>", "openid payments")
	status, body = b.post(appPath, url.Values{"name": {"Wallet sandbox 2"}, "redirect_uris": {"https://wallet.example/cb2"}, "scopes": {"banking"}})
	want(t, "fail/update-app-scope", status, body, 422, "Scope &#34;banking&#34; is not one of openid accounts payments data_sharing webhooks.")

	status, body = b.post(base+"/apps", url.Values{"name": {"Prod"}, "environment": {"production"},
		"redirect_uris": {"https://wallet.example/cb"}, "scopes": {"openid"}, "jwks": {mustJWKS(t)}})
	want(t, "fail/production-before-live", status, body, 409,
		"Cannot create a production app: partner is sandbox (needs live); use the sandbox until go-live.", `value="Prod"`)

	status, body = b.post(base+"/apps", url.Values{"name": {"Bad"}, "environment": {"sandbox"},
		"redirect_uris": {"http://wallet.example/cb"}, "scopes": {"openid"}, "jwks": {mustJWKS(t)}})
	want(t, "fail/http-redirect", status, body, 422, "Redirect URI &#34;http://wallet.example/cb&#34;: http is only allowed for localhost or 127.0.0.1.")

	status, body = b.get(base + "/apps")
	want(t, "apps list", status, body, 200, "Wallet sandbox 2", clientID, `href="`+base+`/apps/new">Create app</a>`)

	status, body = b.post(base+"/registration-token", url.Values{"environment": {"sandbox"}})
	want(t, "ok/initial-access-token", status, body, 200, "shown only once", `value="bbiat_`)

	status, body = b.post(base+"/profile", url.Values{"legal_name": {"Wallet Ltd"}, "trading_name": {"Wallet"}, "website": {"http://wallet.example"}})
	want(t, "fail/profile-http-website", status, body, 422, "Website must be an absolute https URL without credentials or fragment, got &#34;http://wallet.example&#34;.", `value="Wallet"`)
	status, body = b.post(base+"/profile", url.Values{"legal_name": {"Wallet Ltd"}, "trading_name": {"Wallet"}, "country": {"gb"}})
	want(t, "ok/profile", status, body, 200, "Organisation details saved.", "<h1>Wallet</h1>")

	status, body = b.get(base + "/sandbox-customers")
	want(t, "sandbox customers", status, body, 200, "Alice Fairweather", "<code>alice</code>", "<code>sandbox-password-1</code>")

	status, body = b.get(appPath + "/requests")
	want(t, "request log unavailable", status, body, 200, "Request logs are not available yet.")

	status, body = b.post(base+"/application", url.Values{"legal_name": {"Wallet Ltd"}, "company_number": {"12345678"},
		"country": {"gb"}, "website": {"https://wallet.example"}, "intended_use": {"Account information for budgeting customers"},
		"expected_monthly_payment_value": {"2500.50"}, "currency": {"GBP"}, "contact_name": {"Dev"}, "contact_email": {"dev@wallet.example"}})
	want(t, "ok/application", status, body, 200, "Application submitted.", `id="partner-status">Applied<`)
	a, err := e.svc.LatestApplication(context.Background(), strings.TrimPrefix(base, "/portal/orgs/"))
	if err != nil || a.ExpectedMonthlyPaymentValue != 250050 || a.Country != "GB" {
		t.Fatalf("application %+v %v", a, err)
	}

	status, body = b.post(appPath+"/revoke", nil)
	want(t, "ok/revoke", status, body, 200, "App revoked.")
	status, body = b.post(appPath+"/revoke", nil)
	want(t, "fail/revoke-twice", status, body, 409, "App "+clientID+" is revoked.")

	status, body = b.post("/portal/sign-out", nil)
	want(t, "ok/sign-out", status, body, 200, msgSignedOut)
	status, body = b.get(base)
	want(t, "signed out", status, body, 200, "Sign in to the developer portal")
}

func TestPortalLockout(t *testing.T) {
	e := newPagesEnv(t, nil)
	e.verifiedUser("lock@wallet.example", "Lock Ltd")
	b := e.browser()
	for i := 1; i < partners.MaxFailedLogins; i++ {
		status, body := b.signIn("lock@wallet.example", "not the password")
		want(t, "fail/wrong-password", status, body, 401, "Unknown email or wrong password.")
	}
	status, body := b.signIn("lock@wallet.example", "not the password")
	want(t, "fail/locked-out", status, body, 429, "Too many failed sign-in attempts; please try again after ")
	status, body = b.signIn("lock@wallet.example", testPW)
	want(t, "fail/locked-even-with-right-password", status, body, 429, "Too many failed sign-in attempts; please try again after ")
}

func TestPortalRolesAndIsolation(t *testing.T) {
	requests := &fakeRequestLog{}
	e := newPagesEnv(t, requests)
	ctx := context.Background()
	ownerID, pid := e.verifiedUser("owner@wallet.example", "Wallet Ltd")
	_, otherPID := e.verifiedUser("other@rival.example", "Rival Ltd")
	app, err := e.svc.CreateApp(ctx, ownerID, pid, partners.AppInput{Name: "Wallet", Environment: "sandbox",
		RedirectURIs: []string{"https://wallet.example/cb"}, Scopes: []string{"openid"}, JWKS: []byte(mustJWKS(t))})
	if err != nil {
		t.Fatal(err)
	}
	requests.partnerID, requests.clientID = pid, app.ID
	inv, err := e.svc.Invite(ctx, ownerID, pid, "viewer@wallet.example", partners.RoleViewer)
	if err != nil {
		t.Fatal(err)
	}

	// The invited viewer creates an account from the invitation link.
	viewer := e.browser()
	status, body := viewer.get("/portal/invitations/accept?token=" + inv.Token)
	want(t, "invitation form", status, body, 200, ">Create account and join</button>")
	status, body = viewer.post("/portal/invitations/sign-up", url.Values{"token": {inv.Token}, "password": {testPW}})
	want(t, "ok/join", status, body, 200, "Wallet Ltd", "Your role: viewer")

	base := "/portal/orgs/" + pid
	status, body = viewer.get(base + "/apps")
	want(t, "viewer apps", status, body, 200, "Wallet")
	if strings.Contains(body, ">Create app<") {
		t.Fatal("a viewer is offered Create app")
	}
	status, body = viewer.post(base+"/apps", url.Values{"name": {"Sneaky"}, "environment": {"sandbox"},
		"redirect_uris": {"https://wallet.example/cb"}, "scopes": {"openid"}, "jwks": {mustJWKS(t)}})
	want(t, "fail/viewer-creates-app", status, body, 403, "Role viewer may not apps.write.sandbox.")
	status, body = viewer.get(base + "/team")
	want(t, "viewer team", status, body, 200, "owner@wallet.example", "viewer@wallet.example")
	if strings.Contains(body, ">Send invitation<") || strings.Contains(body, ">Change role<") {
		t.Fatal("a viewer is offered team management")
	}
	status, body = viewer.post(base+"/team/invite", url.Values{"email": {"x@wallet.example"}, "role": {"owner"}})
	want(t, "fail/viewer-invites", status, body, 403, "Role viewer may not team.manage.")
	status, body = viewer.get(base + "/apps/" + app.ID)
	want(t, "viewer app page", status, body, 200, app.ID)
	if strings.Contains(body, ">Revoke app<") || strings.Contains(body, ">Rotate credentials<") {
		t.Fatal("a viewer is offered app changes")
	}

	status, body = viewer.get(base + "/apps/" + app.ID + "/requests?path=accounts&status=403&interaction_id=ia-42")
	want(t, "request log", status, body, 200, "GET /open-banking/v4/accounts", "ia-42", "consent_revoked", `value="accounts"`)
	if requests.got != (RequestLogFilter{Path: "accounts", Status: 403, InteractionID: "ia-42", Limit: 100}) {
		t.Fatalf("filter %+v", requests.got)
	}
	status, body = viewer.get(base + "/apps/" + app.ID + "/requests?status=abc")
	want(t, "fail/request-log-status", status, body, 400, "Status must be an HTTP status code such as 200 or 404.")

	// Another organisation's user.
	rival := e.browser()
	status, body = rival.signIn("other@rival.example", testPW)
	want(t, "ok/rival-sign-in", status, body, 200, "Rival Ltd")
	status, body = rival.get(base + "/apps/" + app.ID)
	want(t, "fail/other-orgs-app", status, body, 404, "Partner "+pid+" not found.")
	if strings.Contains(body, "Wallet") {
		t.Fatal("another organisation's app is shown")
	}
	status, body = rival.get("/portal/orgs/" + otherPID + "/apps/" + app.ID)
	want(t, "fail/other-orgs-app-under-own-org", status, body, 404, "App "+app.ID+" not found.")
	status, body = rival.post(base+"/apps/"+app.ID+"/revoke", nil)
	want(t, "fail/revoke-other-orgs-app", status, body, 404, "Partner "+pid+" not found.")
	if a, _ := e.svc.App(ctx, app.ID); a.Status != partners.AppActive {
		t.Fatal("another organisation revoked the app")
	}

	// The owner changes the viewer to developer, who may then create sandbox apps.
	owner := e.browser()
	owner.signIn("owner@wallet.example", testPW)
	members, _ := e.svc.Team(ctx, ownerID, pid)
	var viewerID string
	for _, m := range members {
		if m.Role == partners.RoleViewer {
			viewerID = m.UserID
		}
	}
	status, body = owner.post(base+"/team/"+ownerID+"/role", url.Values{"role": {"developer"}})
	want(t, "fail/last-owner", status, body, 409, "The organisation must keep at least one owner.")
	status, body = owner.post(base+"/team/"+viewerID+"/role", url.Values{"role": {"developer"}})
	want(t, "ok/change-role", status, body, 200, "Role changed.")
	if status, _ = viewer.get(base + "/apps/new"); status != 200 {
		t.Fatalf("developer opens the new-app form: %d", status)
	}
	status, body = viewer.post(base+"/apps", url.Values{"name": {"Dev app"}, "environment": {"sandbox"},
		"redirect_uris": {"https://wallet.example/cb"}, "scopes": {"openid"}, "jwks": {mustJWKS(t)}})
	want(t, "ok/developer-creates-app", status, body, 200, "App created.")

	// A signed-in user of another organisation accepts an invitation.
	inv2, err := e.svc.Invite(ctx, ownerID, pid, "other@rival.example", partners.RoleDeveloper)
	if err != nil {
		t.Fatal(err)
	}
	status, body = rival.get("/portal/invitations/accept?token=" + inv2.Token)
	want(t, "invitation for a signed-in user", status, body, 200, "You are signed in as other@rival.example", ">Accept invitation</button>")
	status, body = rival.post("/portal/invitations/accept", url.Values{"token": {inv2.Token}})
	want(t, "ok/accept-invitation", status, body, 200, "Wallet Ltd", "Your role: developer", "Your other organisations", "Rival Ltd")
	status, body = rival.post("/portal/invitations/accept", url.Values{"token": {inv2.Token}})
	want(t, "fail/accept-twice", status, body, 400, "The invitation was already accepted.")
}
