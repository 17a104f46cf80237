package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/apis"
	bankbridge "github.com/bankbridge/bankbridge/sdk/go"
	jose "github.com/go-jose/go-jose/v4"
)

// repoRoot is the repository root (two levels above this package).
func repoRoot(tb testing.TB) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// requireE2E skips the test when the independent client or the browser is
// missing, unless BANKBRIDGE_E2E=1 (CI), where that is a failure.
func requireE2E(tb testing.TB, needBrowser bool) {
	tb.Helper()
	var missing []string
	if _, err := exec.LookPath("node"); err != nil {
		missing = append(missing, "node")
	}
	if _, err := os.Stat(filepath.Join(repoRoot(tb), "e2e", "node_modules", "oauth4webapi")); err != nil {
		missing = append(missing, "e2e/node_modules (run: cd e2e && npm ci)")
	}
	if needBrowser {
		if _, err := exec.LookPath(chromiumPath()); err != nil {
			missing = append(missing, "chromium (Debian package chromium)")
		}
	}
	if len(missing) == 0 {
		return
	}
	if os.Getenv("BANKBRIDGE_E2E") == "1" {
		tb.Fatalf("BANKBRIDGE_E2E=1 but missing: %s", strings.Join(missing, ", "))
	}
	tb.Skipf("end-to-end tools missing: %s", strings.Join(missing, ", "))
}

// chromiumPath is the browser binary: $CHROMIUM, or chromium on PATH (absolute).
func chromiumPath() string {
	name := os.Getenv("CHROMIUM")
	if name == "" {
		name = "chromium"
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return name
}

// artifactsDir is where browser screenshots are kept (e2e/artifacts/<test>).
func artifactsDir(tb testing.TB) string {
	d := filepath.Join(repoRoot(tb), "e2e", "artifacts", strings.ReplaceAll(tb.Name(), "/", "_"))
	os.MkdirAll(d, 0o755)
	return d
}

// FlowResult is what e2e/oauth-flow.mjs prints.
type FlowResult struct {
	Steps []map[string]any `json:"steps"`
	Error *struct {
		Name, Code, Message, Cause string
	} `json:"error"`
}

// Step returns the named step's data (nil if the flow never got there).
func (f *FlowResult) Step(name string) map[string]any {
	for _, s := range f.Steps {
		if s["name"] == name {
			return s
		}
	}
	return nil
}

// Steps returns every step with that name.
func (f *FlowResult) All(name string) []map[string]any {
	var out []map[string]any
	for _, s := range f.Steps {
		if s["name"] == name {
			out = append(out, s)
		}
	}
	return out
}

// runNode runs an e2e script with env and decodes its JSON output.
func runNode(tb testing.TB, script string, env map[string]string) *FlowResult {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", script)
	cmd.Dir = filepath.Join(repoRoot(tb), "e2e")
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var res FlowResult
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &res); err != nil {
		tb.Fatalf("node %s: %v (run error %v)\nstdout: %s\nstderr: %s", script, err, runErr, stdout.String(), stderr.String())
	}
	if runErr != nil && res.Error == nil {
		tb.Fatalf("node %s failed: %v\nstderr: %s", script, runErr, stderr.String())
	}
	return &res
}

// TestClientKey is a partner app's ES256 key pair.
type TestClientKey struct {
	Private jose.JSONWebKey
	Public  jose.JSONWebKeySet
}

// MustClientKey makes a fresh ES256 client key with a kid.
func MustClientKey(tb testing.TB) *TestClientKey {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	priv := jose.JSONWebKey{Key: k, KeyID: "k-" + time.Now().Format("150405.000000"), Algorithm: "ES256", Use: "sig"}
	return &TestClientKey{Private: priv, Public: jose.JSONWebKeySet{Keys: []jose.JSONWebKey{priv.Public()}}}
}

// PrivateJSON is the private JWK as JSON (for the node client).
func (k *TestClientKey) PrivateJSON(tb testing.TB) string {
	b, err := json.Marshal(k.Private)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// WriteJWKS writes the public JWK Set to a temp file and returns its path.
func (k *TestClientKey) WriteJWKS(tb testing.TB) string {
	b, _ := json.Marshal(k.Public)
	p := filepath.Join(tb.TempDir(), "jwks.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

// runCLI runs a bankbridge operator command against the server's data and
// returns its stdout decoded as JSON.
func runCLI(tb testing.TB, s *Server, args ...string) map[string]any {
	tb.Helper()
	var out, errOut bytes.Buffer
	m := NewMain(&out, &errOut)
	full := append(args, "--data-dir", s.DataDir, "--log-level", "warn")
	if s.DatabaseURL != "" {
		full = append(full, "--database-url", s.DatabaseURL)
	}
	err := m.Run(context.Background(), full)
	m.Close()
	if err != nil {
		tb.Fatalf("bankbridge %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errOut.String())
	}
	var v map[string]any
	if err := json.Unmarshal(out.Bytes(), &v); err != nil {
		tb.Fatalf("bankbridge %s: output not JSON: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return v
}

// StepCheck is one value expected in an end-to-end script's output: Field of
// the step named Step. token_type compares case-insensitively (RFC 6749 §5.1).
type StepCheck struct {
	Step, Field string
	Want        any
}

// Want checks every expected value, stopping at a missing step.
func (f *FlowResult) Want(tb testing.TB, checks []StepCheck) {
	tb.Helper()
	for _, c := range checks {
		st := f.Step(c.Step)
		if st == nil {
			tb.Fatalf("step %s missing:\n%+v", c.Step, f.Steps)
		}
		got, want := st[c.Field], c.Want
		if g, ok := got.(string); ok && c.Field == "token_type" {
			if w, ok := want.(string); ok && strings.EqualFold(g, w) {
				continue
			}
		}
		if got != want {
			tb.Errorf("%s.%s = %#v, want %#v (step: %v)", c.Step, c.Field, got, want, st)
		}
	}
}

// partnerPayment is a contracted partner whose app has a webhook endpoint
// on a sink, and alice's payment through it (paidThroughPartner).
type partnerPayment struct {
	Partner   *certFixture
	Client    *bankbridge.Client
	App       *bankbridge.API // the app's client-credentials API (payments, webhooks)
	Sink      *webhookSink
	PaymentID string
	Debtor    string // alice's account the payment was made from
}

// paidThroughPartner makes, on s, a contracted partner with an endpoint
// subscribed to events, and alice's payment of amount GBP to Acme Widgets
// Ltd with reference ref through it: a real payment consent, the consent
// page and the payment through the SDK. Alice's sandbox email is set to
// alice@example.test.
func paidThroughPartner(t *testing.T, s *Server, amount, ref string, events ...string) *partnerPayment {
	t.Helper()
	ctx := context.Background()
	redirect := "https://wallet.example/callback"
	out := &partnerPayment{Partner: contractedPartner(t, s, redirect)}
	c, err := bankbridge.New(bankbridge.Config{Issuer: s.URL, ClientID: out.Partner.ClientID, PrivateJWK: []byte(out.Partner.Key.PrivateJSON(t))})
	if err != nil {
		t.Fatal(err)
	}
	out.Client = c
	app, err := c.ClientCredentials(ctx, "payments webhooks")
	if err != nil {
		t.Fatal(err)
	}
	out.App = c.API(app)
	out.Sink = newWebhookSink(t)
	ep, err := out.App.CreateWebhookEndpoint(ctx, bankbridge.WebhookEndpointInput{URL: out.Sink.srv.URL + "/hooks", EventTypes: events})
	if err != nil {
		t.Fatal(err)
	}
	out.Sink.mu.Lock()
	out.Sink.keys = []string{ep.VerificationKey()}
	out.Sink.mu.Unlock()
	platform := s.Main.Platform
	if err := platform.DB.Exec(`UPDATE core_customers SET email = 'alice@example.test' WHERE username = 'alice' AND environment = 'sandbox'`).Error; err != nil {
		t.Fatal(err)
	}
	pc, err := out.App.CreateDomesticPaymentConsent(ctx, bankbridge.OBWriteDomesticConsent4{
		Data: bankbridge.OBWriteDomesticConsent4Data{Initiation: bankbridge.DomesticInitiation{
			InstructionIdentification: ref, EndToEndIdentification: ref,
			InstructedAmount: bankbridge.InstructedAmount{Amount: amount, Currency: "GBP"},
			CreditorAccount: bankbridge.CreditorAccount{SchemeName: "UK.OBIE.SortCodeAccountNumber",
				Identification: "20000012345678", Name: "Acme Widgets Ltd"},
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
	p, err := c.API(tok).CreateDomesticPayment(ctx, bankbridge.PaymentFor(pc))
	if err != nil || p.Data.Status != bankbridge.PaymentStatusCodeAcceptedSettlementInProcess {
		t.Fatalf("payment %+v %v", p, err)
	}
	out.PaymentID = p.Data.DomesticPaymentId
	stored, err := apis.NewGormStore(platform.DB).Payment(ctx, out.PaymentID)
	if err != nil {
		t.Fatal(err)
	}
	out.Debtor = stored.DebtorAccountID
	return out
}
