// Package wallet is a small wallet backend built on the Bankbridge Go SDK,
// written to be copied: it connects a customer's bank accounts, lists them
// with their balances and latest transactions, and pays a merchant from
// one of them, each step authorised by the customer at the bank.
//
// Routes (see README.md to run it against `go run ./cmd/bankbridge`):
//
//	GET  /            links to the rest
//	GET  /connect     creates an account-access consent, sends the browser to the bank
//	GET  /callback    the redirect URI: exchanges the code, then shows accounts or pays
//	GET  /accounts    the connected accounts (HTML, or JSON with Accept: application/json)
//	GET  /pay         a payment form; POST /pay creates the payment consent and sends the browser to the bank
//	GET  /payments/ID the payment's status
//	POST /webhooks    Standard Webhooks receiver (when Config.WebhookKeys is set)
//
// Customer sessions live in memory behind an HttpOnly cookie; a real wallet
// keeps them (and the DPoP key the tokens are bound to) in its own store.
package wallet

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	bankbridge "github.com/bankbridge/bankbridge/sdk/go"
)

// Merchant is the creditor the wallet pays.
type Merchant struct {
	Name string // e.g. "Corner Cafe Ltd"
	// SortCodeAccountNumber is the 14-digit UK.OBIE.SortCodeAccountNumber.
	SortCodeAccountNumber string
}

// Config configures a Wallet.
type Config struct {
	// Bank is the SDK client of the wallet's app at the bank.
	Bank *bankbridge.Client
	// BaseURL is the wallet's own public URL, e.g. "http://localhost:3000";
	// BaseURL + "/callback" must be a redirect URI of the app.
	BaseURL string
	// Merchant is who /pay pays.
	Merchant Merchant
	// WebhookKeys verify deliveries to /webhooks (the endpoint's whsec_
	// secret or whpk_ public key); none disables the route.
	WebhookKeys []string
	// Log receives what happens; nil discards.
	Log *slog.Logger
}

// Wallet is the wallet backend, an http.Handler.
type Wallet struct {
	cfg Config
	mux *http.ServeMux
	log *slog.Logger

	mu       sync.Mutex
	appToken *bankbridge.Token
	sessions map[string]*session
	events   []WebhookNote
}

// session is one customer's state at the wallet.
type session struct {
	pending        *bankbridge.PendingAuthorization // between a redirect to the bank and /callback
	purpose        string                           // "connect" or "pay"
	paymentConsent *bankbridge.OBWriteDomesticConsentResponse5
	accounts       *bankbridge.Token // account access
	payments       map[string]*bankbridge.Token
}

// WebhookNote is a verified webhook the wallet received.
type WebhookNote struct {
	ID, Type  string
	PaymentID string
	Status    string
}

const sessionCookie = "wallet_session"

// New makes a Wallet.
func New(cfg Config) (*Wallet, error) {
	if cfg.Bank == nil {
		return nil, errors.New("wallet: Config.Bank is required")
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("wallet: Config.BaseURL %q must be an absolute URL", cfg.BaseURL)
	}
	cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	if cfg.Merchant.Name == "" {
		cfg.Merchant = Merchant{Name: "Corner Cafe Ltd", SortCodeAccountNumber: "20000055555555"}
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w := &Wallet{cfg: cfg, mux: http.NewServeMux(), log: log, sessions: map[string]*session{}}
	w.mux.HandleFunc("GET /{$}", w.home)
	w.mux.HandleFunc("GET /connect", w.connect)
	w.mux.HandleFunc("GET /callback", w.callback)
	w.mux.HandleFunc("GET /accounts", w.accounts)
	w.mux.HandleFunc("GET /pay", w.payForm)
	w.mux.HandleFunc("POST /pay", w.pay)
	w.mux.HandleFunc("GET /payments/{id}", w.payment)
	if len(cfg.WebhookKeys) > 0 {
		w.mux.Handle("POST /webhooks", bankbridge.WebhookHandler(&bankbridge.WebhookVerifier{Keys: cfg.WebhookKeys}, w.webhook))
	}
	return w, nil
}

// ServeHTTP implements http.Handler.
func (w *Wallet) ServeHTTP(rw http.ResponseWriter, r *http.Request) { w.mux.ServeHTTP(rw, r) }

// Webhooks returns the webhooks received so far.
func (w *Wallet) Webhooks() []WebhookNote {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]WebhookNote(nil), w.events...)
}

// app returns the wallet's own (client_credentials) token, renewed when expired.
func (w *Wallet) app(ctx context.Context) (*bankbridge.Token, error) {
	w.mu.Lock()
	tok := w.appToken
	w.mu.Unlock()
	if tok != nil && !tok.Expired(time.Now()) {
		return tok, nil
	}
	tok, err := w.cfg.Bank.ClientCredentials(ctx, "accounts payments")
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	w.appToken = tok
	w.mu.Unlock()
	return tok, nil
}

// session returns the request's session, making one (and its cookie) if needed.
func (w *Wallet) session(rw http.ResponseWriter, r *http.Request) *session {
	w.mu.Lock()
	defer w.mu.Unlock()
	if c, err := r.Cookie(sessionCookie); err == nil {
		if s := w.sessions[c.Value]; s != nil {
			return s
		}
	}
	b := make([]byte, 24)
	rand.Read(b)
	id := base64.RawURLEncoding.EncodeToString(b)
	s := &session{payments: map[string]*bankbridge.Token{}}
	w.sessions[id] = s
	// SameSite=Lax: the cookie comes back on the bank's top-level redirect to /callback.
	http.SetCookie(rw, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", HttpOnly: true,
		Secure: strings.HasPrefix(w.cfg.BaseURL, "https://"), SameSite: http.SameSiteLaxMode})
	return s
}

// connect: an account-access consent, authorised by the customer at the bank.
func (w *Wallet) connect(rw http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	app, err := w.app(ctx)
	if err != nil {
		w.fail(rw, r, "the bank refused the wallet's credentials", err)
		return
	}
	consent, err := w.cfg.Bank.API(app).CreateAccountAccessConsent(ctx, bankbridge.OBReadConsent1{
		Data: bankbridge.OBReadConsent1Data{Permissions: []bankbridge.Permission{
			bankbridge.PermissionReadAccountsDetail, bankbridge.PermissionReadBalances,
			bankbridge.PermissionReadTransactionsDetail, bankbridge.PermissionReadTransactionsCredits,
			bankbridge.PermissionReadTransactionsDebits,
		}},
	})
	if err != nil {
		w.fail(rw, r, "could not ask the bank for account access", err)
		return
	}
	w.authorize(rw, r, "connect", "openid accounts", bankbridge.AuthorizationDetail{Type: bankbridge.DetailAccountAccess, ConsentID: consent.Data.ConsentId}, nil)
}

// authorize pushes the authorization request and redirects to the bank.
func (w *Wallet) authorize(rw http.ResponseWriter, r *http.Request, purpose, scope string, d bankbridge.AuthorizationDetail, pc *bankbridge.OBWriteDomesticConsentResponse5) {
	pending, err := w.cfg.Bank.PushAuthorization(r.Context(), bankbridge.AuthorizationRequest{
		RedirectURI: w.cfg.BaseURL + "/callback", Scope: scope, AuthorizationDetails: []bankbridge.AuthorizationDetail{d},
	})
	if err != nil {
		w.fail(rw, r, "the bank refused the authorization request", err)
		return
	}
	s := w.session(rw, r)
	w.mu.Lock()
	s.pending, s.purpose, s.paymentConsent = pending, purpose, pc
	w.mu.Unlock()
	w.log.Info("wallet: redirecting to the bank", "purpose", purpose, "consent", d.ConsentID)
	http.Redirect(rw, r, pending.URL, http.StatusSeeOther)
}

// callback is the redirect URI.
func (w *Wallet) callback(rw http.ResponseWriter, r *http.Request) {
	s := w.session(rw, r)
	w.mu.Lock()
	pending, purpose, pc := s.pending, s.purpose, s.paymentConsent
	s.pending = nil // one use
	w.mu.Unlock()
	if pending == nil {
		w.page(rw, r, http.StatusBadRequest, "No authorization in progress", "Start again from the wallet's home page.", nil)
		return
	}
	tok, err := w.cfg.Bank.ExchangeCode(r.Context(), pending, r.URL.Query())
	var oe *bankbridge.OAuthError
	if errors.As(err, &oe) && oe.Code == "access_denied" {
		w.page(rw, r, http.StatusOK, "Not connected", "You declined at the bank; nothing was shared.", nil)
		return
	}
	if err != nil {
		w.fail(rw, r, "the bank's answer could not be used", err)
		return
	}
	switch purpose {
	case "pay":
		w.makePayment(rw, r, s, pc, tok)
	default:
		w.mu.Lock()
		s.accounts = tok
		w.mu.Unlock()
		http.Redirect(rw, r, "/accounts", http.StatusSeeOther)
	}
}

// AccountView is one account as /accounts shows it.
type AccountView struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	Balance      string   `json:"balance"`
	Currency     string   `json:"currency"`
	Transactions []string `json:"latest_transactions"`
}

// accounts lists the connected accounts with balances and the latest transactions.
func (w *Wallet) accounts(rw http.ResponseWriter, r *http.Request) {
	s := w.session(rw, r)
	w.mu.Lock()
	tok := s.accounts
	w.mu.Unlock()
	if tok == nil {
		http.Redirect(rw, r, "/connect", http.StatusSeeOther)
		return
	}
	ctx := r.Context()
	api := w.cfg.Bank.API(tok)
	list, err := api.Accounts(ctx)
	if err != nil {
		w.fail(rw, r, "could not read your accounts", err)
		return
	}
	var views []AccountView
	for _, a := range list.Data.Account {
		v := AccountView{ID: a.AccountId}
		if a.Nickname != nil {
			v.Name = *a.Nickname
		}
		if len(a.Account) > 0 && a.Account[0].Name != nil && v.Name == "" {
			v.Name = *a.Account[0].Name
		}
		if bal, err := api.Balances(ctx, a.AccountId); err == nil && len(bal.Data.Balance) > 0 {
			v.Balance, v.Currency = bal.Data.Balance[0].Amount.Amount, bal.Data.Balance[0].Amount.Currency
		}
		// The iterator fetches pages as needed: stopping after 5 reads one page.
		for t, err := range api.Transactions(ctx, a.AccountId, nil) {
			if err != nil {
				w.fail(rw, r, "could not read your transactions", err)
				return
			}
			line := t.BookingDateTime.Format("2006-01-02") + " " + string(t.CreditDebitIndicator) + " " + t.Amount.Amount + " " + t.Amount.Currency
			if t.TransactionInformation != nil {
				line += " " + *t.TransactionInformation
			}
			if v.Transactions = append(v.Transactions, line); len(v.Transactions) == 5 {
				break
			}
		}
		views = append(views, v)
	}
	w.page(rw, r, http.StatusOK, "Your accounts", fmt.Sprintf("%d accounts connected.", len(views)), views)
}

func (w *Wallet) payForm(rw http.ResponseWriter, r *http.Request) {
	rw.Header().Set("Content-Type", "text/html; charset=utf-8")
	payTmpl.Execute(rw, w.cfg.Merchant)
}

// pay: a payment consent for the amount, authorised by the customer at the
// bank (who also picks the account to pay from); /callback makes the payment.
func (w *Wallet) pay(rw http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	amount, ref := r.PostFormValue("amount"), r.PostFormValue("reference")
	if amount == "" {
		amount = "1.00"
	}
	if ref == "" {
		ref = "Wallet payment"
	}
	app, err := w.app(ctx)
	if err != nil {
		w.fail(rw, r, "the bank refused the wallet's credentials", err)
		return
	}
	instr := "w-" + time.Now().UTC().Format("20060102150405.000000")
	pc, err := w.cfg.Bank.API(app).CreateDomesticPaymentConsent(ctx, bankbridge.OBWriteDomesticConsent4{
		Data: bankbridge.OBWriteDomesticConsent4Data{Initiation: bankbridge.DomesticInitiation{
			InstructionIdentification: instr, EndToEndIdentification: instr,
			InstructedAmount: bankbridge.InstructedAmount{Amount: amount, Currency: "GBP"},
			CreditorAccount: bankbridge.CreditorAccount{SchemeName: "UK.OBIE.SortCodeAccountNumber",
				Identification: w.cfg.Merchant.SortCodeAccountNumber, Name: w.cfg.Merchant.Name},
			RemittanceInformation: &bankbridge.RemittanceInformation{Reference: &ref},
		}},
		Risk: bankbridge.OBRisk1{PaymentContextCode: ptr(bankbridge.PaymentContextCodePartyToParty)},
	})
	var p *bankbridge.Problem
	if errors.As(err, &p) && p.Code == bankbridge.ProblemCodeValidationFailed {
		w.page(rw, r, http.StatusUnprocessableEntity, "Check the payment", p.Detail, nil)
		return
	}
	if err != nil {
		w.fail(rw, r, "could not prepare the payment", err)
		return
	}
	w.authorize(rw, r, "pay", "openid payments", bankbridge.AuthorizationDetail{Type: bankbridge.DetailPaymentInitiation, ConsentID: pc.Data.ConsentId}, pc)
}

// makePayment makes the authorised payment (idempotently: a retry with the
// same key cannot pay twice) and shows its status.
func (w *Wallet) makePayment(rw http.ResponseWriter, r *http.Request, s *session, pc *bankbridge.OBWriteDomesticConsentResponse5, tok *bankbridge.Token) {
	ctx := r.Context()
	api := w.cfg.Bank.API(tok)
	funds, err := api.FundsConfirmation(ctx, pc.Data.ConsentId)
	if err == nil && !funds.Data.FundsAvailableResult.FundsAvailable {
		w.page(rw, r, http.StatusOK, "Not enough money", "The account you chose cannot pay this amount.", nil)
		return
	}
	pay, err := api.CreateDomesticPayment(ctx, bankbridge.PaymentFor(pc), bankbridge.WithIdempotencyKey("pay-"+pc.Data.ConsentId))
	if err != nil {
		w.fail(rw, r, "the bank did not make the payment", err)
		return
	}
	w.mu.Lock()
	s.payments[pay.Data.DomesticPaymentId] = tok
	w.mu.Unlock()
	http.Redirect(rw, r, "/payments/"+url.PathEscape(pay.Data.DomesticPaymentId), http.StatusSeeOther)
}

// PaymentView is a payment as /payments/ID shows it.
type PaymentView struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	Amount    string `json:"amount"`
	Currency  string `json:"currency"`
	Creditor  string `json:"creditor"`
	Notified  string `json:"notified_status,omitempty"` // from a payment.status_changed webhook
	ConsentID string `json:"consent_id"`
}

func (w *Wallet) payment(rw http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s := w.session(rw, r)
	w.mu.Lock()
	tok := s.payments[id]
	w.mu.Unlock()
	if tok == nil {
		w.page(rw, r, http.StatusNotFound, "No such payment", "This payment was not made in this session.", nil)
		return
	}
	pay, err := w.cfg.Bank.API(tok).DomesticPayment(r.Context(), id)
	if err != nil {
		w.fail(rw, r, "could not read the payment", err)
		return
	}
	v := PaymentView{ID: id, Status: string(pay.Data.Status), Amount: pay.Data.Initiation.InstructedAmount.Amount,
		Currency: pay.Data.Initiation.InstructedAmount.Currency, Creditor: pay.Data.Initiation.CreditorAccount.Name, ConsentID: pay.Data.ConsentId}
	for _, e := range w.Webhooks() {
		if e.PaymentID == id && e.Status != "" {
			v.Notified = e.Status
		}
	}
	w.page(rw, r, http.StatusOK, "Payment "+v.Status, fmt.Sprintf("%s %s to %s.", v.Amount, v.Currency, v.Creditor), v)
}

// webhook records a verified delivery (the SDK's handler checked it).
func (w *Wallet) webhook(_ context.Context, ev *bankbridge.WebhookEvent) error {
	n := WebhookNote{ID: ev.ID, Type: ev.Type}
	if strings.HasPrefix(ev.Type, "payment.") {
		var d bankbridge.PaymentStatusChangedEventData
		if err := ev.DecodeData(&d); err != nil {
			return err
		}
		n.PaymentID, n.Status = d.PaymentId, d.Status
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, e := range w.events {
		if e.ID == n.ID {
			return nil // a retry of a delivery already processed
		}
	}
	w.events = append(w.events, n)
	w.log.Info("wallet: webhook", "type", n.Type, "payment", n.PaymentID, "status", n.Status)
	return nil
}

func (w *Wallet) home(rw http.ResponseWriter, r *http.Request) {
	w.page(rw, r, http.StatusOK, "Wallet", "Connect your bank, see your accounts, pay "+w.cfg.Merchant.Name+".", nil)
}

// fail shows a failure; a bank problem's detail and interaction id are logged.
func (w *Wallet) fail(rw http.ResponseWriter, r *http.Request, what string, err error) {
	w.log.Error("wallet: "+what, "err", err)
	msg := what + "."
	var p *bankbridge.Problem
	if errors.As(err, &p) {
		msg += " The bank said: " + p.Detail + " (reference " + p.InteractionID + ")"
	}
	var oe *bankbridge.OAuthError
	if errors.As(err, &oe) {
		msg += " The bank said: " + oe.Code + " " + oe.Description
	}
	w.page(rw, r, http.StatusBadGateway, "Something went wrong", msg, nil)
}

// page answers JSON ({"title","message","data"}) to Accept: application/json, else HTML.
func (w *Wallet) page(rw http.ResponseWriter, r *http.Request, status int, title, message string, data any) {
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		rw.Header().Set("Content-Type", "application/json")
		rw.WriteHeader(status)
		json.NewEncoder(rw).Encode(map[string]any{"title": title, "message": message, "data": data})
		return
	}
	view := map[string]any{"Title": title, "Message": message}
	switch d := data.(type) {
	case []AccountView:
		view["Accounts"] = d
	case PaymentView:
		view["Payment"] = d
	}
	rw.Header().Set("Content-Type", "text/html; charset=utf-8")
	rw.WriteHeader(status)
	pageTmpl.Execute(rw, view)
}

func ptr[T any](v T) *T { return &v }

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · Wallet</title>
<body><main>
<h1>{{.Title}}</h1>
<p id="message">{{.Message}}</p>
{{with .Accounts}}<ul id="accounts">{{range .}}
<li data-account="{{.ID}}"><strong>{{.Name}}</strong> balance {{.Balance}} {{.Currency}}
<ul>{{range .Transactions}}<li>{{.}}</li>{{end}}</ul></li>{{end}}
</ul>{{end}}
{{with .Payment}}<dl id="payment"><dt>Payment</dt><dd id="payment-id">{{.ID}}</dd><dt>Status</dt><dd id="payment-status">{{.Status}}</dd>
{{if .Notified}}<dt>Bank notified</dt><dd id="payment-notified">{{.Notified}}</dd>{{end}}</dl>{{end}}
<nav><a href="/connect">Connect your bank</a> · <a href="/accounts">Accounts</a> · <a href="/pay">Pay</a></nav>
</main></body></html>
`))

var payTmpl = template.Must(template.New("pay").Parse(`<!doctype html>
<html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Pay · Wallet</title>
<body><main><h1>Pay {{.Name}}</h1>
<form method="post" action="/pay">
<label>Amount (GBP) <input name="amount" value="4.20" inputmode="decimal"></label>
<label>Reference <input name="reference" value="Coffee"></label>
<button type="submit">Pay with my bank</button>
</form></main></body></html>
`))
