package partners

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/internal/secrets"
	"github.com/bankbridge/bankbridge/partners/staff"
)

func TestMain(m *testing.M) {
	secrets.PasswordCost = 4 // bcrypt's minimum: tests hash many passwords
	os.Exit(m.Run())
}

var ctx = context.Background()

// testClock is a settable clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// recPublisher records events published in transactions (webhooks is another
// package; only the call contract matters here).
type recPublisher struct {
	mu     sync.Mutex
	events []string
}

func (p *recPublisher) Publish(_ context.Context, tx *gorm.DB, eventType, partnerID, appID string, data map[string]any) error {
	if tx == nil {
		return errors.New("no tx")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, eventType+" "+partnerID+" "+appID+" "+mustJSON(data))
	return nil
}

func (p *recPublisher) list() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.events...)
}

// recRevoker records RevokeClient calls (the oauth server is another package).
type recRevoker struct {
	mu      sync.Mutex
	clients []string
}

func (r *recRevoker) RevokeConsent(context.Context, string) error { return nil }
func (r *recRevoker) RevokeClient(_ context.Context, id string) error {
	r.mu.Lock()
	r.clients = append(r.clients, id)
	r.mu.Unlock()
	return nil
}
func (r *recRevoker) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.clients...)
}

type fixedEvidence struct{ checks []CertificationCheck }

func (e *fixedEvidence) Checks(context.Context, string, string) ([]CertificationCheck, error) {
	return e.checks, nil
}

type contractSet struct {
	mu sync.Mutex
	m  map[string]bool
}

func (c *contractSet) HasActiveContract(_ context.Context, id string) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[id], nil
}

var passingChecks = []CertificationCheck{
	{Name: "par_pkce_dpop_flow", Passed: true, Evidence: map[string]any{"interaction_ids": []string{"a"}}},
	{Name: "accounts_read", Passed: true},
}

type env struct {
	t     *testing.T
	d     *db.DB
	s     *Service
	clock *testClock
	pub   *recPublisher
	rev   *recRevoker
	ev    *fixedEvidence
	cfg   Config
}

// newEnv builds a Service on d with recording fakes at its edges; edits
// change its Config first.
func newEnv(t *testing.T, d *db.DB, edits ...func(*Config)) *env {
	t.Helper()
	box, err := secrets.NewBox(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, d: d, clock: &testClock{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)},
		pub: &recPublisher{}, rev: &recRevoker{}, ev: &fixedEvidence{checks: passingChecks}}
	e.cfg = Config{DB: d, Box: box, Now: e.clock.now, Publisher: e.pub, Revoker: e.rev, Evidence: e.ev,
		PortalURL: "https://bank.example/portal", RegistrationURL: "https://bank.example/register"}
	e.rebuild(edits...)
	return e
}

// rebuild replaces e.s with a Service on the same database whose Config is
// e's after edits (services take their collaborators at construction only).
func (e *env) rebuild(edits ...func(*Config)) {
	e.t.Helper()
	for _, edit := range edits {
		edit(&e.cfg)
	}
	s, err := New(e.cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.s = s
}

const testPassword = "correct horse battery"

// signUp creates a user and partner; returns their ids.
func (e *env) signUp(email, org string) (string, string) {
	e.t.Helper()
	r, err := e.s.SignUp(ctx, email, testPassword, org)
	if err != nil {
		e.t.Fatalf("SignUp: %v", err)
	}
	return r.User.ID, r.Partner.ID
}

// member adds a user with role to partnerID through an invitation.
func (e *env) member(ownerID, partnerID, email string, role Role) string {
	e.t.Helper()
	inv, err := e.s.Invite(ctx, ownerID, partnerID, email, role)
	if err != nil {
		e.t.Fatalf("Invite: %v", err)
	}
	u, err := e.s.SignUpWithInvitation(ctx, inv.Token, testPassword)
	if err != nil {
		e.t.Fatalf("SignUpWithInvitation: %v", err)
	}
	return u.ID
}

// staff creates a staff member and returns the id and TOTP secret.
func (e *env) staff(role staff.Role) (string, string) {
	e.t.Helper()
	n, err := e.s.Staff().Bootstrap(ctx, string(role)+"."+randSuffix()+"@bank.example", role)
	if err != nil {
		e.t.Fatalf("Bootstrap: %v", err)
	}
	return n.Staff.ID, n.TOTPSecret
}

var suffixN int
var suffixMu sync.Mutex

func randSuffix() string {
	suffixMu.Lock()
	defer suffixMu.Unlock()
	suffixN++
	return string(rune('a'+suffixN%26)) + time.Now().Format("150405.000000000")
}

// force sets a partner's status directly (test setup of lifecycle states).
func (e *env) force(partnerID string, st Status, from Status) {
	e.t.Helper()
	if err := e.d.Model(&Partner{}).Where("id = ?", partnerID).
		Updates(map[string]any{"status": st, "suspended_from": from}).Error; err != nil {
		e.t.Fatal(err)
	}
	e.s.InvalidateClientCache()
}

func (e *env) status(partnerID string) Status {
	e.t.Helper()
	p, err := e.s.Partner(ctx, partnerID)
	if err != nil {
		e.t.Fatal(err)
	}
	return p.Status
}

var application = Application{LegalName: "Acme Payments Ltd", CompanyNumber: "01234567", Country: "GB",
	LicenceNumber: "FRN 900001", Website: "https://acme.example", IntendedUse: "Account information for our budgeting wallet",
	ExpectedMonthlyAPICalls: 100000, ExpectedMonthlyPayments: 2000, ExpectedMonthlyPaymentValue: 5000000, Currency: "GBP",
	ContactName: "Ada Lovelace", ContactEmail: "ada@acme.example"}

var goodDD = DueDiligence{IndustryStanding: 4, BusinessCapability: 4, ResourceIntegration: 3, WillingnessToCooperate: 5,
	LicenceVerified: true, AMLResult: AMLClear}

func testJWKS(t testing.TB) json.RawMessage {
	t.Helper()
	_, pub, err := GenerateES256Key("k1")
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

func sandboxApp(t testing.TB) AppInput {
	return AppInput{Name: "Wallet sandbox", Environment: environment.Sandbox, RedirectURIs: []string{"http://localhost:3000/cb"},
		Scopes: []string{"openid", "accounts"}, JWKS: testJWKS(t)}
}

func prodApp(t testing.TB) AppInput {
	return AppInput{Name: "Wallet", Environment: environment.Production, RedirectURIs: []string{"https://wallet.example/cb"},
		Scopes: []string{"openid", "accounts", "payments"}, JWKS: testJWKS(t)}
}

// wantProblem asserts err is a *problem.Error with code and detail.
func wantProblem(t testing.TB, err error, code problem.Code, detail string) {
	t.Helper()
	var p *problem.Error
	if !errors.As(err, &p) {
		t.Fatalf("err = %v, want problem %s %q", err, code, detail)
	}
	if p.Code != code || p.Detail != detail {
		t.Fatalf("problem = %s %q, want %s %q", p.Code, p.Detail, code, detail)
	}
}

func mustOK(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func newBenchBox() (*secrets.Box, error) { return secrets.NewBox(bytes.Repeat([]byte{9}, 32)) }

func benchTTL(n int) time.Duration { return time.Duration(n) }

var clockZero = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
