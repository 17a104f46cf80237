package web

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/internal/secrets"
	"github.com/bankbridge/bankbridge/partners"
)

// fakeResetter stands in for apis' sandbox reset (another package): it
// records who asked and answers with result or err.
type fakeResetter struct {
	mu     sync.Mutex
	calls  []string // "partnerID userID"
	result SandboxResetResult
	err    error
}

func (f *fakeResetter) ResetSandbox(_ context.Context, partnerID, userID string) (*SandboxResetResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, partnerID+" "+userID)
	if f.err != nil {
		return nil, f.err
	}
	r := f.result
	return &r, nil
}

func (f *fakeResetter) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// newSandboxResetEnv is the portal over a real partners.Service on SQLite
// with reset wired to reset (nil: not available).
func newSandboxResetEnv(t *testing.T, reset SandboxResetter) *pagesEnv {
	t.Helper()
	secrets.PasswordCost = 4
	d := dbtest.MustSQLite(t)
	box, err := secrets.NewBox(bytes.Repeat([]byte{5}, 32))
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
	p := &Portal{Pages: MustRenderer(), Sessions: &Sessions{DB: d.DB}, Partners: svc, DB: d.DB, Log: log,
		Personas: SandboxPersonasFunc(func() []PersonaView {
			return []PersonaView{{Username: "alice", Password: "sandbox-password-1", DisplayName: "Alice Fairweather"},
				{Username: "hana.totp", Password: "sandbox-password-1", DisplayName: "Hana Sato", TOTPSecret: "BMDNPK4343MSOHIOY4YDFODPIZI6P4HK",
					TOTPURI: "otpauth://totp/Bankbridge:hana.totp?algorithm=SHA1&digits=6&issuer=Bankbridge&period=30&secret=BMDNPK4343MSOHIOY4YDFODPIZI6P4HK"}}
		})}
	if reset != nil {
		p.SandboxReset = reset
	}
	p.Register(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return &pagesEnv{t: t, d: d, svc: svc, srv: srv, log: log}
}

// member invites email with role to the owner's partner and returns a
// browser signed in as the new member.
func (e *pagesEnv) member(ownerID, partnerID, email string, role partners.Role) *browser {
	e.t.Helper()
	inv, err := e.svc.Invite(context.Background(), ownerID, partnerID, email, role)
	if err != nil {
		e.t.Fatal(err)
	}
	b := e.browser()
	b.get("/portal/invitations/accept?token=" + inv.Token)
	status, body := b.post("/portal/invitations/sign-up", url.Values{"token": {inv.Token}, "password": {testPW}})
	want(e.t, "join as "+string(role), status, body, 200, "Your role: "+string(role))
	return b
}

func TestPortalSandboxReset(t *testing.T) {
	reset := &fakeResetter{result: SandboxResetResult{ConsentsRevoked: 2, PaymentsReversed: 3, RequestLogDeleted: 14,
		IdempotencyKeysDeleted: 1}}
	e := newSandboxResetEnv(t, reset)
	ownerID, pid := e.verifiedUser("owner@wallet.example", "Wallet Ltd")
	base := "/portal/orgs/" + pid
	page := base + "/sandbox-customers"
	action := page + "/reset"
	owner := e.browser()
	owner.signIn("owner@wallet.example", testPW)
	viewer := e.member(ownerID, pid, "viewer@wallet.example", partners.RoleViewer)
	developer := e.member(ownerID, pid, "dev@wallet.example", partners.RoleDeveloper)
	developerID := ""
	members, _ := e.svc.Team(context.Background(), ownerID, pid)
	for _, m := range members {
		if m.Role == partners.RoleDeveloper {
			developerID = m.UserID
		}
	}
	rival := e.browser()
	e.verifiedUser("rival@rival.example", "Rival Ltd")
	rival.signIn("rival@rival.example", testPW)

	status, body := owner.get(page)
	want(t, "owner's page", status, body, 200, "Alice Fairweather", `<a href="/sandbox/customer">sandbox customer dashboard</a>`,
		`<h2 id="reset-h">Reset sandbox data</h2>`,
		"shared by every partner", `action="`+action+`"`, `name="confirm" value="yes" required`, ">Reset sandbox data</button>")
	status, body = viewer.get(page)
	want(t, "viewer's page", status, body, 200, `<h2 id="reset-h">Reset sandbox data</h2>`,
		"Only owners and developers of your organisation can reset its sandbox data.")
	if strings.Contains(body, ">Reset sandbox data</button>") {
		t.Fatal("a viewer is offered the reset")
	}

	confirmed := url.Values{"confirm": {"yes"}}
	for _, tc := range []struct {
		name       string
		do         func() (int, string)
		status     int
		text       []string
		wantCalled string // "" when the reset must not run
	}{
		{"fail/viewer", func() (int, string) { return viewer.post(action, confirmed) }, 403,
			[]string{"Role viewer may not apps.write.sandbox."}, ""},
		{"fail/missing-confirmation", func() (int, string) { return owner.post(action, url.Values{}) }, 422,
			[]string{msgResetConfirm, `name="confirm" value="yes" required`}, ""},
		{"fail/wrong-confirmation", func() (int, string) { return owner.post(action, url.Values{"confirm": {"on"}}) }, 422,
			[]string{msgResetConfirm}, ""},
		{"fail/csrf-missing", func() (int, string) { return owner.postNoCSRF(action, confirmed) }, 403,
			[]string{csrfMessage}, ""},
		{"fail/get", func() (int, string) { return owner.get(action) }, 404, nil, ""},
		{"fail/other-organisation", func() (int, string) { rival.get("/portal"); return rival.post(action, confirmed) }, 404,
			[]string{"Partner " + pid + " not found."}, ""},
		{"ok/owner", func() (int, string) { owner.get(page); return owner.post(action, confirmed) }, 200,
			[]string{`<p class="flash" role="status">Sandbox data reset: 2 consents revoked, 3 payments reversed, 14 request log entries and 1 idempotency key deleted.</p>`,
				"Alice Fairweather"}, pid + " " + ownerID},
		{"ok/developer", func() (int, string) { developer.get(page); return developer.post(action, confirmed) }, 200,
			[]string{"Sandbox data reset: 2 consents revoked"}, pid + " " + developerID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := reset.count()
			status, body := tc.do()
			want(t, tc.name, status, body, tc.status, tc.text...)
			switch {
			case tc.wantCalled == "" && reset.count() != before:
				t.Fatalf("the reset ran: %v", reset.calls)
			case tc.wantCalled != "" && (reset.count() != before+1 || reset.calls[before] != tc.wantCalled):
				t.Fatalf("reset calls %v, want one more: %q", reset.calls, tc.wantCalled)
			}
		})
	}

	t.Run("ok/messages", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			in   SandboxResetResult
			want string
		}{
			{"ok/nothing", SandboxResetResult{}, "Sandbox data reset: 0 consents revoked, 0 payments reversed, 0 request log entries and 0 idempotency keys deleted."},
			{"ok/singular", SandboxResetResult{ConsentsRevoked: 1, PaymentsReversed: 1, RequestLogDeleted: 1, IdempotencyKeysDeleted: 1},
				"Sandbox data reset: 1 consent revoked, 1 payment reversed, 1 request log entry and 1 idempotency key deleted."},
			{"ok/core-cannot-reverse", SandboxResetResult{ConsentsRevoked: 1, ReversalUnsupported: true},
				"Sandbox data reset: 1 consent revoked, no payments reversed (this bank's core cannot reverse payments), 0 request log entries and 0 idempotency keys deleted."},
			{"ok/some-not-reversed", SandboxResetResult{PaymentsReversed: 2, PaymentsNotReversed: 1},
				"Sandbox data reset: 0 consents revoked, 2 payments reversed, 0 request log entries and 0 idempotency keys deleted. 1 payment was not reversed: an account involved is not a sandbox test customer's."},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if got := resetMessage(&tc.in); got != tc.want {
					t.Fatalf("message\n %q\nwant %q", got, tc.want)
				}
			})
		}
	})

	t.Run("fail/service-refuses", func(t *testing.T) {
		reset.mu.Lock()
		reset.err = problem.New(problem.CodeConflict, "payment pay_1 is still pending at the bank; nothing else was reversed, try the reset again in a moment")
		reset.mu.Unlock()
		owner.get(page)
		status, body := owner.post(action, confirmed)
		want(t, "service refuses", status, body, 409,
			"Payment pay_1 is still pending at the bank; nothing else was reversed, try the reset again in a moment.")
		if strings.Contains(body, "Sandbox data reset:") {
			t.Fatal("a failed reset shows the success message")
		}
	})

	t.Run("fail/not-available", func(t *testing.T) {
		e := newSandboxResetEnv(t, nil)
		e.verifiedUser("solo@wallet.example", "Solo Ltd")
		b := e.browser()
		status, body := b.signIn("solo@wallet.example", testPW)
		want(t, "sign in", status, body, 200, "Solo Ltd")
		page := strings.TrimSuffix(b.url, "/") + "/sandbox-customers"
		status, body = b.get(page)
		want(t, "page", status, body, 200, msgResetUnavailable)
		if strings.Contains(body, ">Reset sandbox data</button>") {
			t.Fatal("the reset is offered without a resetter")
		}
		status, body = b.post(page+"/reset", confirmed)
		want(t, "post", status, body, 404, msgResetUnavailable)
	})
}

func TestPortalSandboxPersonasSecondFactor(t *testing.T) {
	e := newSandboxResetEnv(t, nil)
	_, pid := e.verifiedUser("owner@wallet.example", "Wallet Ltd")
	b := e.browser()
	b.signIn("owner@wallet.example", testPW)
	status, body := b.get("/portal/orgs/" + pid + "/sandbox-customers")
	for name, text := range map[string]string{
		"ok/totp-persona-shows-secret-and-uri": `<td data-label="Second factor">Authenticator app (TOTP)<br>Secret: <code>BMDNPK4343MSOHIOY4YDFODPIZI6P4HK</code>` +
			`<br><span class="muted">otpauth URI:</span> <code>otpauth://totp/Bankbridge:hana.totp?algorithm=SHA1&amp;digits=6&amp;issuer=Bankbridge&amp;period=30&amp;secret=BMDNPK4343MSOHIOY4YDFODPIZI6P4HK</code></td>`,
		"ok/persona-without-factor": `<td data-label="Password"><code>sandbox-password-1</code></td>
    <td data-label="Second factor"><span class="muted">None</span></td>`,
	} {
		t.Run(name, func(t *testing.T) { want(t, name, status, body, 200, text) })
	}
}
