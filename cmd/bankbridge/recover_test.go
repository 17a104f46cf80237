package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/internal/httpx"
	"github.com/bankbridge/bankbridge/web"
)

// TestRecoverPanics: a panicking handler answers a 500 in its surface's form
// (problem+json for partner APIs, RFC 6749 JSON for the OAuth JSON endpoints,
// the HTML error page for pages), and the server keeps serving.
func TestRecoverPanics(t *testing.T) {
	gin.SetMode(gin.TestMode)
	p := &Platform{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Pages: web.MustRenderer()}
	r := gin.New()
	r.Use(p.recoverPanics(), httpx.InteractionID())
	boom := func(*gin.Context) { panic("boom") }
	for _, path := range []string{"/open-banking/v3.1/aisp/accounts", "/webhook-endpoints", "/token", "/par", "/portal", "/console/partners", "/customer", "/docs"} {
		r.GET(path, boom)
	}
	r.GET("/healthz", func(c *gin.Context) { c.String(http.StatusOK, "ok") })
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)

	cases := []struct {
		name, path, contentType, wantBody string
	}{
		{"ok/partner-api-problem", "/open-banking/v3.1/aisp/accounts", "application/problem+json", `"code":"internal_error"`},
		{"ok/webhooks-problem", "/webhook-endpoints", "application/problem+json", `"code":"internal_error"`},
		{"ok/oauth-token-json", "/token", "application/json; charset=utf-8", `{"error":"server_error"}`},
		{"ok/oauth-par-json", "/par", "application/json; charset=utf-8", `{"error":"server_error"}`},
		{"ok/portal-page", "/portal", "text/html; charset=utf-8", "Something went wrong"},
		{"ok/console-page", "/console/partners", "text/html; charset=utf-8", "Something went wrong"},
		{"ok/customer-page", "/customer", "text/html; charset=utf-8", "Something went wrong"},
		{"ok/docs-page", "/docs", "text/html; charset=utf-8", "Something went wrong"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Get(srv.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusInternalServerError {
				t.Fatalf("status %d, want 500; body %s", resp.StatusCode, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != tc.contentType {
				t.Fatalf("Content-Type %q, want %q", ct, tc.contentType)
			}
			if !strings.Contains(string(body), tc.wantBody) || strings.Contains(string(body), "boom") {
				t.Fatalf("body %s, want it to hold %s and not the panic", body, tc.wantBody)
			}
			if strings.HasPrefix(tc.contentType, "application/problem+json") {
				var m map[string]any
				if err := json.Unmarshal(body, &m); err != nil || m["title"] != "Internal error" || m["status"] != float64(500) {
					t.Fatalf("problem %s (%v)", body, err)
				}
			}
			// The server keeps serving.
			resp, err = http.Get(srv.URL + "/healthz")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("after the panic: status %d", resp.StatusCode)
			}
		})
	}
}
