package web

import (
	"bytes"
	"context"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/ids"
	"github.com/bankbridge/bankbridge/internal/secrets"
	"github.com/bankbridge/bankbridge/partners"
	"github.com/bankbridge/bankbridge/webhooks"
)

// received is one request a test receiver got.
type received struct {
	path   string
	header http.Header
	body   []byte
}

// webhooksEnv is the portal with its webhook pages over a real partners and
// webhooks service on SQLite, a running dispatcher and a real receiver.
type webhooksEnv struct {
	*pagesEnv
	wh   *webhooks.Service
	recv *httptest.Server
	got  chan received
}

func newWebhooksEnv(t *testing.T) *webhooksEnv {
	t.Helper()
	secrets.PasswordCost = 4
	d := dbtest.MustSQLite(t)
	box, err := secrets.NewBox(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := partners.New(partners.Config{DB: d, Box: box, Evidence: certEvidence{},
		PortalURL: "https://bank.example/portal", RegistrationURL: "https://bank.example/register"})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	wh, err := webhooks.NewService(webhooks.Config{DB: d, Box: box, AllowLoopback: true, Logger: log})
	if err != nil {
		t.Fatal(err)
	}

	// The receiver answers 410 Gone on /gone (the endpoint is then disabled)
	// and 200 elsewhere.
	got := make(chan received, 64)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- received{path: r.URL.Path, header: r.Header.Clone(), body: b}
		if r.URL.Path == "/gone" {
			w.WriteHeader(http.StatusGone)
			return
		}
		io.WriteString(w, "thanks")
	}))
	t.Cleanup(recv.Close)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	disp := webhooks.NewDispatcher(wh, webhooks.DispatcherOptions{Workers: 2, PollInterval: 50 * time.Millisecond})
	go func() { defer close(done); disp.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	gin.SetMode(gin.TestMode)
	r := gin.New()
	sessions := &Sessions{DB: d.DB}
	portal := &Portal{Pages: MustRenderer(), Sessions: sessions, Partners: svc, DB: d.DB, Log: log}
	portal.Register(r)
	(&PortalWebhooks{Portal: portal, Webhooks: wh}).Register(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return &webhooksEnv{pagesEnv: &pagesEnv{t: t, d: d, svc: svc, srv: srv, log: log}, wh: wh, recv: recv, got: got}
}

// next waits for the receiver's next request of event type typ (others are
// skipped). The deadline only guards against a hang.
func (e *webhooksEnv) next(t *testing.T, typ string) received {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case r := <-e.got:
			if strings.Contains(string(r.body), `"type":"`+typ+`"`) {
				return r
			}
		case <-deadline:
			t.Fatalf("the receiver got no %s event", typ)
		}
	}
}

// eventually GETs path until its body contains text (the dispatcher records
// an attempt after the receiver answered). The deadline only guards against a
// hang.
func eventually(t *testing.T, b *browser, path, text string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		status, body := b.get(path)
		if status == http.StatusOK && strings.Contains(body, text) {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never showed %q:\n%s", path, text, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var (
	secretRe    = regexp.MustCompile(`id="secret" value="([^"]+)"`)
	publicKeyRe = regexp.MustCompile(`id="public_key" value="([^"]+)"`)
	endpointRe  = regexp.MustCompile(`<code id="endpoint-id">(whe_[A-Za-z0-9]+)</code>`)
)

func TestPortalWebhooks(t *testing.T) {
	e := newWebhooksEnv(t)
	ctx := context.Background()
	ownerID, pid := e.verifiedUser("owner@wallet.example", "Wallet Ltd")
	rivalID, rivalPID := e.verifiedUser("rival@rival.example", "Rival Ltd")
	app, err := e.svc.CreateApp(ctx, ownerID, pid, partners.AppInput{Name: "Wallet", Environment: "sandbox",
		RedirectURIs: []string{"https://wallet.example/cb"}, Scopes: []string{"openid"}, JWKS: []byte(mustJWKS(t))})
	if err != nil {
		t.Fatal(err)
	}
	rivalApp, err := e.svc.CreateApp(ctx, rivalID, rivalPID, partners.AppInput{Name: "Rival", Environment: "sandbox",
		RedirectURIs: []string{"https://rival.example/cb"}, Scopes: []string{"openid"}, JWKS: []byte(mustJWKS(t))})
	if err != nil {
		t.Fatal(err)
	}
	appPath := "/portal/orgs/" + pid + "/apps/" + app.ID
	hooks := appPath + "/webhooks"

	owner := e.browser()
	owner.signIn("owner@wallet.example", testPW)
	status, body := owner.get(appPath)
	want(t, "app page links webhooks", status, body, 200, `href="`+hooks+`">Webhooks</a>`)
	status, body = owner.get(hooks)
	want(t, "webhooks page", status, body, 200, "No endpoints yet.", `<label for="url">`, `<label class="inline" for="ev-payment.created">`,
		`<label for="description">`, `<label class="inline" for="signing-ed25519">`, `<label for="event_id">`, ">Add endpoint</button>")

	// Refusals of the create form.
	hookURL := e.recv.URL + "/hook"
	status, body = owner.postNoCSRF(hooks, url.Values{"url": {hookURL}, "event_types": {"payment.created"}})
	want(t, "fail/csrf-missing", status, body, 403, csrfMessage)
	status, body = owner.post(hooks, url.Values{"url": {"ftp://hooks.example/in"}, "event_types": {"payment.created"}, "description": {"Ledger"}})
	want(t, "fail/invalid-url", status, body, 422, "Url must be an absolute http(s) URL.", `value="ftp://hooks.example/in"`, `value="Ledger"`)
	status, body = owner.post(hooks, url.Values{"url": {hookURL}})
	want(t, "fail/no-events", status, body, 422, "Event_types must list at least one event type.")
	status, body = owner.post(hooks, url.Values{"url": {hookURL}, "event_types": {"payment.created"}, "signing": {"rsa"}})
	want(t, "fail/signing", status, body, 422, "Signing must be &#34;hmac-sha256&#34; or &#34;ed25519&#34;.")

	// Create: the secret is shown once.
	status, body = owner.post(hooks, url.Values{"url": {hookURL}, "event_types": {"payment.created", "consent.revoked"},
		"description": {"Ledger"}, "signing": {"hmac-sha256"}})
	want(t, "ok/create", status, body, 200, "Endpoint created.", "Copy it now: it is shown only once.", ">Send test event</button>")
	m := secretRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no secret shown:\n%s", body)
	}
	secret := html.UnescapeString(m[1])
	if !strings.HasPrefix(secret, webhooks.SecretPrefix) {
		t.Fatalf("secret %q", secret)
	}
	eid := endpointRe.FindStringSubmatch(body)[1]
	epPath := hooks + "/" + eid
	for _, p := range []string{epPath, hooks} {
		status, body = owner.get(p)
		want(t, "reload "+p, status, body, 200, eid)
		if strings.Contains(body, m[1]) || strings.Contains(body, "shown only once") {
			t.Fatalf("%s shows the secret again:\n%s", p, body)
		}
	}
	want(t, "list", status, body, 200, "<code>"+hookURL+"</code>", "consent.revoked, payment.created", "hmac-sha256", "none yet")

	// Send a test event: the receiver verifies it with the shown secret.
	status, body = owner.post(epPath+"/test", nil)
	want(t, "ok/send-test", status, body, 200, "Test event queued.")
	r := e.next(t, webhooks.TestEventType)
	if r.path != "/hook" {
		t.Fatalf("delivered to %s", r.path)
	}
	if err := webhooks.Verify(secret, r.header, r.body, 5*time.Minute); err != nil {
		t.Fatalf("verify with the shown secret: %v", err)
	}
	logPath := epPath + "/log"
	body = eventually(t, owner, logPath, `<span class="badge ok">200</span>`)
	want(t, "delivery log", 200, body, 200, "<code>webhook.test</code>", "<code>"+r.header.Get("webhook-id")+"</code>", "attempt 1",
		"<code class=\"wrap\">thanks</code>", " ms</td>", `<label for="event_id">`, `<label class="inline" for="failed_only">`)
	status, body = owner.get(logPath + "?failed_only=1")
	want(t, "delivery log failed only", status, body, 200, "No attempts match.")
	status, body = owner.get(logPath + "?event_id=" + r.header.Get("webhook-id"))
	want(t, "delivery log by event", status, body, 200, "attempt 1")
	status, body = owner.get(logPath + "?before=x")
	want(t, "fail/log-cursor", status, body, 400, "The page link is not valid.")
	eventually(t, owner, hooks, `<span class="badge ok">succeeded</span> · HTTP 200`)

	// A published event, replayed one by one and by range.
	evID := ids.New("evt")
	if err := e.wh.Publish(ctx, e.d.DB, webhooks.Event{ID: evID, Type: "payment.created", PartnerID: pid, AppID: app.ID,
		Data: map[string]any{"payment_id": "pay_1"}}); err != nil {
		t.Fatal(err)
	}
	first := e.next(t, "payment.created")
	status, body = owner.post(hooks+"/replay", url.Values{"event_id": {evID}})
	want(t, "ok/replay-event", status, body, 200, "1 delivery queued.")
	again := e.next(t, "payment.created")
	if again.header.Get("webhook-id") != first.header.Get("webhook-id") || again.header.Get("webhook-id") != evID {
		t.Fatalf("replayed as %s, first %s", again.header.Get("webhook-id"), first.header.Get("webhook-id"))
	}
	status, body = owner.post(hooks+"/replay", url.Values{"event_id": {"evt_nope"}})
	want(t, "fail/replay-unknown-event", status, body, 404, "Event evt_nope not found.", `value="evt_nope"`)
	from := time.Now().UTC().Add(-time.Hour).Format(formTime)
	to := time.Now().UTC().Add(time.Hour).Format(formTime)
	status, body = owner.post(epPath+"/replay", url.Values{"from": {from}, "to": {to}})
	want(t, "ok/replay-range", status, body, 200, "1 delivery queued.")
	e.next(t, "payment.created")
	status, body = owner.post(epPath+"/replay", url.Values{"from": {from}, "to": {to}})
	want(t, "fail/replay-range-again-within-a-minute", status, body, 429,
		"Webhook endpoint "+eid+" may have one range replay per minute; try again in ")
	status, body = owner.post(epPath+"/replay", url.Values{"from": {to}, "to": {from}, "failed_only": {"1"}})
	want(t, "fail/replay-range-order", status, body, 422, "Replay range must have from before to.")
	status, body = owner.post(epPath+"/replay", url.Values{"from": {"yesterday"}, "to": {to}})
	want(t, "fail/replay-range-time", status, body, 422, msgReplayTimes, `value="yesterday"`)

	// Edit, rotate.
	status, body = owner.post(epPath, url.Values{"url": {hookURL}, "event_types": {"payment.created"}, "description": {"Ledger 2"}})
	want(t, "ok/disable", status, body, 200, "Changes saved.", `<span class="badge bad">disabled</span>`, "Ledger 2")
	status, body = owner.post(epPath+"/test", nil)
	want(t, "fail/test-disabled", status, body, 409, "Webhook endpoint "+eid+" is disabled; enable it to send a test event.")
	status, body = owner.post(epPath, url.Values{"url": {"http://93.184.216.34/in"}, "event_types": {"payment.created"}, "enabled": {"1"}})
	want(t, "fail/update-url", status, body, 422, "Url must use https.", `value="http://93.184.216.34/in"`)
	status, body = owner.post(epPath, url.Values{"url": {hookURL}, "event_types": {"payment.created"}, "enabled": {"1"}})
	want(t, "ok/enable", status, body, 200, "Changes saved.", `<span class="badge ok">enabled</span>`)
	status, body = owner.post(epPath+"/rotate", url.Values{"overlap_hours": {"24"}})
	want(t, "ok/rotate", status, body, 200, "Secret rotated.", "Copy it now: it is shown only once.", "keeps signing until")
	m2 := secretRe.FindStringSubmatch(body)
	if m2 == nil || m2[1] == m[1] {
		t.Fatalf("no new secret shown:\n%s", body)
	}
	status, body = owner.post(epPath+"/rotate", url.Values{"overlap_hours": {"9999"}})
	want(t, "fail/rotate-overlap", status, body, 422, "Choose how long the previous secret keeps signing.")
	status, body = owner.post(epPath+"/test", nil)
	want(t, "ok/test-after-rotate", status, body, 200, "Test event queued.")
	r = e.next(t, webhooks.TestEventType)
	if err := webhooks.Verify(html.UnescapeString(m2[1]), r.header, r.body, 5*time.Minute); err != nil {
		t.Fatalf("verify with the rotated secret: %v", err)
	}

	// Ed25519 signing shows the public key instead.
	status, body = owner.post(hooks, url.Values{"url": {hookURL}, "event_types": {"statement.issued"}, "signing": {"ed25519"}})
	want(t, "ok/create-ed25519", status, body, 200, "Endpoint created.", "Public key (key ID")
	if pk := publicKeyRe.FindStringSubmatch(body); pk == nil || !strings.HasPrefix(pk[1], webhooks.PublicKeyPrefix) {
		t.Fatalf("no public key shown:\n%s", body)
	}

	// An endpoint answering 410 is disabled and the partner gets a notice.
	status, body = owner.post(hooks, url.Values{"url": {e.recv.URL + "/gone"}, "event_types": {"payment.created"}})
	want(t, "ok/create-gone", status, body, 200, "Endpoint created.")
	goneID := endpointRe.FindStringSubmatch(body)[1]
	owner.post(hooks+"/"+goneID+"/test", nil)
	body = eventually(t, owner, hooks, "Webhook endpoint disabled")
	want(t, "notice", 200, body, 200, goneID, "the endpoint answered 410 Gone", `<span class="badge bad">unread</span>`, ">Mark as read</button>")
	ns, err := e.wh.Notices(ctx, pid, true)
	if err != nil || len(ns) != 1 {
		t.Fatalf("notices %v %v", ns, err)
	}
	status, body = owner.post(hooks+"/notices/"+ns[0].ID+"/read", nil)
	want(t, "ok/mark-read", status, body, 200, "Notice marked as read.", "Webhook endpoint disabled")
	if strings.Contains(body, ">Mark as read</button>") {
		t.Fatal("a read notice still offers Mark as read")
	}
	status, body = owner.post(hooks+"/notices/ntc_nope/read", nil)
	want(t, "fail/mark-unknown-notice", status, body, 404, "Notice ntc_nope not found.")

	// A viewer reads but may not change anything.
	inv, err := e.svc.Invite(ctx, ownerID, pid, "viewer@wallet.example", partners.RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	viewer := e.browser()
	viewer.get("/portal/invitations/accept?token=" + inv.Token)
	status, body = viewer.post("/portal/invitations/sign-up", url.Values{"token": {inv.Token}, "password": {testPW}})
	want(t, "ok/viewer-joins", status, body, 200, "Your role: viewer")
	status, body = viewer.get(hooks)
	want(t, "viewer webhooks page", status, body, 200, "<code>"+hookURL+"</code>", "Webhook endpoint disabled")
	for _, w := range []string{">Add endpoint<", ">Replay event<", ">Mark as read<"} {
		if strings.Contains(body, w) {
			t.Fatalf("a viewer is offered %s", w)
		}
	}
	status, body = viewer.get(epPath)
	want(t, "viewer endpoint page", status, body, 200, eid)
	for _, w := range []string{">Send test event<", ">Save changes<", ">Rotate secret<", ">Delete endpoint<", ">Replay range<"} {
		if strings.Contains(body, w) {
			t.Fatalf("a viewer is offered %s", w)
		}
	}
	status, body = viewer.get(logPath)
	want(t, "viewer delivery log", status, body, 200, "<code>webhook.test</code>")
	forged := []struct {
		name, path string
		form       url.Values
	}{
		{"fail/viewer-creates", hooks, url.Values{"url": {hookURL}, "event_types": {"payment.created"}}},
		{"fail/viewer-sends-test", epPath + "/test", nil},
		{"fail/viewer-rotates", epPath + "/rotate", url.Values{"overlap_hours": {"0"}}},
		{"fail/viewer-deletes", epPath + "/delete", nil},
		{"fail/viewer-replays", hooks + "/replay", url.Values{"event_id": {evID}}},
		{"fail/viewer-replays-range", epPath + "/replay", url.Values{"from": {from}, "to": {to}}},
		{"fail/viewer-updates", epPath, url.Values{"url": {hookURL}, "event_types": {"payment.created"}}},
		{"fail/viewer-marks-notice", hooks + "/notices/" + ns[0].ID + "/read", nil},
	}
	for _, f := range forged {
		status, body = viewer.post(f.path, f.form)
		want(t, f.name, status, body, 403, "Role viewer may not apps.write.sandbox.")
	}
	if eps, _ := e.wh.ListEndpoints(ctx, webhooks.Scope{PartnerID: pid, AppID: app.ID}); len(eps) != 3 {
		t.Fatalf("endpoints after the viewer's forged forms: %d", len(eps))
	}

	// Another organisation's member.
	rival := e.browser()
	rival.signIn("rival@rival.example", testPW)
	status, body = rival.get(hooks)
	want(t, "fail/other-orgs-webhooks", status, body, 404, "Partner "+pid+" not found.")
	if strings.Contains(body, hookURL) {
		t.Fatal("another organisation's endpoints are shown")
	}
	status, body = rival.get(logPath)
	want(t, "fail/other-orgs-log", status, body, 404, "Partner "+pid+" not found.")
	status, body = rival.post(epPath+"/delete", nil)
	want(t, "fail/other-orgs-delete", status, body, 404, "Partner "+pid+" not found.")
	status, body = rival.get("/portal/orgs/" + rivalPID + "/apps/" + app.ID + "/webhooks")
	want(t, "fail/other-orgs-app-under-own-org", status, body, 404, "App "+app.ID+" not found.")
	rivalHooks := "/portal/orgs/" + rivalPID + "/apps/" + rivalApp.ID + "/webhooks"
	status, body = rival.get(rivalHooks + "/" + eid)
	want(t, "fail/other-orgs-endpoint-under-own-app", status, body, 404, "Webhook endpoint "+eid+" not found.")
	status, body = rival.get(rivalHooks + "/" + eid + "/log")
	want(t, "fail/other-orgs-log-under-own-app", status, body, 404, "Webhook endpoint "+eid+" not found.")
	status, body = rival.post(rivalHooks+"/"+eid+"/delete", nil)
	want(t, "fail/other-orgs-delete-under-own-app", status, body, 404, "Webhook endpoint "+eid+" not found.")
	status, body = rival.post(rivalHooks+"/notices/"+ns[0].ID+"/read", nil)
	want(t, "fail/other-orgs-notice", status, body, 404, "Notice "+ns[0].ID+" not found.")

	// Delete.
	status, body = owner.post(epPath+"/delete", nil)
	want(t, "ok/delete", status, body, 200, "Endpoint deleted.")
	if n := strings.Count(body, "<code>"+hookURL+"</code>"); n != 1 { // the Ed25519 endpoint remains
		t.Fatalf("the deleted endpoint is still listed:\n%s", body)
	}
	status, body = owner.get(epPath)
	want(t, "fail/deleted-endpoint", status, body, 404, "Webhook endpoint "+eid+" not found.")
}
