package oauth_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/oauth"
	"github.com/bankbridge/bankbridge/oauth/dpop"
)

// answer is one token endpoint response, collected from a goroutine.
type answer struct {
	status int
	body   map[string]any
	err    error
}

// postAll sends the token requests at once and returns every answer.
func postAll(h *harness, forms []url.Values, proofs []string) []answer {
	out := make([]answer, len(forms))
	var wg sync.WaitGroup
	for i := range forms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, h.ts.URL+"/token", strings.NewReader(forms[i].Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("DPoP", proofs[i])
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				out[i].err = err
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			out[i].status = resp.StatusCode
			out[i].err = json.Unmarshal(b, &out[i].body)
		}()
	}
	wg.Wait()
	return out
}

// wantOneWinner: exactly one answer is a token, every other the refusal.
func wantOneWinner(t *testing.T, got []answer, status int, code, hint string) {
	t.Helper()
	ok := 0
	for _, a := range got {
		switch {
		case a.err != nil:
			t.Fatal(a.err)
		case a.status == http.StatusOK:
			ok++
		case a.status != status || a.body["error"] != code || !strings.Contains(a.body["error_description"].(string), hint):
			t.Fatalf("got %d %v, want %d %s %q", a.status, a.body, status, code, hint)
		}
	}
	if ok != 1 {
		t.Fatalf("%d requests got a token, want exactly 1", ok)
	}
}

func countRows(t *testing.T, d *db.DB, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := d.DB.Raw(q, args...).Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// TestTokenReplayIDs: the token endpoint records the DPoP proof's and the
// client assertion's ids with the token (one transaction; group-committed on
// SQLite, one statement on PostgreSQL), and every replay — concurrent, or of
// a request that was refused — is still refused exactly.
//
// It runs with each replay store: the database's tables (every id with the
// token) and a single node's journal (both ids recorded as they are
// verified, the token alone in the group commit).
func TestTokenReplayIDs(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		t.Run("table", func(t *testing.T) { tokenReplayIDs(t, d, nil) })
		t.Run("journal", func(t *testing.T) {
			j, err := dpop.OpenJournalReplayStore(t.TempDir(), nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { j.Close() })
			tokenReplayIDs(t, d, j)
		})
	})
}

// tokenReplayIDs is TestTokenReplayIDs on d, with the journal j as the
// replay store (nil: the table).
func tokenReplayIDs(t *testing.T, d *db.DB, j *dpop.JournalReplayStore) {
	{
		h := newHarness(t, d, func(_ *oauth.Config, deps *oauth.Deps) {
			if j != nil {
				j.Now = deps.Now
				deps.DPoPReplay = j
			}
		})
		c := h.client
		tokenURL := h.ts.URL + "/token"
		ccForm := url.Values{"grant_type": {"client_credentials"}, "scope": {"accounts"}}
		const n = 8

		cases := []struct {
			name string
			run  func(t *testing.T)
		}{
			{"ok/ids and token are stored durably", func(t *testing.T) {
				form := c.withAuth(ccForm, h.ts.URL)
				jti := claimOf(t, form.Get("client_assertion"), "jti")
				proof := c.proof("POST", tokenURL, "")
				resp, body := c.post("/token", form, proof)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("%d %v", resp.StatusCode, body)
				}
				if got := countRows(t, d, `SELECT COUNT(*) FROM oauth_client_assertions WHERE jti = ?`, c.id+"|"+jti); j == nil && got != 1 || j != nil && got != 0 {
					t.Fatalf("assertion id rows = %d (journal: %v)", got, j != nil)
				}
				if j != nil && !j.Holds("client_assertion\x00"+c.id+"|"+jti) {
					t.Fatal("the assertion's id is not in the journal")
				}
				proofKey := c.jkt() + ":" + claimOf(t, proof, "jti")
				if got := countRows(t, d, `SELECT COUNT(*) FROM used_jtis WHERE key = ?`, proofKey); j == nil && got != 1 || j != nil && got != 0 {
					t.Fatalf("proof id rows = %d (journal: %v)", got, j != nil)
				}
				if j != nil && !j.Holds(proofKey) {
					t.Fatal("the proof's id is not in the journal")
				}
				if got := countRows(t, d, `SELECT COUNT(*) FROM oauth_tokens WHERE kind = 'access' AND jkt = ? AND client_id = ?`, c.jkt(), c.id); got < 1 {
					t.Fatalf("access token rows = %d", got)
				}
			}},
			{"fail/one DPoP proof sent concurrently", func(t *testing.T) {
				proof := c.proof("POST", tokenURL, "")
				forms, proofs := make([]url.Values, n), make([]string, n)
				for i := range forms {
					forms[i], proofs[i] = c.withAuth(ccForm, h.ts.URL), proof
				}
				wantOneWinner(t, postAll(h, forms, proofs), 400, "invalid_dpop_proof", "DPoP proof jti has been used before.")
			}},
			{"fail/one client assertion sent concurrently", func(t *testing.T) {
				form := c.withAuth(ccForm, h.ts.URL)
				forms, proofs := make([]url.Values, n), make([]string, n)
				for i := range forms {
					forms[i], proofs[i] = form, c.proof("POST", tokenURL, "")
				}
				wantOneWinner(t, postAll(h, forms, proofs), 401, "invalid_client", "Claim 'jti' of the client_assertion was already used; every assertion must be used once only.")
			}},
			{"fail/assertion of a refused request is spent", func(t *testing.T) {
				form := c.withAuth(url.Values{"grant_type": {"client_credentials"}, "scope": {"openid"}}, h.ts.URL)
				resp, body := c.post("/token", form, c.proof("POST", tokenURL, ""))
				oauthErr(t, resp, body, 400, "invalid_scope", "Scope 'openid' cannot be requested with client_credentials.")
				form.Set("scope", "accounts")
				resp, body = c.post("/token", form, c.proof("POST", tokenURL, ""))
				oauthErr(t, resp, body, 401, "invalid_client", "Claim 'jti' of the client_assertion was already used; every assertion must be used once only.")
			}},
			{"fail/proof of a refused request is spent", func(t *testing.T) {
				proof := c.proof("POST", tokenURL, "")
				form := c.withAuth(url.Values{"grant_type": {"client_credentials"}, "scope": {"openid"}}, h.ts.URL)
				resp, body := c.post("/token", form, proof)
				oauthErr(t, resp, body, 400, "invalid_scope", "Scope 'openid' cannot be requested with client_credentials.")
				resp, body = c.post("/token", c.withAuth(ccForm, h.ts.URL), proof)
				oauthErr(t, resp, body, 400, "invalid_dpop_proof", "DPoP proof jti has been used before.")
			}},
			{"fail/proof of a request refused for its assertion is spent", func(t *testing.T) {
				form := c.withAuth(ccForm, h.ts.URL)
				if resp, body := c.post("/token", form, c.proof("POST", tokenURL, "")); resp.StatusCode != http.StatusOK {
					t.Fatalf("first use: %d %v", resp.StatusCode, body)
				}
				proof := c.proof("POST", tokenURL, "")
				resp, body := c.post("/token", form, proof)
				oauthErr(t, resp, body, 401, "invalid_client", "Claim 'jti' of the client_assertion was already used; every assertion must be used once only.")
				resp, body = c.post("/token", c.withAuth(ccForm, h.ts.URL), proof)
				oauthErr(t, resp, body, 400, "invalid_dpop_proof", "DPoP proof jti has been used before.")
			}},
			{"fail/assertion spent at the token endpoint, replayed at PAR", func(t *testing.T) {
				form := c.withAuth(ccForm, h.ts.URL)
				if resp, body := c.post("/token", form, c.proof("POST", tokenURL, "")); resp.StatusCode != http.StatusOK {
					t.Fatalf("first use: %d %v", resp.StatusCode, body)
				}
				_, challenge := pkcePair()
				par := parForm(challenge)
				for _, k := range []string{"client_assertion", "client_assertion_type"} {
					par.Set(k, form.Get(k))
				}
				for _, proof := range []string{"", c.proof("POST", h.ts.URL+"/par", "")} {
					resp, body := c.post("/par", par, proof)
					oauthErr(t, resp, body, 401, "invalid_client", "Claim 'jti' of the client_assertion was already used; every assertion must be used once only.")
				}
			}},
			{"fail/proof replayed at PAR", func(t *testing.T) {
				proof := c.proof("POST", h.ts.URL+"/par", "")
				_, challenge := pkcePair()
				if resp, body := h.par(c, parForm(challenge), proof); resp.StatusCode != http.StatusCreated {
					t.Fatalf("PAR: %d %v", resp.StatusCode, body)
				}
				resp, body := h.par(c, parForm(challenge), proof)
				oauthErr(t, resp, body, 400, "invalid_dpop_proof", "DPoP proof jti has been used before.")
			}},
			{"fail/replayed proof at the code grant", func(t *testing.T) {
				code, ver := h.code(c, nil, nil)
				proof := c.proof("POST", tokenURL, "")
				form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {ver}, "redirect_uri": {redirectURI}}
				if resp, body := c.post("/token", c.withAuth(form, tokenURL), proof); resp.StatusCode != http.StatusOK {
					t.Fatalf("first use: %d %v", resp.StatusCode, body)
				}
				code2, ver2 := h.code(c, nil, nil)
				form2 := url.Values{"grant_type": {"authorization_code"}, "code": {code2}, "code_verifier": {ver2}, "redirect_uri": {redirectURI}}
				resp, body := c.post("/token", c.withAuth(form2, tokenURL), proof)
				oauthErr(t, resp, body, 400, "invalid_dpop_proof", "DPoP proof jti has been used before.")
			}},
		}
		for _, tc := range cases {
			t.Run(tc.name, tc.run)
		}
	}
}

// claimOf reads one string claim of a compact JWS without verifying it.
func claimOf(t *testing.T, jws, name string) string {
	t.Helper()
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %q", jws)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	s, _ := m[name].(string)
	return s
}
