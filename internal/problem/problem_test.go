package problem

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestWrite(t *testing.T) {
	cases := []struct {
		name       string
		err        error
		wantStatus int
		wantType   string
		wantDetail string
	}{
		{"ok/problem", New(CodeConsentExpired, "consent %s expired", "cns_1"), 403, TypePrefix + "consent_expired", "consent cns_1 expired"},
		{"ok/wrapped", fmt.Errorf("ctx: %w", New(CodeNotFound, "no such account")), 404, TypePrefix + "not_found", "no such account"},
		{"ok/plain-error-is-opaque", errors.New("pq: secret table detail"), 500, TypePrefix + "internal_error", "An unexpected error occurred; it has been logged."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			Write(rec, httptest.NewRequest("GET", "/x", nil), tc.err)
			if rec.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d", rec.Code, tc.wantStatus)
			}
			if ct := rec.Header().Get("Content-Type"); ct != MediaType {
				t.Fatalf("content-type %q", ct)
			}
			var m map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
				t.Fatal(err)
			}
			if m["type"] != tc.wantType || m["detail"] != tc.wantDetail || int(m["status"].(float64)) != tc.wantStatus || m["instance"] != "/x" {
				t.Fatalf("body %v", m)
			}
		})
	}
}

func TestEveryCodeHasStatus(t *testing.T) {
	for _, c := range Codes() {
		if c.Status() < 400 || c.Title() == "" {
			t.Errorf("code %s: status %d title %q", c, c.Status(), c.Title())
		}
	}
	if Code("nope").Status() != http.StatusInternalServerError {
		t.Error("unknown code should be 500")
	}
}

func TestExtraAndIs(t *testing.T) {
	p := New(CodeRateLimited, "slow down").With("retry_after", 3)
	b, _ := json.Marshal(BodyOf(p, ""))
	var m map[string]any
	json.Unmarshal(b, &m)
	if m["retry_after"].(float64) != 3 || m["code"] != "rate_limited" {
		t.Fatalf("body %s", b)
	}
	if !errors.Is(fmt.Errorf("x: %w", p), New(CodeRateLimited, "")) || errors.Is(p, New(CodeNotFound, "")) {
		t.Fatal("Is by code broken")
	}
}
