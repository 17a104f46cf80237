package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/examples/wallet"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/mail"
	bankbridge "github.com/bankbridge/bankbridge/sdk/go"
)

// The Go SDK (sdk/go) and the example wallet (examples/wallet) as the
// partner, against the real server, with the customer in Debian's chromium
// (the login and consent steps of e2e/lib.mjs).

// runNodeEval runs an ES module given as text in the e2e directory (so it
// imports ./lib.mjs and the e2e packages) and decodes the JSON its run()
// prints.
func runNodeEval(tb testing.TB, script string, env map[string]string) *FlowResult {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "--input-type=module", "-e", script)
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
		tb.Fatalf("node: %v (run error %v)\nstdout: %s\nstderr: %s", err, runErr, stdout.String(), stderr.String())
	}
	if res.Error != nil {
		b, _ := json.MarshalIndent(res, "", "  ")
		tb.Fatalf("browser steps failed:\n%s\nstderr: %s", b, stderr.String())
	}
	return &res
}

// consentScript logs the customer in and authorises in chromium
// (browserConsent of e2e/lib.mjs); the redirect to the partner is
// intercepted and printed.
const consentScript = `import { browserConsent, env, run } from './lib.mjs'
run(async step => {
  const r = await browserConsent({ url: env.URL, redirectUri: env.REDIRECT_URI, username: env.USERNAME,
    password: env.PASSWORD, decision: env.DECISION || 'authorise', artifacts: env.ARTIFACTS, label: env.LABEL })
  step('consent', { callback: r.callback, text: r.consentText })
})`

// browserConsent sends the customer to authURL and returns the authorization
// response (the query of the redirect back) and the consent page's text.
func browserConsent(t *testing.T, authURL, redirect, label string) (url.Values, string) {
	t.Helper()
	res := runNodeEval(t, consentScript, map[string]string{"URL": authURL, "REDIRECT_URI": redirect, "USERNAME": "alice",
		"PASSWORD": "sandbox-password-1", "CHROMIUM": chromiumPath(), "ARTIFACTS": artifactsDir(t), "LABEL": label})
	st := res.Step("consent")
	cb, err := url.Parse(st["callback"].(string))
	if err != nil {
		t.Fatal(err)
	}
	return cb.Query(), st["text"].(string)
}

// webhookSink receives webhooks through the SDK's verifying handler.
type webhookSink struct {
	mu     sync.Mutex
	events []*bankbridge.WebhookEvent
	srv    *httptest.Server
	keys   []string
	bad    int
}

func newWebhookSink(t *testing.T) *webhookSink {
	s := &webhookSink{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		v := &bankbridge.WebhookVerifier{Keys: s.keys}
		s.mu.Unlock()
		rec := httptest.NewRecorder()
		bankbridge.WebhookHandler(v, func(_ context.Context, ev *bankbridge.WebhookEvent) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.events = append(s.events, ev)
			return nil
		}).ServeHTTP(rec, r)
		if rec.Code == http.StatusUnauthorized {
			s.mu.Lock()
			s.bad++
			s.mu.Unlock()
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// waitFor waits until every type has been received (or 20 s passed) and
// returns the types seen.
func (s *webhookSink) waitFor(types ...string) map[string]*bankbridge.WebhookEvent {
	deadline := time.Now().Add(20 * time.Second)
	for {
		s.mu.Lock()
		seen := map[string]*bankbridge.WebhookEvent{}
		for _, e := range s.events {
			seen[e.Type] = e
		}
		s.mu.Unlock()
		all := true
		for _, t := range types {
			all = all && seen[t] != nil
		}
		if all || time.Now().After(deadline) {
			return seen
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestSDKEndToEnd drives the whole partner journey with the SDK against the
// real server, which requires DPoP nonces (so every first call at the token
// endpoint, PAR and the resource server is retried with the nonce):
// webhook endpoint → account-access consent → PAR + browser consent → code
// exchange → accounts, balances, every transaction page → payment consent →
// authorisation → funds → payment (and its idempotent replay) → status →
// refresh → data sharing → revocation as a *Problem → webhooks verified by
// the SDK.
func TestSDKEndToEnd(t *testing.T) {
	requireE2E(t, true)
	for name, dbURL := range engineURLs(t) {
		t.Run(name, func(t *testing.T) {
			s := MustStart(t, dbURL(t), "--webhooks-allow-loopback", "--dpop-require-nonce")
			redirect := "https://wallet.example/callback"
			cid, key := sandboxApp(t, s, redirect, "openid accounts payments data_sharing webhooks")
			ctx := context.Background()
			// alice has an email address in the core: her payment below is
			// announced to her (apis' payment notice).
			svc := s.Main.Platform.Services
			alice, err := svc.Core.CustomerByUsername(ctx, environment.Sandbox, "alice")
			if err != nil {
				t.Fatal(err)
			}
			if err := svc.Core.SetCustomerEmail(ctx, alice.ID, "alice@customer.example"); err != nil {
				t.Fatal(err)
			}
			// Every authorization of this flow is a signed request object
			// (JAR) through PAR; the wallet example below sends plain ones.
			c, err := bankbridge.New(bankbridge.Config{Issuer: s.URL, ClientID: cid, PrivateJWK: []byte(key.PrivateJSON(t)),
				SignedRequestObjects: true})
			if err != nil {
				t.Fatal(err)
			}
			app, err := c.ClientCredentials(ctx, "accounts payments data_sharing webhooks")
			if err != nil {
				t.Fatal(err)
			}
			admin := c.API(app)

			// Webhooks, verified with the SDK.
			sink := newWebhookSink(t)
			ep, err := admin.CreateWebhookEndpoint(ctx, bankbridge.WebhookEndpointInput{URL: sink.srv.URL + "/hooks",
				EventTypes: []string{"consent.authorised", "consent.revoked", "payment.created", "payment.status_changed"}})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(ep.Secret, "whsec_") {
				t.Fatalf("endpoint %+v: no whsec_ secret", ep)
			}
			sink.mu.Lock()
			sink.keys = []string{ep.VerificationKey()}
			sink.mu.Unlock()

			// Account access.
			var info bankbridge.ResponseInfo
			consent, err := admin.CreateAccountAccessConsent(ctx, bankbridge.OBReadConsent1{Data: bankbridge.OBReadConsent1Data{
				Permissions: []bankbridge.Permission{bankbridge.PermissionReadAccountsDetail, bankbridge.PermissionReadBalances,
					bankbridge.PermissionReadTransactionsDetail, bankbridge.PermissionReadTransactionsCredits, bankbridge.PermissionReadTransactionsDebits}}},
				bankbridge.WithResponseInfo(&info))
			if err != nil {
				t.Fatal(err)
			}
			if consent.Data.Status != bankbridge.AccountAccessConsentStatusAwaitingAuthorisation || info.StatusCode != 201 || info.InteractionID == "" {
				t.Fatalf("consent %+v info %+v", consent.Data, info)
			}
			pending, err := c.PushAuthorization(ctx, bankbridge.AuthorizationRequest{RedirectURI: redirect, Scope: "openid accounts",
				AuthorizationDetails: []bankbridge.AuthorizationDetail{{Type: bankbridge.DetailAccountAccess, ConsentID: consent.Data.ConsentId}}})
			if err != nil {
				t.Fatal(err)
			}
			resp, text := browserConsent(t, pending.URL, redirect, "sdk-accounts")
			if !strings.Contains(strings.ToLower(text), "balance") {
				t.Errorf("consent page does not mention balances:\n%s", text)
			}
			// A forged callback (another state) is refused before the code is spent.
			forged := url.Values{}
			for k, v := range resp {
				forged[k] = v
			}
			forged.Set("state", "forged-state-value")
			if _, err := c.ExchangeCode(ctx, pending, forged); !errors.Is(err, bankbridge.ErrStateMismatch) {
				t.Fatalf("forged state: %v", err)
			}
			tok, err := c.ExchangeCode(ctx, pending, resp)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.EqualFold(tok.TokenType, "DPoP") || tok.RefreshToken == "" || tok.ConsentID(bankbridge.DetailAccountAccess) != consent.Data.ConsentId {
				t.Fatalf("token %+v", tok)
			}
			api := c.API(tok)
			accounts, err := api.Accounts(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(accounts.Data.Account) < 2 {
				t.Fatalf("alice shared %d accounts, want all of hers (≥ 2)", len(accounts.Data.Account))
			}
			first := accounts.Data.Account[0].AccountId
			bal, err := api.Balances(ctx, first)
			if err != nil || len(bal.Data.Balance) == 0 {
				t.Fatalf("balances %+v %v", bal, err)
			}
			// Every page (the platform's rate limit may answer 429 on the way:
			// the SDK waits its Retry-After), then the item iterator across
			// the first page boundary, stopping early.
			var order []string
			pages, firstPage := 0, 0
			for page, err := range api.TransactionPages(ctx, first, nil) {
				if err != nil {
					t.Fatal(err)
				}
				if pages++; pages == 1 {
					firstPage = len(page.Data.Transaction)
				}
				for _, txn := range page.Data.Transaction {
					order = append(order, *txn.TransactionId)
				}
			}
			ids := map[string]bool{}
			for _, id := range order {
				ids[id] = true
			}
			if pages < 2 || len(ids) != len(order) {
				t.Fatalf("pagination: %d pages, %d transactions, %d distinct (want several pages, none twice)", pages, len(order), len(ids))
			}
			var items []string
			for txn, err := range api.Transactions(ctx, first, nil) {
				if err != nil {
					t.Fatal(err)
				}
				if items = append(items, *txn.TransactionId); len(items) == firstPage+2 {
					break
				}
			}
			if strings.Join(items, " ") != strings.Join(order[:firstPage+2], " ") {
				t.Errorf("item iterator %v, want the pages' first %d %v", items, firstPage+2, order[:firstPage+2])
			}
			t.Logf("%d transactions in %d pages", len(order), pages)

			// A payment.
			pc, err := admin.CreateDomesticPaymentConsent(ctx, bankbridge.OBWriteDomesticConsent4{
				Data: bankbridge.OBWriteDomesticConsent4Data{Initiation: bankbridge.DomesticInitiation{
					InstructionIdentification: "sdk-instr-1", EndToEndIdentification: "sdk-1",
					InstructedAmount: bankbridge.InstructedAmount{Amount: "12.34", Currency: "GBP"},
					CreditorAccount: bankbridge.CreditorAccount{SchemeName: "UK.OBIE.SortCodeAccountNumber",
						Identification: "20000055555555", Name: "Corner Cafe Ltd"},
				}},
			})
			if err != nil {
				t.Fatal(err)
			}
			pending, err = c.PushAuthorization(ctx, bankbridge.AuthorizationRequest{RedirectURI: redirect, Scope: "openid payments",
				AuthorizationDetails: []bankbridge.AuthorizationDetail{{Type: bankbridge.DetailPaymentInitiation, ConsentID: pc.Data.ConsentId}}})
			if err != nil {
				t.Fatal(err)
			}
			resp, text = browserConsent(t, pending.URL, redirect, "sdk-payment")
			if !strings.Contains(text, "12.34") {
				t.Errorf("consent page does not show the amount:\n%s", text)
			}
			payTok, err := c.ExchangeCode(ctx, pending, resp)
			if err != nil {
				t.Fatal(err)
			}
			papi := c.API(payTok)
			funds, err := papi.FundsConfirmation(ctx, pc.Data.ConsentId)
			if err != nil || !funds.Data.FundsAvailableResult.FundsAvailable {
				t.Fatalf("funds %+v %v", funds, err)
			}
			var p1, p2 bankbridge.ResponseInfo
			pay, err := papi.CreateDomesticPayment(ctx, bankbridge.PaymentFor(pc), bankbridge.WithResponseInfo(&p1))
			if err != nil {
				t.Fatal(err)
			}
			again, err := papi.CreateDomesticPayment(ctx, bankbridge.PaymentFor(pc), bankbridge.WithIdempotencyKey(p1.IdempotencyKey), bankbridge.WithResponseInfo(&p2))
			if err != nil {
				t.Fatal(err)
			}
			if pay.Data.Status != bankbridge.PaymentStatusCodeAcceptedSettlementInProcess || again.Data.DomesticPaymentId != pay.Data.DomesticPaymentId ||
				p1.IdempotentReplay || !p2.IdempotentReplay || p1.InteractionID == p2.InteractionID {
				t.Fatalf("payment %+v replay %+v; infos %+v %+v", pay.Data, again.Data, p1, p2)
			}
			got, err := papi.DomesticPayment(ctx, pay.Data.DomesticPaymentId)
			if err != nil || got.Data.Status != bankbridge.PaymentStatusCodeAcceptedSettlementCompleted {
				t.Fatalf("payment status %+v %v", got, err)
			}
			// alice got exactly one mail about it, naming the partner as the
			// consent page does, the amount and the payee (account masked).
			notices, err := mail.List(ctx, s.Main.Platform.DB.DB, "alice@customer.example", 0)
			if err != nil {
				t.Fatal(err)
			}
			pApp, err := svc.Partners.App(ctx, cid)
			if err != nil {
				t.Fatal(err)
			}
			partner, err := svc.Partners.Partner(ctx, pApp.PartnerID)
			if err != nil {
				t.Fatal(err)
			}
			if len(notices) != 1 || notices[0].Template != apis.PaymentMailTemplate ||
				notices[0].Subject != "Payment of 12.34 GBP through "+partner.Name() ||
				!strings.Contains(notices[0].Body, "To:      Corner Cafe Ltd (account •••• 5555)") ||
				!strings.Contains(notices[0].Body, "Payment: "+pay.Data.DomesticPaymentId) ||
				strings.Contains(notices[0].Body, "20000055555555") {
				t.Fatalf("alice's mails after the payment: %+v", notices)
			}
			// The consent is used up: a second payment is a problem the SDK decodes.
			_, err = papi.CreateDomesticPayment(ctx, bankbridge.PaymentFor(pc))
			var prob *bankbridge.Problem
			if !errors.As(err, &prob) || prob.Status/100 != 4 || prob.Code == "" || prob.InteractionID == "" {
				t.Fatalf("second payment: %v", err)
			}
			t.Logf("second payment refused as expected: %v", prob)

			// Refresh.
			refreshed, err := c.Refresh(ctx, tok.RefreshToken)
			if err != nil || refreshed.AccessToken == tok.AccessToken {
				t.Fatalf("refresh %+v %v", refreshed, err)
			}
			if _, err := c.API(refreshed).Account(ctx, first); err != nil {
				t.Fatal(err)
			}

			// The partner revokes the account-access consent: its tokens die.
			if err := admin.DeleteAccountAccessConsent(ctx, consent.Data.ConsentId); err != nil {
				t.Fatal(err)
			}
			_, err = c.API(refreshed).Accounts(ctx)
			if !errors.As(err, &prob) || prob.Status != 401 || prob.Code != bankbridge.ProblemCodeInvalidToken || prob.Challenge != "invalid_token" {
				t.Fatalf("after revocation: %v", err)
			}

			seen := sink.waitFor("consent.authorised", "payment.created", "consent.revoked")
			for _, typ := range []string{"consent.authorised", "payment.created", "consent.revoked"} {
				if seen[typ] == nil {
					t.Errorf("webhook %s not received (got %v)", typ, seen)
				}
			}
			if ev := seen["payment.created"]; ev != nil {
				var d bankbridge.PaymentCreatedEventData
				if err := ev.DecodeData(&d); err != nil || d.PaymentId != pay.Data.DomesticPaymentId || !strings.HasPrefix(ev.ID, "evt_") {
					t.Errorf("payment.created %+v: %+v %v", ev, d, err)
				}
			}
			sink.mu.Lock()
			bad := sink.bad
			sink.mu.Unlock()
			if bad != 0 {
				t.Errorf("%d deliveries failed the SDK's signature check", bad)
			}
		})
	}
}

// walletScript is the customer in chromium at the example wallet: connect
// (login and consent at the bank, back to the wallet's account list), then
// pay (the form, login and consent choosing the account, back to the
// payment's page).
const walletScript = `import { chromium } from 'playwright-core'
import { env, run } from './lib.mjs'
async function bank(page, label) {
  await page.getByLabel('Username').fill(env.USERNAME)
  await page.getByLabel('Password').fill(env.PASSWORD)
  await page.locator('form:has(input[type="password"]) button').first().click()
  await page.getByRole('button', { name: 'Authorise' }).waitFor({ timeout: 15000 })
  for (const box of await page.locator('input[type="checkbox"]:not([disabled])').all()) await box.check()
  const radios = page.locator('input[type="radio"]:not([disabled])')
  if (await radios.count() > 0 && !(await page.locator('input[type="radio"]:checked').count())) await radios.first().check()
  if (env.ARTIFACTS) await page.screenshot({ path: env.ARTIFACTS + '/' + label + '-consent.png', fullPage: true })
  await page.getByRole('button', { name: 'Authorise' }).click()
}
run(async step => {
  const browser = await chromium.launch({ executablePath: env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] })
  try {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } })
    await page.goto(env.WALLET + '/connect')
    await bank(page, 'wallet-connect')
    await page.locator('#accounts').waitFor({ timeout: 15000 })
    step('accounts', { url: new URL(page.url()).pathname, count: await page.locator('#accounts > li').count(),
      text: await page.locator('main').innerText() })
    if (env.ARTIFACTS) await page.screenshot({ path: env.ARTIFACTS + '/wallet-accounts.png', fullPage: true })
    await page.goto(env.WALLET + '/pay')
    await page.getByLabel('Amount (GBP)').fill('4.20')
    await page.getByRole('button', { name: 'Pay with my bank' }).click()
    await bank(page, 'wallet-pay')
    await page.locator('#payment-status').waitFor({ timeout: 15000 })
    step('payment', { url: new URL(page.url()).pathname, status: await page.locator('#payment-status').innerText(),
      text: await page.locator('main').innerText() })
    if (env.ARTIFACTS) await page.screenshot({ path: env.ARTIFACTS + '/wallet-payment.png', fullPage: true })
  } finally {
    await browser.close()
  }
})`

// TestSDKWalletExample runs examples/wallet against the real server: the
// customer connects her accounts in the browser and the wallet lists them,
// then pays the merchant; the wallet reads the payment's status and
// receives the payment webhooks through the SDK's verifier.
func TestSDKWalletExample(t *testing.T) {
	requireE2E(t, true)
	for name, dbURL := range engineURLs(t) {
		t.Run(name, func(t *testing.T) {
			s := MustStart(t, dbURL(t), "--webhooks-allow-loopback")
			var handler http.Handler = http.NotFoundHandler()
			var mu sync.Mutex
			walletSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				h := handler
				mu.Unlock()
				h.ServeHTTP(w, r)
			}))
			defer walletSrv.Close()
			cid, key := sandboxApp(t, s, walletSrv.URL+"/callback", "openid accounts payments webhooks")
			ctx := context.Background()
			bank, err := bankbridge.New(bankbridge.Config{Issuer: s.URL, ClientID: cid, PrivateJWK: []byte(key.PrivateJSON(t))})
			if err != nil {
				t.Fatal(err)
			}
			// The partner registers the wallet's webhook endpoint once.
			hooks, err := bank.ClientCredentials(ctx, "webhooks")
			if err != nil {
				t.Fatal(err)
			}
			ep, err := bank.API(hooks).CreateWebhookEndpoint(ctx, bankbridge.WebhookEndpointInput{URL: walletSrv.URL + "/webhooks",
				EventTypes: []string{"payment.created", "payment.status_changed"}, Signing: bankbridge.WebhookSigningEd25519})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(ep.VerificationKey(), "whpk_") {
				t.Fatalf("ed25519 endpoint %+v has no whpk_ key", ep)
			}
			w, err := wallet.New(wallet.Config{Bank: bank, BaseURL: walletSrv.URL, WebhookKeys: []string{ep.VerificationKey()}})
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			handler = w
			mu.Unlock()

			res := runNodeEval(t, walletScript, map[string]string{"WALLET": walletSrv.URL, "USERNAME": "alice",
				"PASSWORD": "sandbox-password-1", "CHROMIUM": chromiumPath(), "ARTIFACTS": artifactsDir(t)})
			acc := res.Step("accounts")
			if acc["url"] != "/accounts" || acc["count"].(float64) < 2 || !strings.Contains(acc["text"].(string), "GBP") {
				t.Fatalf("accounts page: %v", acc)
			}
			pay := res.Step("payment")
			if !strings.HasPrefix(pay["url"].(string), "/payments/pay_") ||
				(pay["status"] != "AcceptedSettlementInProcess" && pay["status"] != "AcceptedSettlementCompleted") ||
				!strings.Contains(pay["text"].(string), "4.20 GBP to Corner Cafe Ltd") {
				t.Fatalf("payment page: %v", pay)
			}
			paymentID := strings.TrimPrefix(pay["url"].(string), "/payments/")
			// Deliveries come at least once, in no promised order.
			created := func(notes []wallet.WebhookNote) bool {
				for _, n := range notes {
					if n.Type == "payment.created" && n.PaymentID == paymentID {
						return true
					}
				}
				return false
			}
			deadline := time.Now().Add(20 * time.Second)
			for !created(w.Webhooks()) && time.Now().Before(deadline) {
				time.Sleep(100 * time.Millisecond)
			}
			if notes := w.Webhooks(); !created(notes) {
				t.Fatalf("wallet webhooks %+v, want payment.created for %s", notes, paymentID)
			}
		})
	}
}
