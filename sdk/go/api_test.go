package bankbridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"
)

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestProblemDecoding(t *testing.T) {
	key := mustECKey(t, "k1")
	b := newFakeBank(t, key)
	c := b.client(t, key, func(c *Config) { c.RateLimitRetries = -1 }) // see the 429 itself
	api := c.API(appToken(t, c))
	const path = "/open-banking/v3.1/aisp/accounts"
	cases := []struct {
		name    string
		handler func(w http.ResponseWriter, r *http.Request, body []byte)
		want    Problem
		ext     string
	}{
		{"fail/problem-json", func(w http.ResponseWriter, r *http.Request, _ []byte) {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(422)
			w.Write([]byte(`{"type":"urn:bankbridge:problem:validation_failed","title":"Validation failed","status":422,
				"detail":"Data.Permissions: must not be empty","instance":"/open-banking/v3.1/aisp/accounts","code":"validation_failed",
				"errors":[{"field":"Data.Permissions","message":"must not be empty"}]}`))
		}, Problem{Type: "urn:bankbridge:problem:validation_failed", Title: "Validation failed", Status: 422,
			Detail: "Data.Permissions: must not be empty", Instance: path, Code: ProblemCodeValidationFailed}, `[{"field":"Data.Permissions","message":"must not be empty"}]`},
		{"fail/rate-limited", func(w http.ResponseWriter, r *http.Request, _ []byte) {
			w.Header().Set("Retry-After", "7")
			writeProblem(w, 429, "rate_limited", "Too many requests; retry in 7 s.")
		}, Problem{Type: "urn:bankbridge:problem:rate_limited", Title: "rate_limited", Status: 429, Detail: "Too many requests; retry in 7 s.",
			Code: ProblemCodeRateLimited, RetryAfter: 7 * time.Second}, ""},
		{"fail/insufficient-scope", func(w http.ResponseWriter, r *http.Request, _ []byte) {
			w.Header().Set("WWW-Authenticate", `DPoP error="insufficient_scope", error_description="the access token lacks scope accounts", scope="accounts"`)
			writeProblem(w, 403, "insufficient_scope", "the access token lacks scope accounts")
		}, Problem{Type: "urn:bankbridge:problem:insufficient_scope", Title: "insufficient_scope", Status: 403,
			Detail: "the access token lacks scope accounts", Code: ProblemCodeInsufficientScope, Challenge: "insufficient_scope"}, ""},
		{"fail/not-a-problem", func(w http.ResponseWriter, r *http.Request, _ []byte) {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(502)
			w.Write([]byte("upstream gateway error\n"))
		}, Problem{Type: "about:blank", Title: "Bad Gateway", Status: 502, Detail: "upstream gateway error"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b.handle("GET "+path, tc.handler)
			_, err := api.Accounts(ctx, WithInteractionID("5f6c4a46-9a4b-4c2e-8d1e-0a4c1f2b3c4d"))
			var p *Problem
			if !errors.As(err, &p) {
				t.Fatalf("err %T %v, want *Problem", err, err)
			}
			got := *p
			if string(got.Extensions["errors"]) != tc.ext {
				t.Errorf("extension errors %s, want %s", got.Extensions["errors"], tc.ext)
			}
			if got.InteractionID != "5f6c4a46-9a4b-4c2e-8d1e-0a4c1f2b3c4d" {
				t.Errorf("interaction id %q", got.InteractionID)
			}
			got.Extensions, got.InteractionID = nil, ""
			if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", tc.want) {
				t.Errorf("problem\n%+v\nwant\n%+v", got, tc.want)
			}
			if tc.want.Code != "" && !errors.Is(err, &Problem{Code: tc.want.Code}) {
				t.Error("errors.Is by code failed")
			}
			if errors.Is(err, &Problem{Code: ProblemCodeConsentRevoked}) {
				t.Error("errors.Is matched another code")
			}
		})
	}
	t.Run("fail/error-string", func(t *testing.T) {
		b.handle("GET "+path, func(w http.ResponseWriter, r *http.Request, _ []byte) {
			writeProblem(w, 403, "consent_revoked", "The consent was revoked.")
		})
		_, err := api.Accounts(ctx)
		if err == nil || err.Error() != "bankbridge: 403 consent_revoked: The consent was revoked." {
			t.Fatalf("err %v", err)
		}
	})
}

func TestHeaders(t *testing.T) {
	key := mustECKey(t, "k1")
	b := newFakeBank(t, key)
	c := b.client(t, key)
	api := c.API(appToken(t, c))
	replay := false
	b.handle("POST /open-banking/v3.1/aisp/account-access-consents", func(w http.ResponseWriter, r *http.Request, body []byte) {
		if replay {
			w.Header().Set(HeaderIdempotentReplay, "true")
		}
		replay = true
		writeJSON(w, 201, map[string]any{"Data": map[string]any{"ConsentId": "cns_1", "Status": "AwaitingAuthorisation",
			"Permissions": []string{"ReadAccountsBasic"}, "CreationDateTime": "2026-01-01T00:00:00Z", "StatusUpdateDateTime": "2026-01-01T00:00:00Z"}, "Risk": map[string]any{}})
	})
	b.handle("GET /open-banking/v3.1/aisp/account-access-consents/cns_1", func(w http.ResponseWriter, r *http.Request, body []byte) {
		writeJSON(w, 200, map[string]any{"Data": map[string]any{"ConsentId": "cns_1", "Status": "Authorised"}, "Risk": map[string]any{}})
	})
	req := OBReadConsent1{Data: OBReadConsent1Data{Permissions: []Permission{PermissionReadAccountsBasic}}}

	t.Run("ok/default-keys", func(t *testing.T) {
		var info ResponseInfo
		res, err := api.CreateAccountAccessConsent(ctx, req, WithResponseInfo(&info))
		if err != nil {
			t.Fatal(err)
		}
		r := b.recordedRequests()
		last := r[len(r)-1]
		key, iid := last.Header.Get(HeaderIdempotencyKey), last.Header.Get(HeaderInteractionID)
		if !uuidV4.MatchString(key) || !uuidV4.MatchString(iid) || key == iid {
			t.Fatalf("idempotency key %q, interaction id %q: want two fresh UUIDs", key, iid)
		}
		if info.StatusCode != 201 || info.InteractionID != iid || info.IdempotencyKey != key || info.IdempotentReplay {
			t.Fatalf("info %+v", info)
		}
		// A nil Risk goes out as {} (the document requires the object).
		if last.Body != `{"Data":{"Permissions":["ReadAccountsBasic"]},"Risk":{}}` || last.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("body %s", last.Body)
		}
		if res.Data.ConsentId != "cns_1" || res.Data.Status != AccountAccessConsentStatusAwaitingAuthorisation {
			t.Fatalf("%+v", res)
		}
	})
	t.Run("ok/given-keys", func(t *testing.T) {
		var info ResponseInfo
		_, err := api.CreateAccountAccessConsent(ctx, req, WithIdempotencyKey("idem-1"), WithInteractionID("iid-1"),
			WithHeader("x-fapi-customer-ip-address", "192.0.2.1"), WithResponseInfo(&info))
		if err != nil {
			t.Fatal(err)
		}
		r := b.recordedRequests()
		last := r[len(r)-1]
		if last.Header.Get(HeaderIdempotencyKey) != "idem-1" || last.Header.Get(HeaderInteractionID) != "iid-1" || last.Header.Get("x-fapi-customer-ip-address") != "192.0.2.1" {
			t.Fatalf("headers %v", last.Header)
		}
		if !info.IdempotentReplay || info.InteractionID != "iid-1" {
			t.Fatalf("info %+v", info)
		}
	})
	t.Run("ok/get-has-no-idempotency-key", func(t *testing.T) {
		if _, err := api.AccountAccessConsent(ctx, "cns_1"); err != nil {
			t.Fatal(err)
		}
		r := b.recordedRequests()
		last := r[len(r)-1]
		if last.Header.Get(HeaderIdempotencyKey) != "" || !uuidV4.MatchString(last.Header.Get(HeaderInteractionID)) || last.Body != "" {
			t.Fatalf("GET headers %v body %q", last.Header, last.Body)
		}
	})
	t.Run("fail/no-token", func(t *testing.T) {
		_, err := c.API(nil).Accounts(ctx)
		if err == nil || err.Error() != "bankbridge: GET /open-banking/v3.1/aisp/accounts: no access token" {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("fail/foreign-url", func(t *testing.T) {
		err := api.Do(ctx, "GET", "https://evil.example/steal", nil, nil)
		if !errors.Is(err, ErrForeignLink) {
			t.Fatalf("err %v", err)
		}
	})
}

// transactionPages serves n pages of 2 transactions, linked with absolute
// Links.Next URLs as the platform writes them.
func transactionPages(b *fakeBank, n int, nextOf func(page int) string) {
	b.handle("GET /open-banking/v3.1/aisp/accounts/acc_1/transactions", func(w http.ResponseWriter, r *http.Request, _ []byte) {
		page := 0
		if cur := r.URL.Query().Get("cursor"); cur != "" {
			page, _ = strconv.Atoi(cur)
		}
		var txns []map[string]any
		for i := range 2 {
			txns = append(txns, map[string]any{"AccountId": "acc_1", "TransactionId": fmt.Sprintf("txn_%d_%d", page, i),
				"Amount": map[string]string{"Amount": "1.00", "Currency": "GBP"}, "CreditDebitIndicator": "Debit", "Status": "Booked",
				"BookingDateTime": "2026-01-01T00:00:00Z"})
		}
		links := map[string]string{"Self": b.srv.URL + r.URL.RequestURI()}
		if page+1 < n {
			links["Next"] = nextOf(page + 1)
		}
		writeJSON(w, 200, map[string]any{"Data": map[string]any{"Transaction": txns}, "Links": links, "Meta": map[string]any{}})
	})
}

func TestPagination(t *testing.T) {
	key := mustECKey(t, "k1")
	b := newFakeBank(t, key)
	c := b.client(t, key)
	api := c.API(appToken(t, c))
	const path = "/open-banking/v3.1/aisp/accounts/acc_1/transactions"
	own := func(p int) string {
		return fmt.Sprintf("%s%s?cursor=%d&fromBookingDateTime=2026-01-01T00%%3A00%%3A00Z", b.srv.URL, path, p)
	}
	t.Run("ok/pages", func(t *testing.T) {
		transactionPages(b, 3, own)
		before := b.hitCount(path)
		var pages, items int
		for page, err := range api.TransactionPages(ctx, "acc_1", &TransactionQuery{From: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}) {
			if err != nil {
				t.Fatal(err)
			}
			pages++
			items += len(page.Data.Transaction)
		}
		if pages != 3 || items != 6 || b.hitCount(path)-before != 3 {
			t.Fatalf("pages %d items %d hits %d", pages, items, b.hitCount(path)-before)
		}
		r := b.recordedRequests()
		if r[len(r)-3].RawQuery != "fromBookingDateTime=2026-01-01T00%3A00%3A00Z" || r[len(r)-1].RawQuery != "cursor=2&fromBookingDateTime=2026-01-01T00%3A00%3A00Z" {
			t.Fatalf("queries %q, %q", r[len(r)-3].RawQuery, r[len(r)-1].RawQuery)
		}
	})
	t.Run("ok/items-in-order", func(t *testing.T) {
		transactionPages(b, 3, own)
		var ids []string
		for txn, err := range api.Transactions(ctx, "acc_1", nil) {
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, *txn.TransactionId)
		}
		if fmt.Sprint(ids) != "[txn_0_0 txn_0_1 txn_1_0 txn_1_1 txn_2_0 txn_2_1]" {
			t.Fatalf("ids %v", ids)
		}
	})
	t.Run("ok/stop-early", func(t *testing.T) {
		transactionPages(b, 50, own)
		before := b.hitCount(path)
		n := 0
		for _, err := range api.Transactions(ctx, "acc_1", nil) {
			if err != nil {
				t.Fatal(err)
			}
			if n++; n == 3 {
				break
			}
		}
		if got := b.hitCount(path) - before; got != 2 {
			t.Fatalf("fetched %d pages for 3 items, want 2", got)
		}
	})
	t.Run("fail/foreign-next", func(t *testing.T) {
		transactionPages(b, 3, func(p int) string { return "https://evil.example" + path + "?cursor=1" })
		var got []error
		pages := 0
		for page, err := range api.TransactionPages(ctx, "acc_1", nil) {
			if err != nil {
				got = append(got, err)
				continue
			}
			pages++
			_ = page
		}
		if pages != 1 || len(got) != 1 || !errors.Is(got[0], ErrForeignLink) {
			t.Fatalf("pages %d errors %v", pages, got)
		}
	})
	t.Run("fail/error-mid-way", func(t *testing.T) {
		transactionPages(b, 3, func(p int) string { return own(p) + "&boom=1" })
		b.mu.Lock()
		inner := b.resources["GET "+path]
		b.mu.Unlock()
		b.handle("GET "+path, func(w http.ResponseWriter, r *http.Request, body []byte) {
			if r.URL.Query().Get("boom") != "" {
				writeProblem(w, 400, "invalid_request", "cursor is not valid for this account and query")
				return
			}
			inner(w, r, body)
		})
		var n int
		var last error
		for _, err := range api.Transactions(ctx, "acc_1", nil) {
			if err != nil {
				last = err
				continue
			}
			n++
		}
		if n != 2 || !errors.Is(last, &Problem{Code: ProblemCodeInvalidRequest}) {
			t.Fatalf("items %d, err %v", n, last)
		}
	})
}

func TestAuthParam(t *testing.T) {
	for _, tc := range []struct {
		name, header, want string
	}{
		{"ok/quoted", `DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"`, "use_dpop_nonce"},
		{"ok/token", `DPoP algs="ES256 PS256", error=invalid_token`, "invalid_token"},
		{"ok/escaped", `DPoP error_description="say \"hi\", error=\"x\"", error="insufficient_scope"`, "insufficient_scope"},
		{"fail/none", `DPoP algs="ES256 PS256"`, ""},
		{"fail/scheme-only", `DPoP`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := authParam([]string{tc.header}, "error"); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestAuthorizationDetailJSON(t *testing.T) {
	var d AuthorizationDetail
	if err := json.Unmarshal([]byte(`{"type":"account_access","consent_id":"cns_1","accounts":["acc_1"]}`), &d); err != nil {
		t.Fatal(err)
	}
	if d.Type != "account_access" || d.ConsentID != "cns_1" || string(d.Extra["accounts"]) != `["acc_1"]` {
		t.Fatalf("%+v", d)
	}
	b, _ := json.Marshal(d)
	if string(b) != `{"accounts":["acc_1"],"consent_id":"cns_1","type":"account_access"}` {
		t.Fatalf("%s", b)
	}
}

func TestRateLimitRetry(t *testing.T) {
	key := mustECKey(t, "k1")
	b := newFakeBank(t, key)
	const path = "/open-banking/v3.1/aisp/accounts"
	limited, busy := 0, false
	retryAfter := "1"
	b.handle("GET "+path, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		if limited > 0 {
			limited--
			w.Header().Set("Retry-After", retryAfter)
			if busy {
				writeProblem(w, 503, "server_busy", "busy")
				return
			}
			writeProblem(w, 429, "rate_limited", "app exceeded its accounts rate limit")
			return
		}
		writeJSON(w, 200, map[string]any{"Data": map[string]any{"Account": []any{}}})
	})
	for _, tc := range []struct {
		name       string
		cfg        func(*Config)
		limited    int
		busy       bool // 503 server_busy instead of 429
		retryAfter string
		hits       int
		waits      []time.Duration
		wantErr    bool
	}{
		{"ok/retried-after-wait", nil, 2, false, "1", 3, []time.Duration{time.Second, time.Second}, false},
		{"fail/retries-exhausted", nil, 5, false, "1", 4, []time.Duration{time.Second, time.Second, time.Second}, true},
		{"fail/wait-too-long", nil, 1, false, "3600", 1, nil, true},
		{"fail/disabled", func(c *Config) { c.RateLimitRetries = -1 }, 1, false, "1", 1, nil, true},
		{"ok/longer-wait-allowed", func(c *Config) { c.MaxRetryAfter = 2 * time.Hour }, 1, false, "3600", 2, []time.Duration{time.Hour}, false},
		{"ok/busy", nil, 1, true, "2", 2, []time.Duration{2 * time.Second}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mods := []func(*Config){}
			if tc.cfg != nil {
				mods = append(mods, tc.cfg)
			}
			c := b.client(t, key, mods...)
			var waits []time.Duration
			c.sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
			tok := appToken(t, c)
			b.set(func(*fakeBank) { limited, busy, retryAfter = tc.limited, tc.busy, tc.retryAfter })
			before := b.hitCount(path)
			_, err := c.API(tok).Accounts(ctx)
			if hits := b.hitCount(path) - before; hits != tc.hits || fmt.Sprint(waits) != fmt.Sprint(tc.waits) {
				t.Fatalf("hits %d waits %v, want %d and %v", hits, waits, tc.hits, tc.waits)
			}
			var p *Problem
			if tc.wantErr != (err != nil) || tc.wantErr && (!errors.As(err, &p) || p.Code != ProblemCodeRateLimited) {
				t.Fatalf("err %v", err)
			}
		})
	}
}
