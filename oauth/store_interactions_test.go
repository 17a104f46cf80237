package oauth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
)

// TestStoreInteractions: the login/consent interaction rows, on both engines.
func TestStoreInteractions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
		now := t0
		s := NewStore(d.DB, oneClient{}, func() time.Time { return now })
		create := func(t *testing.T, id string) *interaction {
			t.Helper()
			in := &interaction{ClientID: "app_1", Request: `{"id":"r1"}`, CreatedAt: now, ExpiresAt: now.Add(interactionLifetime)}
			if err := s.createInteraction(ctx, id, in); err != nil {
				t.Fatal(err)
			}
			if in.ID != hashID(id) {
				t.Fatalf("ID = %q, want the hash of the public id", in.ID)
			}
			return in
		}

		t.Run("ok/created and found by its public id", func(t *testing.T) {
			create(t, "pub-ok")
			got, err := s.liveInteraction(ctx, "pub-ok")
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != hashID("pub-ok") || got.ClientID != "app_1" || got.Request != `{"id":"r1"}` || got.CustomerID != "" || got.AuthTime != nil {
				t.Fatalf("%+v", got)
			}
			if _, err := s.liveInteraction(ctx, hashID("pub-ok")); !errors.Is(err, errInteractionGone) {
				t.Fatalf("by its stored hash: %v, want errInteractionGone", err)
			}
		})
		for _, tc := range []struct{ name, id string }{
			{"fail/unknown id", "pub-unknown"},
			{"fail/empty id", ""},
			{"fail/overlong id", strings.Repeat("x", maxInteractionID+1)},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if _, err := s.liveInteraction(ctx, tc.id); !errors.Is(err, errInteractionGone) {
					t.Fatalf("err = %v, want errInteractionGone", err)
				}
			})
		}
		t.Run("fail/expired", func(t *testing.T) {
			create(t, "pub-expiring")
			now = t0.Add(interactionLifetime)
			defer func() { now = t0 }()
			if _, err := s.liveInteraction(ctx, "pub-expiring"); !errors.Is(err, errInteractionGone) {
				t.Fatalf("err = %v, want errInteractionGone", err)
			}
		})
		t.Run("ok/sign in once", func(t *testing.T) {
			in := create(t, "pub-login")
			at := t0.Add(time.Minute)
			if err := s.signInInteraction(ctx, in, "cus_1", at); err != nil {
				t.Fatal(err)
			}
			if in.CustomerID != "cus_1" || in.AuthTime == nil || !in.AuthTime.Equal(at) {
				t.Fatalf("in = %+v", in)
			}
			got, err := s.liveInteraction(ctx, "pub-login")
			if err != nil {
				t.Fatal(err)
			}
			if got.CustomerID != "cus_1" || got.AuthTime == nil || !got.AuthTime.Equal(at) {
				t.Fatalf("stored %+v", got)
			}
			// fail/a second login on the same interaction.
			other := *got
			if err := s.signInInteraction(ctx, &other, "cus_2", at); !errors.Is(err, errInteractionGone) {
				t.Fatalf("second sign-in: %v, want errInteractionGone", err)
			}
			if other.CustomerID != "cus_1" {
				t.Fatalf("refused sign-in changed the interaction: %+v", other)
			}
		})
		t.Run("fail/sign in on a gone interaction", func(t *testing.T) {
			in := &interaction{ID: hashID("pub-never")}
			if err := s.signInInteraction(ctx, in, "cus_1", t0); !errors.Is(err, errInteractionGone) {
				t.Fatalf("err = %v, want errInteractionGone", err)
			}
		})
		t.Run("ok/consumed once, restored once", func(t *testing.T) {
			in := create(t, "pub-consent")
			if err := s.consumeInteraction(ctx, in); err != nil {
				t.Fatal(err)
			}
			if _, err := s.liveInteraction(ctx, "pub-consent"); !errors.Is(err, errInteractionGone) {
				t.Fatalf("after consume: %v, want errInteractionGone", err)
			}
			// fail/consumed again.
			if err := s.consumeInteraction(ctx, in); !errors.Is(err, errInteractionGone) {
				t.Fatalf("second consume: %v, want errInteractionGone", err)
			}
			if err := s.restoreInteraction(ctx, in); err != nil {
				t.Fatal(err)
			}
			if _, err := s.liveInteraction(ctx, "pub-consent"); err != nil {
				t.Fatalf("after restore: %v", err)
			}
			// fail/restored twice: the row exists (a database error).
			if err := s.restoreInteraction(ctx, in); err == nil || errors.Is(err, errInteractionGone) {
				t.Fatalf("second restore: %v, want a duplicate key error", err)
			}
		})
		t.Run("ok/consumed with its load once signed in", func(t *testing.T) {
			in := create(t, "pub-consume-load")
			// fail/not signed in yet: nothing is consumed.
			if _, err := s.consumeSignedIn(ctx, "pub-consume-load"); !errors.Is(err, errInteractionGone) {
				t.Fatalf("before login: %v, want errInteractionGone", err)
			}
			if _, err := s.liveInteraction(ctx, "pub-consume-load"); err != nil {
				t.Fatalf("a refused consume removed the interaction: %v", err)
			}
			at := t0.Add(time.Minute)
			if err := s.signInInteraction(ctx, in, "cus_1", at); err != nil {
				t.Fatal(err)
			}
			got, err := s.consumeSignedIn(ctx, "pub-consume-load")
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != hashID("pub-consume-load") || got.ClientID != "app_1" || got.CustomerID != "cus_1" ||
				got.AuthTime == nil || !got.AuthTime.Equal(at) || got.Request != `{"id":"r1"}` || !got.ExpiresAt.Equal(in.ExpiresAt) {
				t.Fatalf("consumed %+v", got)
			}
			// fail/consumed again, and gone for every other step.
			if _, err := s.consumeSignedIn(ctx, "pub-consume-load"); !errors.Is(err, errInteractionGone) {
				t.Fatalf("second consume: %v, want errInteractionGone", err)
			}
			if _, err := s.liveInteraction(ctx, "pub-consume-load"); !errors.Is(err, errInteractionGone) {
				t.Fatalf("after consume: %v, want errInteractionGone", err)
			}
			// ok/restored as it was (the customer corrects a choice).
			if err := s.restoreInteraction(ctx, got); err != nil {
				t.Fatal(err)
			}
			if back, err := s.liveInteraction(ctx, "pub-consume-load"); err != nil || back.CustomerID != "cus_1" {
				t.Fatalf("after restore: %+v, %v", back, err)
			}
		})
		for _, tc := range []struct{ name, id string }{
			{"fail/consume an unknown id", "pub-unknown"},
			{"fail/consume an empty id", ""},
			{"fail/consume an overlong id", strings.Repeat("x", maxInteractionID+1)},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if _, err := s.consumeSignedIn(ctx, tc.id); !errors.Is(err, errInteractionGone) {
					t.Fatalf("err = %v, want errInteractionGone", err)
				}
			})
		}
		t.Run("fail/consume an expired interaction", func(t *testing.T) {
			in := create(t, "pub-consume-expired")
			if err := s.signInInteraction(ctx, in, "cus_1", t0); err != nil {
				t.Fatal(err)
			}
			now = t0.Add(interactionLifetime)
			defer func() { now = t0 }()
			if _, err := s.consumeSignedIn(ctx, "pub-consume-expired"); !errors.Is(err, errInteractionGone) {
				t.Fatalf("err = %v, want errInteractionGone", err)
			}
		})
		t.Run("ok/delete expired removes abandoned interactions", func(t *testing.T) {
			create(t, "pub-abandoned")
			if err := s.DeleteExpired(ctx, t0.Add(interactionLifetime+time.Second)); err != nil {
				t.Fatal(err)
			}
			var n int64
			d.Raw("SELECT COUNT(*) FROM oauth_interactions").Scan(&n)
			if n != 0 {
				t.Fatalf("%d interactions left", n)
			}
		})
	})
}

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
