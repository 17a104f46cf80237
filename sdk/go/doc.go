// Package bankbridge is the Go SDK for partners of a Bankbridge platform:
// wallets and payment service providers that read a bank customer's
// accounts and make payments with the customer's consent.
//
// It speaks the platform's FAPI 2.0 profile for you: discovery, pushed
// authorization requests (PAR) with PKCE S256, private_key_jwt client
// authentication, DPoP-bound tokens with server nonces retried
// transparently, the RFC 9207 iss check of the authorization response, and
// optionally signed request objects (JAR). The partner APIs (UK Open Banking
// v3.1.11 shape) are typed methods of API, with an idempotency key on every
// POST and an x-fapi-interaction-id on every call, pagination as Go 1.23
// iterators, and refusals as *Problem (problem+json) or *OAuthError errors.
// WebhookVerifier checks Standard Webhooks signatures.
//
// The request and response types (OBReadConsent1, DomesticInitiation,
// OBTransaction6, PaymentStatusChangedEvent, …) are generated from the
// platform's /openapi.json (kept in openapi.json; names from overlay.yaml).
//
// # A complete flow
//
// A wallet connects a customer's accounts, lists the transactions and pays
// a merchant. Error handling is shortened here; see examples/wallet for a
// web backend.
//
//	key, _ := os.ReadFile("app-key.json") // the app's private JWK
//	c, err := bankbridge.New(bankbridge.Config{
//		Issuer:     "https://bank.example",
//		ClientID:   "app_…",
//		PrivateJWK: key,
//	})
//
//	// 1. The app creates the consent with its own token.
//	app, err := c.ClientCredentials(ctx, "accounts payments")
//	consent, err := c.API(app).CreateAccountAccessConsent(ctx, bankbridge.OBReadConsent1{
//		Data: bankbridge.OBReadConsent1Data{Permissions: []bankbridge.Permission{
//			bankbridge.PermissionReadAccountsDetail, bankbridge.PermissionReadBalances,
//			bankbridge.PermissionReadTransactionsDetail, bankbridge.PermissionReadTransactionsCredits,
//			bankbridge.PermissionReadTransactionsDebits,
//		}},
//	})
//
//	// 2. The customer authorises it at the bank.
//	pending, err := c.PushAuthorization(ctx, bankbridge.AuthorizationRequest{
//		RedirectURI: "https://wallet.example/callback",
//		Scope:       "openid accounts",
//		AuthorizationDetails: []bankbridge.AuthorizationDetail{
//			{Type: bankbridge.DetailAccountAccess, ConsentID: consent.Data.ConsentId},
//		},
//	})
//	// Keep pending (server-side), redirect the browser to pending.URL …
//	// … and in the redirect URI's handler:
//	tok, err := c.ExchangeCode(ctx, pending, r.URL.Query())
//
//	// 3. Read with the customer's token.
//	api := c.API(tok)
//	accounts, err := api.Accounts(ctx)
//	for _, acc := range accounts.Data.Account {
//		for t, err := range api.Transactions(ctx, acc.AccountId, nil) {
//			if err != nil {
//				return err
//			}
//			fmt.Println(t.BookingDateTime, t.CreditDebitIndicator, t.Amount.Amount, t.Amount.Currency)
//		}
//	}
//
//	// 4. A payment: consent, authorisation (as in 2, with
//	// DetailPaymentInitiation and scope "openid payments"), payment.
//	pc, err := c.API(app).CreateDomesticPaymentConsent(ctx, bankbridge.OBWriteDomesticConsent4{
//		Data: bankbridge.OBWriteDomesticConsent4Data{Initiation: bankbridge.DomesticInitiation{
//			InstructionIdentification: "inv-42", EndToEndIdentification: "inv-42",
//			InstructedAmount: bankbridge.InstructedAmount{Amount: "12.34", Currency: "GBP"},
//			CreditorAccount: bankbridge.CreditorAccount{SchemeName: "UK.OBIE.SortCodeAccountNumber",
//				Identification: "20000055555555", Name: "Corner Cafe Ltd"},
//		}},
//		Risk: bankbridge.OBRisk1{},
//	})
//	// … authorise pc.Data.ConsentId, then with that token:
//	pay, err := c.API(payTok).CreateDomesticPayment(ctx, bankbridge.PaymentFor(pc))
//	status, err := c.API(payTok).DomesticPayment(ctx, pay.Data.DomesticPaymentId)
//
// # Errors
//
//	var p *bankbridge.Problem
//	if errors.As(err, &p) {
//		log.Printf("%s (%s), interaction %s", p.Detail, p.Code, p.InteractionID)
//	}
//	var oe *bankbridge.OAuthError
//	if errors.As(err, &oe) && oe.Code == "access_denied" { /* the customer declined */ }
//
// # Keys and state
//
// Tokens and authorization codes are bound to the Client's DPoP key: a
// process that restarts between PushAuthorization and ExchangeCode, or that
// keeps tokens, must give the same Config.DPoPKey again. PendingAuthorization
// and Token marshal to JSON for a session store.
//
// # Webhooks
//
//	v := &bankbridge.WebhookVerifier{Keys: []string{endpoint.Secret}}
//	http.Handle("/hooks", bankbridge.WebhookHandler(v, func(ctx context.Context, ev *bankbridge.WebhookEvent) error {
//		if ev.Type == "payment.status_changed" {
//			var d bankbridge.PaymentStatusChangedEventData
//			if err := ev.DecodeData(&d); err != nil {
//				return err
//			}
//			…
//		}
//		return nil
//	}))
package bankbridge

//go:generate go run github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen@v2.8.2 -config oapi-codegen.yaml openapi.json
