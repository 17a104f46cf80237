package bankbridge_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"

	bankbridge "github.com/bankbridge/bankbridge/sdk/go"
)

// A wallet connects a customer's accounts, reads the transactions and pays
// a merchant (compiled, not run: it needs a platform and a customer).
func Example() {
	ctx := context.Background()
	key, err := os.ReadFile("app-key.json") // the app's private JWK
	if err != nil {
		log.Fatal(err)
	}
	c, err := bankbridge.New(bankbridge.Config{Issuer: "https://bank.example", ClientID: "app_123", PrivateJWK: key})
	if err != nil {
		log.Fatal(err)
	}

	// The app's own token creates the consents.
	app, err := c.ClientCredentials(ctx, "accounts payments")
	if err != nil {
		log.Fatal(err)
	}
	consent, err := c.API(app).CreateAccountAccessConsent(ctx, bankbridge.OBReadConsent1{
		Data: bankbridge.OBReadConsent1Data{Permissions: []bankbridge.Permission{
			bankbridge.PermissionReadAccountsDetail, bankbridge.PermissionReadBalances,
			bankbridge.PermissionReadTransactionsDetail, bankbridge.PermissionReadTransactionsCredits,
			bankbridge.PermissionReadTransactionsDebits,
		}},
	})
	if err != nil {
		log.Fatal(err)
	}

	// The customer authorises it at the bank.
	pending, err := c.PushAuthorization(ctx, bankbridge.AuthorizationRequest{
		RedirectURI: "https://wallet.example/callback",
		Scope:       "openid accounts",
		AuthorizationDetails: []bankbridge.AuthorizationDetail{
			{Type: bankbridge.DetailAccountAccess, ConsentID: consent.Data.ConsentId},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("send the browser to", pending.URL)
	callback := func(r *http.Request) (*bankbridge.Token, error) {
		return c.ExchangeCode(r.Context(), pending, r.URL.Query())
	}
	var tok *bankbridge.Token // = callback(request to the redirect URI)
	_ = callback

	api := c.API(tok)
	accounts, err := api.Accounts(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, acc := range accounts.Data.Account {
		for t, err := range api.Transactions(ctx, acc.AccountId, nil) {
			if err != nil {
				log.Fatal(err)
			}
			fmt.Println(t.BookingDateTime, t.CreditDebitIndicator, t.Amount.Amount, t.Amount.Currency)
		}
	}

	// A payment: consent, authorisation (as above, with
	// DetailPaymentInitiation and scope "openid payments"), payment.
	pc, err := c.API(app).CreateDomesticPaymentConsent(ctx, bankbridge.OBWriteDomesticConsent4{
		Data: bankbridge.OBWriteDomesticConsent4Data{Initiation: bankbridge.DomesticInitiation{
			InstructionIdentification: "inv-42", EndToEndIdentification: "inv-42",
			InstructedAmount: bankbridge.InstructedAmount{Amount: "12.34", Currency: "GBP"},
			CreditorAccount: bankbridge.CreditorAccount{SchemeName: "UK.OBIE.SortCodeAccountNumber",
				Identification: "20000055555555", Name: "Corner Cafe Ltd"},
		}},
	})
	if err != nil {
		log.Fatal(err)
	}
	var payTok *bankbridge.Token // from ExchangeCode after the customer authorised pc
	pay, err := c.API(payTok).CreateDomesticPayment(ctx, bankbridge.PaymentFor(pc))
	var p *bankbridge.Problem
	if errors.As(err, &p) {
		log.Fatalf("refused: %s (%s), interaction %s", p.Detail, p.Code, p.InteractionID)
	}
	status, err := c.API(payTok).DomesticPayment(ctx, pay.Data.DomesticPaymentId)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(status.Data.Status)
}

// A webhook receiver: the SDK verifies the signature and the timestamp.
func ExampleWebhookHandler() {
	v := &bankbridge.WebhookVerifier{Keys: []string{os.Getenv("WEBHOOK_SECRET")}} // whsec_…
	http.Handle("/webhooks", bankbridge.WebhookHandler(v, func(ctx context.Context, ev *bankbridge.WebhookEvent) error {
		if ev.Type != "payment.status_changed" {
			return nil
		}
		var d bankbridge.PaymentStatusChangedEventData
		if err := ev.DecodeData(&d); err != nil {
			return err
		}
		fmt.Println(ev.ID, d.PaymentId, d.Status) // de-duplicate on ev.ID
		return nil
	}))
}
