package oauth

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
)

type oneClient struct{}

func (oneClient) Client(_ context.Context, id string) (*Client, error) {
	if id != "app_1" {
		return nil, ErrClientNotFound
	}
	return &Client{ID: "app_1", Active: true, Scopes: []string{"accounts"}}, nil
}

func TestStore(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		now := time.Now().UTC()
		clock := func() time.Time { return now }
		s := NewStore(d.DB, oneClient{}, clock)
		req := func(id string) fosite.Requester {
			r := fosite.NewRequest()
			r.ID = id
			r.Client = &fositeClient{c: &Client{ID: "app_1"}}
			r.GrantScope("accounts")
			sess := &Session{Subject: "cus_1", JKT: "jkt-1", AuthorizationDetails: []AuthorizationDetail{{Type: "account_access", ConsentID: "cns_1"}}}
			sess.SetExpiresAt(fosite.AccessToken, now.Add(time.Minute))
			r.Session = sess
			return r
		}
		t.Run("ok/commit and rollback", func(t *testing.T) {
			tx, err := s.BeginTX(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.CreateAccessTokenSession(tx, "sig-rolled-back", req("r1")); err != nil {
				t.Fatal(err)
			}
			if err := s.Rollback(tx); err != nil {
				t.Fatal(err)
			}
			if _, err := s.GetAccessTokenSession(ctx, "sig-rolled-back", &Session{}); !errors.Is(err, fosite.ErrNotFound) {
				t.Fatalf("rolled back row found: %v", err)
			}
			tx, _ = s.BeginTX(ctx)
			if err := s.CreateAccessTokenSession(tx, "sig-1", req("r1")); err != nil {
				t.Fatal(err)
			}
			if err := s.Commit(tx); err != nil {
				t.Fatal(err)
			}
			got, err := s.GetAccessTokenSession(ctx, "sig-1", &Session{})
			if err != nil {
				t.Fatal(err)
			}
			sess := got.GetSession().(*Session)
			if got.GetID() != "r1" || sess.Subject != "cus_1" || sess.JKT != "jkt-1" || sess.AuthorizationDetails[0].ConsentID != "cns_1" || !got.GetGrantedScopes().Has("accounts") {
				t.Fatalf("%+v %+v", got, sess)
			}
		})
		t.Run("ok/revoke by consent", func(t *testing.T) {
			if err := s.CreateRefreshTokenSession(ctx, "rsig-1", "sig-1", req("r1")); err != nil {
				t.Fatal(err)
			}
			if err := s.RevokeConsent(ctx, "cns_1"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.GetAccessTokenSession(ctx, "sig-1", nil); !errors.Is(err, fosite.ErrInactiveToken) {
				t.Fatalf("access after consent revocation: %v", err)
			}
			if _, err := s.GetRefreshTokenSession(ctx, "rsig-1", nil); !errors.Is(err, fosite.ErrInactiveToken) {
				t.Fatalf("refresh after consent revocation: %v", err)
			}
		})
		t.Run("fail/client assertion jti reuse", func(t *testing.T) {
			if err := s.SetClientAssertionJWT(ctx, "app_1|j1", now.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			if err := s.ClientAssertionJWTValid(ctx, "app_1|j1"); !errors.Is(err, fosite.ErrJTIKnown) {
				t.Fatalf("valid: %v", err)
			}
			if err := s.SetClientAssertionJWT(ctx, "app_1|j1", now.Add(time.Minute)); !errors.Is(err, fosite.ErrJTIKnown) {
				t.Fatalf("reuse: %v", err)
			}
			// ok/an expired jti may be taken again.
			now = now.Add(2 * time.Minute)
			if err := s.SetClientAssertionJWT(ctx, "app_1|j1", now.Add(time.Minute)); err != nil {
				t.Fatalf("after expiry: %v", err)
			}
		})
		t.Run("ok/delete expired", func(t *testing.T) {
			if err := s.DeleteExpired(ctx, now.Add(31*24*time.Hour)); err != nil {
				t.Fatal(err)
			}
			var n int64
			d.Raw("SELECT COUNT(*) FROM oauth_token_consents").Scan(&n)
			if n != 0 {
				t.Fatalf("%d consent links left", n)
			}
		})
	})
}
