package wallet

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	bankbridge "github.com/bankbridge/bankbridge/sdk/go"
)

// The wallet against the real platform is TestSDKWalletExample in
// cmd/bankbridge; these are the paths that need no bank.

const secret = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="

func mustWallet(t *testing.T) *Wallet {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	bank, err := bankbridge.New(bankbridge.Config{Issuer: "http://127.0.0.1:1", ClientID: "app_1", Signer: k, KeyID: "k"})
	if err != nil {
		t.Fatal(err)
	}
	w, err := New(Config{Bank: bank, BaseURL: "http://localhost:3000/", WebhookKeys: []string{secret}})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestNewConfig(t *testing.T) {
	if _, err := New(Config{}); err == nil || err.Error() != "wallet: Config.Bank is required" {
		t.Fatalf("err %v", err)
	}
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	bank, _ := bankbridge.New(bankbridge.Config{Issuer: "http://127.0.0.1:1", ClientID: "app_1", Signer: k, KeyID: "k"})
	if _, err := New(Config{Bank: bank, BaseURL: "/relative"}); err == nil || err.Error() != `wallet: Config.BaseURL "/relative" must be an absolute URL` {
		t.Fatalf("err %v", err)
	}
}

func TestRoutesWithoutBank(t *testing.T) {
	w := mustWallet(t)
	for _, tc := range []struct {
		name, method, path string
		status             int
		location, body     string
	}{
		{"ok/home", "GET", "/", 200, "", "Connect your bank"},
		{"ok/pay-form", "GET", "/pay", 200, "", `<form method="post" action="/pay">`},
		{"fail/callback-without-authorization", "GET", "/callback?code=x&state=y", 400, "", "No authorization in progress"},
		{"fail/accounts-not-connected", "GET", "/accounts", 303, "/connect", ""},
		{"fail/unknown-payment", "GET", "/payments/pay_1", 404, "", "This payment was not made in this session."},
		{"fail/unknown-route", "GET", "/nope", 404, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			w.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			if rec.Code != tc.status || rec.Header().Get("Location") != tc.location || !strings.Contains(rec.Body.String(), tc.body) {
				t.Fatalf("%d %q\n%s", rec.Code, rec.Header().Get("Location"), rec.Body)
			}
		})
	}
	t.Run("ok/session-cookie", func(t *testing.T) {
		rec := httptest.NewRecorder()
		w.ServeHTTP(rec, httptest.NewRequest("GET", "/accounts", nil))
		c := rec.Result().Cookies()
		if len(c) != 1 || c[0].Name != sessionCookie || !c[0].HttpOnly || c[0].SameSite != http.SameSiteLaxMode || c[0].Secure {
			t.Fatalf("cookies %+v", c)
		}
	})
}

func TestWebhooks(t *testing.T) {
	w := mustWallet(t)
	body := `{"type":"payment.status_changed","timestamp":"2026-01-01T00:00:00Z","data":{"event_id":"evt_1","partner_id":"ptn_1","app_id":"app_1","payment_id":"pay_1","status":"AcceptedSettlementCompleted"}}`
	send := func(id, sig string) int {
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		if sig == "" {
			k, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
			m := hmac.New(sha256.New, k)
			m.Write([]byte(id + "." + ts + "." + body))
			sig = "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
		}
		r := httptest.NewRequest("POST", "/webhooks", strings.NewReader(body))
		r.Header.Set("webhook-id", id)
		r.Header.Set("webhook-timestamp", ts)
		r.Header.Set("webhook-signature", sig)
		rec := httptest.NewRecorder()
		w.ServeHTTP(rec, r)
		return rec.Code
	}
	if st := send("evt_1", "v1,AAAA"); st != 401 || len(w.Webhooks()) != 0 {
		t.Fatalf("forged: %d %v", st, w.Webhooks())
	}
	if st := send("evt_1", ""); st != 204 {
		t.Fatalf("signed: %d", st)
	}
	if st := send("evt_1", ""); st != 204 {
		t.Fatalf("retry: %d", st)
	}
	if got := w.Webhooks(); len(got) != 1 || got[0] != (WebhookNote{ID: "evt_1", Type: "payment.status_changed", PaymentID: "pay_1", Status: "AcceptedSettlementCompleted"}) {
		t.Fatalf("webhooks %+v (a retry must not count twice)", got)
	}
}
