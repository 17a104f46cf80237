package oauth_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
)

// TestStateOptional: OAuth 2.1 §4.1.1 makes state optional when PKCE is
// used; any state, or none, is accepted and echoed only when sent.
func TestStateOptional(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		h := newHarness(t, d, nil)
		c := h.client
		for _, tc := range []struct {
			name  string
			state *string
		}{
			{"ok/no state", nil},
			{"ok/empty state", ptr("")},
			{"ok/one character state", ptr("x")},
			{"ok/seven character state", ptr("abcdefg")},
		} {
			t.Run(tc.name, func(t *testing.T) {
				verifier, ch := pkcePair()
				f := parForm(ch)
				f.Del("state")
				if tc.state != nil {
					f.Set("state", *tc.state)
				}
				resp, body := h.par(c, f, "")
				if resp.StatusCode != http.StatusCreated || body["request_uri"] == nil {
					t.Fatalf("PAR: %d %v", resp.StatusCode, body)
				}
				loc := h.decide(c, h.login(c, body["request_uri"].(string)), "approve", nil)
				q := loc.Query()
				want := url.Values{"code": {q.Get("code")}, "iss": {h.ts.URL}, "scope": {"openid accounts"}}
				if tc.state != nil && *tc.state != "" {
					want.Set("state", *tc.state)
				}
				if q.Get("code") == "" || q.Encode() != want.Encode() {
					t.Fatalf("redirect %s, want parameters %s", loc, want.Encode())
				}
				if resp, tok := h.exchange(c, q.Get("code"), verifier); resp.StatusCode != http.StatusOK || tok["access_token"] == nil {
					t.Fatalf("token: %d %v", resp.StatusCode, tok)
				}
			})
		}
		t.Run("fail/deny without state carries no state", func(t *testing.T) {
			_, ch := pkcePair()
			f := parForm(ch)
			f.Del("state")
			loc := h.decide(c, h.login(c, h.mustPAR(c, f)), "deny", nil)
			q := loc.Query()
			if q.Get("error") != "access_denied" || q.Get("iss") != h.ts.URL || q.Has("state") || q.Has("code") {
				t.Fatalf("redirect %s", loc)
			}
		})
	})
}

func ptr[T any](v T) *T { return &v }
