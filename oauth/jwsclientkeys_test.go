package oauth_test

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"testing"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/oauth"
)

func TestClientJWSKey(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		h := newHarness(t, d, nil)
		ctx := context.Background()
		c := h.clients.m[h.client.id]
		c.RequireSignedRequests = true
		h.clients.put(c)

		t.Run("ok/registered-kid", func(t *testing.T) {
			k, err := h.srv.ClientJWSKey(ctx, h.client.id, "ES256", h.client.kid)
			if err != nil {
				t.Fatal(err)
			}
			if !h.client.key.PublicKey.Equal(k.(*ecdsa.PublicKey)) {
				t.Fatal("not the registered key")
			}
		})
		for _, tc := range []struct{ name, client, alg, kid string }{
			{"fail/unknown-kid", h.client.id, "ES256", "nope"},
			{"fail/alg-mismatch", h.client.id, "PS256", h.client.kid},
			{"fail/no-kid", h.client.id, "ES256", ""},
			{"fail/other-clients-kid", h.client.id, "ES256", h.other.kid},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if _, err := h.srv.ClientJWSKey(ctx, tc.client, tc.alg, tc.kid); !errors.Is(err, oauth.ErrNoClientKey) {
					t.Fatalf("err = %v, want ErrNoClientKey", err)
				}
			})
		}
		t.Run("fail/unknown-client", func(t *testing.T) {
			if _, err := h.srv.ClientJWSKey(ctx, "app_nobody", "ES256", "k"); !errors.Is(err, oauth.ErrClientNotFound) {
				t.Fatalf("err = %v, want ErrClientNotFound", err)
			}
		})
		t.Run("ok/require-setting", func(t *testing.T) {
			for id, want := range map[string]bool{h.client.id: true, h.other.id: false} {
				if got, err := h.srv.ClientRequiresSignedRequests(ctx, id); err != nil || got != want {
					t.Fatalf("%s: got %v, %v; want %v", id, got, err, want)
				}
			}
		})
	})
}
