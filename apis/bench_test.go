package apis_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/oauth"
)

// Benchmarks go through the real middleware chain (interaction id, request
// log, fake verifier, scope, consent, idempotency, metering) over real HTTP.
// Run: go test ./apis -run XXX -bench . -benchtime 5s [-cpuprofile cpu.out]
// with BANKBRIDGE_TEST_POSTGRES set for the postgres variants.

func benchDo(b *testing.B, e *env, method, path, token, key string, body []byte) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	r, _ := http.NewRequest(method, e.srv.URL+path, rd)
	r.Header.Set("Authorization", "DPoP "+token)
	r.Header.Set("DPoP", "proof")
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("x-idempotency-key", key)
	}
	res, err := e.srv.Client().Do(r)
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		b.Fatalf("%s %s: %d", method, path, res.StatusCode)
	}
}

func BenchmarkTransactions(b *testing.B) {
	for _, eng := range dbtest.Engines() {
		b.Run(eng.Name, func(b *testing.B) {
			e := newEnv(b, eng.Open(b))
			p := e.partner("ptn_bench", oauth.EnvSandbox)
			alice := e.customer("alice")
			cur := alice.account(core.AccountCurrent)
			_, tok := p.accountConsent(alice, allPerms, cur.ID)
			path := aisp + "/accounts/" + cur.ID + "/transactions"
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				benchDo(b, e, "GET", path, tok, "", nil)
			}
		})
	}
}

func BenchmarkDomesticPayment(b *testing.B) {
	for _, eng := range dbtest.Engines() {
		b.Run(eng.Name, func(b *testing.B) {
			e := newEnv(b, eng.Open(b))
			p := e.partner("ptn_bench", oauth.EnvSandbox)
			alice := e.customer("alice")
			cur := alice.account(core.AccountCurrent)
			cc := &oauth.AccessContext{ClientID: p.app, PartnerID: p.id, Environment: p.envn}
			in := initiation("0.01", externalCreditor, "Acme Ltd", "BENCH")
			raw, _ := json.Marshal(map[string]any{"Data": map[string]any{"Initiation": in}, "Risk": map[string]any{}})
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				var req apis.OBWriteDomesticConsent4
				if err := json.Unmarshal(raw, &req); err != nil {
					b.Fatal(err)
				}
				c, err := e.svc.CreatePaymentConsent(ctx, cc, &req, apis.Actor{Type: "partner", ID: p.app})
				if err != nil {
					b.Fatal(err)
				}
				det := []oauth.AuthorizationDetail{{Type: apis.TypePaymentInitiation, ConsentID: c.ID}}
				out, err := e.svc.Broker().Decide(ctx, p.client(), alice.id, det, true, map[string][]string{c.ID: {cur.ID}})
				if err != nil {
					b.Fatal(err)
				}
				tok := fmt.Sprintf("bench-%d", i)
				e.verifier.add(tok, &oauth.AccessContext{ClientID: p.app, PartnerID: p.id, Environment: p.envn,
					CustomerID: alice.id, Scopes: []string{apis.ScopePayments}, AuthorizationDetails: out})
				body, _ := json.Marshal(paymentBody(c.ID, in))
				b.StartTimer()
				benchDo(b, e, "POST", pisp+"/domestic-payments", tok, fmt.Sprintf("k-%d", i), body)
			}
		})
	}
}
