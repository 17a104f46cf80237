package partners

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/oauth"
)

// TestRegisteredGrantTypes: the grant types an app registers (RFC 7591) are
// stored and handed to the authorization server, which enforces them; apps
// that registered none (portal apps, apps from before the column) get all
// three, so the consent flow keeps working.
func TestRegisteredGrantTypes(t *testing.T) {
	gin.SetMode(gin.TestMode)
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		r := gin.New()
		e.s.MountRegistration(r)
		srv := httptest.NewServer(r)
		defer srv.Close()
		owner, pid := e.signUp("owner@acme.example", "Acme")
		all := []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken, oauth.GrantClientCredentials}
		grants := func(t *testing.T, clientID string) []string {
			t.Helper()
			c, err := e.s.OAuthClient(ctx, clientID)
			mustOK(t, err)
			return c.GrantTypes
		}
		register := func(t *testing.T, mut func(m map[string]any)) httpResult {
			t.Helper()
			iat, _, err := e.s.IssueInitialAccessToken(ctx, owner, pid, environment.Sandbox, 0)
			mustOK(t, err)
			return call(t, "POST", srv.URL+"/register", iat, "application/json", metadata(t, mut))
		}
		asStrings := func(v any) []string {
			var out []string
			for _, x := range v.([]any) {
				out = append(out, x.(string))
			}
			return out
		}

		t.Run("ok/client_credentials only", func(t *testing.T) {
			res := register(t, func(m map[string]any) {
				m["grant_types"] = []string{"client_credentials", "client_credentials"}
				delete(m, "response_types")
			})
			if res.status != http.StatusCreated || !slices.Equal(asStrings(res.body["grant_types"]), []string{"client_credentials"}) ||
				len(res.body["response_types"].([]any)) != 0 {
				t.Fatalf("register: %d %v", res.status, res.body)
			}
			id := res.body["client_id"].(string)
			if got := grants(t, id); !slices.Equal(got, []string{oauth.GrantClientCredentials}) {
				t.Fatalf("client grant types %v", got)
			}
			read := call(t, "GET", srv.URL+"/register/"+id, res.body["registration_access_token"].(string), "", "")
			if !slices.Equal(asStrings(read.body["grant_types"]), []string{"client_credentials"}) {
				t.Fatalf("read %v", read.body)
			}
		})
		t.Run("fail/response_types code without authorization_code", func(t *testing.T) {
			res := register(t, func(m map[string]any) { m["grant_types"] = []string{"client_credentials"} })
			wantRegError(t, res, 400, ErrInvalidClientMetadata, `response_types: "code" needs grant_types to include "authorization_code"`)
		})
		t.Run("ok/stored list is read back and enforced, update replaces it", func(t *testing.T) {
			res := register(t, nil) // authorization_code, refresh_token
			id, rat := res.body["client_id"].(string), res.body["registration_access_token"].(string)
			want := []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken}
			if got := grants(t, id); !slices.Equal(got, want) {
				t.Fatalf("client grant types %v", got)
			}
			read := call(t, "GET", srv.URL+"/register/"+id, rat, "", "")
			if !slices.Equal(asStrings(read.body["grant_types"]), want) {
				t.Fatalf("read %v", read.body)
			}
			upd := call(t, "PUT", srv.URL+"/register/"+id, rat, "application/json", metadata(t, func(m map[string]any) {
				m["client_id"] = id
				delete(m, "grant_types")
			}))
			if upd.status != 200 || !slices.Equal(asStrings(upd.body["grant_types"]), all) {
				t.Fatalf("update %d %v", upd.status, upd.body)
			}
			if got := grants(t, id); !slices.Equal(got, all) {
				t.Fatalf("client grant types after update %v", got)
			}
		})
		t.Run("ok/portal and older apps have all three", func(t *testing.T) {
			app, err := e.s.CreateApp(ctx, owner, pid, sandboxApp(t))
			mustOK(t, err)
			if got := grants(t, app.ID); !slices.Equal(got, all) {
				t.Fatalf("portal app grant types %v", got)
			}
			mustOK(t, d.Exec(`UPDATE apps SET grant_types = '' WHERE id = ?`, app.ID).Error)
			e.s.InvalidateClientCache()
			if got := grants(t, app.ID); !slices.Equal(got, all) {
				t.Fatalf("older app grant types %v", got)
			}
		})
	})
}
