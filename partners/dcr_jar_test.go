package partners

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
)

// TestRegistrationRequireSignedRequestObject: the RFC 9101 §10.5 client
// metadata require_signed_request_object is stored (migration 0025), answered
// on register, read and update, and reaches the authorization server.
func TestRegistrationRequireSignedRequestObject(t *testing.T) {
	gin.SetMode(gin.TestMode)
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		r := gin.New()
		e.s.MountRegistration(r)
		srv := httptest.NewServer(r)
		defer srv.Close()
		owner, pid := e.signUp("owner@acme.example", "Acme")
		iat, _, err := e.s.IssueInitialAccessToken(ctx, owner, pid, environment.Sandbox, 0)
		mustOK(t, err)

		res := call(t, "POST", srv.URL+"/register", iat, "application/json", metadata(t, func(m map[string]any) { m["require_signed_request_object"] = true }))
		clientID, _ := res.body["client_id"].(string)
		rat, _ := res.body["registration_access_token"].(string)
		if res.status != http.StatusCreated || res.body["require_signed_request_object"] != true {
			t.Fatalf("register: %d %v", res.status, res.body)
		}
		c, err := e.s.OAuthClient(ctx, clientID)
		mustOK(t, err)
		if !c.RequireSignedRequestObject {
			t.Fatalf("client %+v", c)
		}
		uri := srv.URL + "/register/" + clientID
		if res = call(t, "GET", uri, rat, "", ""); res.status != 200 || res.body["require_signed_request_object"] != true {
			t.Fatalf("read %d %v", res.status, res.body)
		}
		res = call(t, "PUT", uri, rat, "application/json", metadata(t, func(m map[string]any) { m["client_id"] = clientID }))
		if res.status != 200 || res.body["require_signed_request_object"] != false {
			t.Fatalf("update %d %v", res.status, res.body)
		}
		c, err = e.s.OAuthClient(ctx, clientID)
		mustOK(t, err)
		if c.RequireSignedRequestObject {
			t.Fatalf("client after update %+v", c)
		}
		if res = call(t, "GET", uri, rat, "", ""); res.status != 200 || res.body["require_signed_request_object"] != false {
			t.Fatalf("read after update %d %v", res.status, res.body)
		}
	})
}
