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

// TestStoreAccessTokenForResource: the resource server's token lookup.
func TestStoreAccessTokenForResource(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
		s := NewStore(d.DB, oneClient{}, func() time.Time { return now })
		r := fosite.NewRequest()
		r.ID = "r1"
		r.Client = &fositeClient{c: &Client{ID: "app_1"}}
		r.GrantScope("accounts")
		sess := &Session{Subject: "cus_1", JKT: "jkt-1"}
		sess.SetExpiresAt(fosite.AccessToken, now.Add(time.Minute))
		r.Session = sess
		if err := s.CreateAccessTokenSession(ctx, "sig-1", r); err != nil {
			t.Fatal(err)
		}
		t.Run("ok/found", func(t *testing.T) {
			row, err := s.accessTokenForResource(ctx, "sig-1")
			if err != nil {
				t.Fatal(err)
			}
			if row.RequestID != "r1" || row.ClientID != "app_1" || row.Subject != "cus_1" || row.JKT != "jkt-1" ||
				row.Scopes != "accounts" || !row.Active || !row.ExpiresAt.Equal(now.Add(time.Minute)) {
				t.Fatalf("%+v", row)
			}
		})
		t.Run("ok/revoked comes back inactive", func(t *testing.T) {
			if err := s.RevokeAccessToken(ctx, "r1"); err != nil {
				t.Fatal(err)
			}
			row, err := s.accessTokenForResource(ctx, "sig-1")
			if err != nil {
				t.Fatal(err)
			}
			if row.Active {
				t.Fatalf("%+v", row)
			}
		})
		t.Run("fail/unknown signature", func(t *testing.T) {
			if _, err := s.accessTokenForResource(ctx, "sig-unknown"); !errors.Is(err, fosite.ErrNotFound) {
				t.Fatalf("err = %v, want fosite.ErrNotFound", err)
			}
		})
	})
}
