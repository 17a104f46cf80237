package apis_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
)

// officialPOSTs reads the official UK OB v3.1.11 documents and returns, for
// every POST operation they define (full path with the server's base path,
// parameters as {Name}), whether x-idempotency-key is a required parameter.
func officialPOSTs(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, s := range officialSpecs {
		b, err := os.ReadFile(filepath.Join(specDir, s.file))
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Servers    []struct{ URL string } `json:"servers"`
			Components struct {
				Parameters map[string]param `json:"parameters"`
			} `json:"components"`
			Paths map[string]map[string]json.RawMessage `json:"paths"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", s.file, err)
		}
		base := doc.Servers[0].URL
		for path, item := range doc.Paths {
			raw, ok := item["post"]
			if !ok {
				continue
			}
			var op struct {
				Parameters []param `json:"parameters"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s POST %s: %v", s.file, path, err)
			}
			required := false
			for _, p := range op.Parameters {
				if p.Ref != "" {
					p = doc.Components.Parameters[strings.TrimPrefix(p.Ref, "#/components/parameters/")]
				}
				if strings.EqualFold(p.Name, apis.IdempotencyHeader) && p.In == "header" && p.Required {
					required = true
				}
			}
			out[base+path] = required
		}
	}
	return out
}

type param struct {
	Ref      string `json:"$ref"`
	Name     string `json:"name"`
	In       string `json:"in"`
	Required bool   `json:"required"`
}

// TestIdempotencyKeyWhereTheSpecRequiresIt derives, from the official
// documents, where x-idempotency-key is required, and checks every POST route
// Register serves against it: where the documents require the key, a POST
// without it is refused with idempotency_key_missing; where they define the
// operation without it (or do not define it: the Bankbridge data-sharing
// consent), a POST without it succeeds, and one with it is still replayed.
// A served POST route without a case here fails the test.
func TestIdempotencyKeyWhereTheSpecRequiresIt(t *testing.T) {
	official := officialPOSTs(t)
	if !official[pisp+"/domestic-payment-consents"] || !official[pisp+"/domestic-payments"] ||
		official[aisp+"/account-access-consents"] || official[apis.BasePath+"/cbpii/funds-confirmation-consents"] {
		t.Fatalf("unexpected reading of the official documents: %v", official)
	}
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		p := e.partner("ptn_idem", environment.Sandbox)
		alice := e.customer("alice")
		debtor := alice.account(core.AccountCurrent).ID
		// Each case builds a fresh, valid request for a served POST route.
		corrected := "" // the payment of the last corrections case built
		cases := map[string]func() (token string, body any){
			aisp + "/account-access-consents": func() (string, any) { return p.token, accountConsentBody(apis.PermBalances) },
			pisp + "/domestic-payment-consents": func() (string, any) {
				return p.token, map[string]any{"Data": map[string]any{"Initiation": initiation("1.00", externalCreditor, "Acme", "idem")}, "Risk": map[string]any{}}
			},
			pisp + "/domestic-payments": func() (string, any) {
				in := initiation("1.00", externalCreditor, "Acme", "idem")
				id, tok := p.paymentConsent(alice, debtor, in)
				return tok, paymentBody(id, in)
			},
			pisp + "/domestic-payments/{DomesticPaymentId}/corrections": func() (string, any) {
				id, _ := p.pay(alice, "1.00", externalCreditor, "idem")
				corrected = id
				return p.token, map[string]any{"Kind": "refund", "Amount": map[string]any{"Amount": "0.10", "Currency": "GBP"}, "Reason": "idem"}
			},
			dataPath + "/data-sharing-consents": func() (string, any) {
				return p.token, map[string]any{"Data": map[string]any{"Datasets": []string{apis.DatasetTransactionInsights}}, "Risk": map[string]any{}}
			},
		}
		var served []string
		for _, r := range e.engine.Routes() {
			if r.Method == "POST" {
				served = append(served, ginParam.ReplaceAllString(r.Path, "{$1}"))
			}
		}
		sort.Strings(served)
		if len(served) != len(cases) {
			t.Fatalf("served POST routes %v; every one needs a case here", served)
		}
		for _, path := range served {
			build, ok := cases[path]
			if !ok {
				t.Fatalf("served POST %s has no case here", path)
			}
			required, defined := official[path]
			name := "ok/optional " + path
			if required {
				name = "fail/required " + path
			}
			t.Run(name, func(t *testing.T) {
				e.t = t
				tok, body := build()
				r := e.do("POST", strings.Replace(path, "{DomesticPaymentId}", corrected, 1), tok, body, withHeader(apis.IdempotencyHeader, ""))
				if required {
					wantProblem(t, r, 400, "idempotency_key_missing", "the x-idempotency-key header is required on POST "+path)
					return
				}
				if !defined && !strings.HasPrefix(path, dataPath+"/") && !strings.HasSuffix(path, "/corrections") {
					t.Fatalf("POST %s is neither in the official documents nor a Bankbridge extension", path)
				}
				wantStatus(t, r, 201)
				// Sent where optional, the key is honoured: the same key
				// replays the first response.
				tok, body = build()
				path := strings.Replace(path, "{DomesticPaymentId}", corrected, 1)
				first := e.do("POST", path, tok, body, withKey("k-"+filepath.Base(path)))
				wantStatus(t, first, 201)
				again := e.do("POST", path, tok, body, withKey("k-"+filepath.Base(path)))
				wantStatus(t, again, 201)
				if again.header.Get(apis.ReplayHeader) != "true" || string(again.body) != string(first.body) {
					t.Fatalf("not replayed: %s %s", again.header, again.body)
				}
			})
		}
	})
}

// TestOpenAPIIdempotencyKeyMatchesTheSpec: /openapi.json marks
// x-idempotency-key required exactly where the official documents do.
func TestOpenAPIIdempotencyKeyMatchesTheSpec(t *testing.T) {
	official := officialPOSTs(t)
	doc := apis.OpenAPI("https://bank.example")
	n := 0
	for path, item := range doc["paths"].(map[string]any) {
		op, ok := item.(map[string]any)["post"].(map[string]any)
		if !ok || !strings.HasPrefix(path, apis.BasePath+"/") {
			continue
		}
		n++
		found := false
		for _, p := range op["parameters"].([]any) {
			pm := p.(map[string]any)
			if pm["name"] == apis.IdempotencyHeader {
				found = true
				if pm["required"] != official[path] {
					t.Errorf("POST %s: x-idempotency-key required %v, official documents %v", path, pm["required"], official[path])
				}
			}
		}
		if !found {
			t.Errorf("POST %s does not document x-idempotency-key", path)
		}
	}
	if n != 5 {
		t.Fatalf("%d POST operations", n)
	}
}
