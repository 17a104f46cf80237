package webhooks

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/httpx"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/oauth"
)

// fakeAuth maps a bearer string to an AccessContext (the real verifier, with
// DPoP, lives in oauth and is tested there).
type fakeAuth map[string]*oauth.AccessContext

func (f fakeAuth) VerifyRequest(_ context.Context, r *http.Request) (*oauth.AccessContext, error) {
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "DPoP ")
	if ac, ok := f[tok]; ok {
		return ac, nil
	}
	if tok == "broken" { // the verifier's own failure (its database, say)
		return nil, &oauth.ResourceError{Status: 500, Code: "server_error", Description: "token lookup failed"}
	}
	return nil, &oauth.ResourceError{Status: 401, Code: "invalid_token", Description: "token unknown or expired",
		WWWAuthenticate: `DPoP error="invalid_token", algs="ES256 PS256"`}
}

var testTokens = fakeAuth{
	"a1":       {ClientID: appA1, PartnerID: partnerA, Environment: environment.Sandbox, Scopes: []string{"webhooks"}},
	"a2":       {ClientID: appA2, PartnerID: partnerA, Environment: environment.Sandbox, Scopes: []string{"webhooks"}},
	"b1":       {ClientID: appB1, PartnerID: partnerB, Environment: environment.Production, Scopes: []string{"webhooks"}},
	"noscope":  {ClientID: appA1, PartnerID: partnerA, Environment: environment.Sandbox, Scopes: []string{"accounts"}},
	"customer": {ClientID: appA1, PartnerID: partnerA, Environment: environment.Sandbox, Scopes: []string{"webhooks"}, CustomerID: "cus_1"},
}

type apiClient struct {
	t   *testing.T
	url string
}

func newAPI(t *testing.T, s *Service) *apiClient {
	gin.SetMode(gin.TestMode)
	r := gin.New()
	r.Use(httpx.InteractionID())
	NewHandler(s, testTokens).Register(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return &apiClient{t: t, url: srv.URL}
}

func (a *apiClient) do(token, method, path, body string) (int, http.Header, map[string]any) {
	a.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, a.url+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "DPoP "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &m); err != nil {
			a.t.Fatalf("%s %s: body %s", method, path, b)
		}
	}
	return resp.StatusCode, resp.Header, m
}

func TestAPIEndpoints(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := mustService(t, d, nil)
		api := newAPI(t, s)
		rc := newReceiver(t, nil)
		runDispatchers(t, s, 1, DispatcherOptions{})

		st, _, m := api.do("a1", "POST", "/webhook-endpoints", `{"url":"`+rc.URL+`/in","event_types":["payment.created","consent.revoked"],"description":"main"}`)
		if st != 201 || !strings.HasPrefix(m["secret"].(string), "whsec_") || m["app_id"] != appA1 || m["environment"] != string(environment.Sandbox) || m["enabled"] != true || m["signing"] != SigningHMAC {
			t.Fatalf("create: %d %v", st, m)
		}
		id, secret := m["id"].(string), m["secret"].(string)
		st, _, m = api.do("a1", "GET", "/webhook-endpoints/"+id, "")
		if st != 200 || m["secret"] != nil || m["url"] != rc.URL+"/in" {
			t.Fatalf("get: %d %v", st, m)
		}
		st, _, m = api.do("a1", "GET", "/webhook-endpoints", "")
		if st != 200 || len(m["data"].([]any)) != 1 {
			t.Fatalf("list: %d %v", st, m)
		}
		if st, _, m = api.do("a2", "GET", "/webhook-endpoints", ""); st != 200 || len(m["data"].([]any)) != 0 {
			t.Fatalf("other app's list: %d %v", st, m)
		}
		st, _, m = api.do("a1", "PATCH", "/webhook-endpoints/"+id, `{"description":"renamed","event_types":["payment.created"]}`)
		if st != 200 || m["description"] != "renamed" || len(m["event_types"].([]any)) != 1 {
			t.Fatalf("patch: %d %v", st, m)
		}
		st, _, m = api.do("a1", "POST", "/webhook-endpoints/"+id+"/test", "")
		if st != 202 || !strings.HasPrefix(m["event_id"].(string), "evt_") {
			t.Fatalf("test: %d %v", st, m)
		}
		evt := m["event_id"].(string)
		eventually(t, "test event logged", func() bool {
			_, _, m := api.do("a1", "GET", "/webhook-endpoints/"+id+"/attempts?event_id="+evt, "")
			return len(m["data"].([]any)) == 1
		})
		r := rc.all()[0]
		if err := Verify(secret, r.Header, r.Body, 0); err != nil {
			t.Fatal(err)
		}
		_, _, m = api.do("a1", "GET", "/webhook-endpoints/"+id+"/attempts", "")
		a := m["data"].([]any)[0].(map[string]any)
		if a["status_code"].(float64) != 204 || a["event_type"] != TestEventType || a["attempt"].(float64) != 1 {
			t.Fatalf("attempt %v", a)
		}
		st, _, m = api.do("a1", "POST", "/webhook-endpoints/"+id+"/rotate-secret", `{"overlap_seconds":60}`)
		if st != 200 || m["secret"] == secret || !strings.HasPrefix(m["secret"].(string), "whsec_") || m["previous_valid_until"] == nil {
			t.Fatalf("rotate: %d %v", st, m)
		}
		st, _, m = api.do("a1", "POST", "/webhook-endpoints/"+id+"/rotate-secret", "")
		if st != 200 || m["previous_valid_until"] == nil {
			t.Fatalf("rotate with default overlap: %d %v", st, m)
		}
		st, _, m = api.do("a1", "POST", "/webhook-endpoints", `{"url":"`+rc.URL+`/ed","event_types":["payment.created"],"signing":"ed25519"}`)
		if st != 201 || m["secret"] != nil || !strings.HasPrefix(m["public_key"].(string), "whpk_") {
			t.Fatalf("create ed25519: %d %v", st, m)
		}
		st, _, keys := api.do("", "GET", "/webhooks/public-keys", "")
		if st != 200 || len(keys["keys"].([]any)) != 1 || keys["keys"].([]any)[0].(map[string]any)["public_key"] != m["public_key"] {
			t.Fatalf("public keys: %d %v", st, keys)
		}
		if st, _, m = api.do("a1", "POST", "/webhook-endpoints/"+id+"/replay", `{"from":"2020-01-01T00:00:00Z","to":"2100-01-01T00:00:00Z"}`); st != 202 || m["queued"].(float64) != 0 {
			t.Fatalf("replay: %d %v", st, m)
		}
		if st, _, _ = api.do("a1", "DELETE", "/webhook-endpoints/"+id, ""); st != 204 {
			t.Fatalf("delete: %d", st)
		}
		if st, _, _ = api.do("a1", "GET", "/webhook-endpoints/"+id, ""); st != 404 {
			t.Fatalf("get after delete: %d", st)
		}
	})
}

func TestAPIRefusals(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := mustService(t, d, func(c *Config) { c.AllowLoopback = false })
		api := newAPI(t, s)
		e, _ := mustCreate(t, s, Scope{PartnerID: partnerA, AppID: appA1}, environment.Production, EndpointInput{URL: "https://hooks.example.com/a", EventTypes: []string{"payment.created"}})
		ok := `{"url":"https://hooks.example.com/x","event_types":["payment.created"]}`
		cases := []struct {
			name, token, method, path, body string
			status                          int
			code, detail, wwwAuth           string
		}{
			{"fail/no-token", "", "GET", "/webhook-endpoints", "", 401, "invalid_token", "token unknown or expired", `DPoP error="invalid_token", algs="ES256 PS256"`},
			{"fail/bad-token", "nope", "POST", "/webhook-endpoints", ok, 401, "invalid_token", "token unknown or expired", `DPoP error="invalid_token", algs="ES256 PS256"`},
			{"fail/verifier-server-error", "broken", "GET", "/webhook-endpoints", "", 500, "internal_error", "token lookup failed", ""},
			{"fail/missing-scope", "noscope", "GET", "/webhook-endpoints", "", 403, "insufficient_scope", "the access token lacks scope webhooks", `DPoP error="insufficient_scope", error_description="the access token lacks scope webhooks", scope="webhooks"`},
			{"fail/customer-token", "customer", "GET", "/webhook-endpoints", "", 403, "forbidden", "webhook endpoints are managed with a client_credentials token, not a customer's token", ""},
			{"fail/other-app-get", "a2", "GET", "/webhook-endpoints/" + e.ID, "", 404, "not_found", "webhook endpoint " + e.ID + " not found", ""},
			{"fail/other-partner-get", "b1", "GET", "/webhook-endpoints/" + e.ID, "", 404, "not_found", "webhook endpoint " + e.ID + " not found", ""},
			{"fail/other-app-patch", "a2", "PATCH", "/webhook-endpoints/" + e.ID, `{"description":"x"}`, 404, "not_found", "webhook endpoint " + e.ID + " not found", ""},
			{"fail/other-app-delete", "a2", "DELETE", "/webhook-endpoints/" + e.ID, "", 404, "not_found", "webhook endpoint " + e.ID + " not found", ""},
			{"fail/other-app-rotate", "b1", "POST", "/webhook-endpoints/" + e.ID + "/rotate-secret", "", 404, "not_found", "webhook endpoint " + e.ID + " not found", ""},
			{"fail/other-app-test", "a2", "POST", "/webhook-endpoints/" + e.ID + "/test", "", 404, "not_found", "webhook endpoint " + e.ID + " not found", ""},
			{"fail/other-app-attempts", "a2", "GET", "/webhook-endpoints/" + e.ID + "/attempts", "", 404, "not_found", "webhook endpoint " + e.ID + " not found", ""},
			{"fail/unknown-id", "a1", "GET", "/webhook-endpoints/whe_nope", "", 404, "not_found", "webhook endpoint whe_nope not found", ""},
			{"fail/malformed-json", "a1", "POST", "/webhook-endpoints", `{"url":`, 400, "malformed_json", "request body ends in the middle of a JSON value", ""},
			{"fail/unknown-field", "a1", "POST", "/webhook-endpoints", `{"url":"https://hooks.example.com/x","event_types":["payment.created"],"secret":"mine"}`, 400, "malformed_json", `unknown field "secret"`, ""},
			{"fail/wrong-type", "a1", "POST", "/webhook-endpoints", `{"url":"https://hooks.example.com/x","event_types":"payment.created"}`, 400, "malformed_json", `field "event_types": expected []string, got JSON string`, ""},
			{"fail/invalid-url", "a1", "POST", "/webhook-endpoints", `{"url":"not a url","event_types":["payment.created"]}`, 422, "validation_failed", "url must be an absolute http(s) URL", ""},
			{"fail/http-url", "a1", "POST", "/webhook-endpoints", `{"url":"http://hooks.example.com/x","event_types":["payment.created"]}`, 422, "validation_failed", "url must use https", ""},
			{"fail/loopback-url", "a1", "POST", "/webhook-endpoints", `{"url":"https://127.0.0.1/x","event_types":["payment.created"]}`, 422, "validation_failed", `url host "127.0.0.1": 127.0.0.1 is a loopback address`, ""},
			{"fail/unknown-event-type", "a1", "POST", "/webhook-endpoints", `{"url":"https://hooks.example.com/x","event_types":["payment.teleported"]}`, 422, "validation_failed", `unknown event type "payment.teleported"`, ""},
			{"fail/patch-unknown-event-type", "a1", "PATCH", "/webhook-endpoints/" + e.ID, `{"event_types":["nope"]}`, 422, "validation_failed", `unknown event type "nope"`, ""},
			{"fail/patch-private-url", "a1", "PATCH", "/webhook-endpoints/" + e.ID, `{"url":"https://private.example.com/"}`, 422, "validation_failed", `url host "private.example.com": 10.1.2.3 is a private address`, ""},
			{"fail/bad-signing", "a1", "POST", "/webhook-endpoints", `{"url":"https://hooks.example.com/x","event_types":["payment.created"],"signing":"none"}`, 422, "validation_failed", `signing must be "hmac-sha256" or "ed25519"`, ""},
			{"fail/not-json", "a1", "POST", "/webhook-endpoints", "", 415, "unsupported_media_type", `Content-Type must be application/json, got ""`, ""},
			{"fail/rotate-overlap", "a1", "POST", "/webhook-endpoints/" + e.ID + "/rotate-secret", `{"overlap_seconds":-1}`, 422, "validation_failed", "overlap_seconds must be between 0 and 604800", ""},
			{"fail/attempts-limit", "a1", "GET", "/webhook-endpoints/" + e.ID + "/attempts?limit=0", "", 400, "invalid_request", "limit must be an integer between 1 and 500", ""},
			{"fail/attempts-failed", "a1", "GET", "/webhook-endpoints/" + e.ID + "/attempts?failed=maybe", "", 400, "invalid_request", "failed must be true or false", ""},
			{"fail/replay-range", "a1", "POST", "/webhook-endpoints/" + e.ID + "/replay", `{"from":"2026-01-02T00:00:00Z","to":"2026-01-01T00:00:00Z"}`, 422, "validation_failed", "replay range must have from before to", ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				st, h, m := api.do(tc.token, tc.method, tc.path, tc.body)
				if st != tc.status || m["code"] != tc.code || m["detail"] != tc.detail || m["type"] != "urn:bankbridge:problem:"+tc.code {
					t.Fatalf("got %d %v, want %d %s: %s", st, m, tc.status, tc.code, tc.detail)
				}
				if want := problem.Code(tc.code).Title(); m["title"] != want {
					t.Fatalf("title %v, want %q", m["title"], want)
				}
				if h.Get("Content-Type") != "application/problem+json" {
					t.Fatalf("content-type %q", h.Get("Content-Type"))
				}
				if h.Get("WWW-Authenticate") != tc.wwwAuth {
					t.Fatalf("WWW-Authenticate %q, want %q", h.Get("WWW-Authenticate"), tc.wwwAuth)
				}
			})
		}
		// Nothing leaked or changed by the refused calls.
		got, _ := s.GetEndpoint(context.Background(), Scope{PartnerID: partnerA, AppID: appA1}, e.ID)
		if got.Description != "" || got.URL != "https://hooks.example.com/a" {
			t.Fatalf("endpoint changed: %+v", got)
		}
	})
}
