package webhooks

import (
	"context"
	"errors"
	"testing"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/problem"
)

func wantProblem(t *testing.T, err error, code problem.Code, detail string) {
	t.Helper()
	var p *problem.Error
	if !errors.As(err, &p) || p.Code != code || p.Detail != detail {
		t.Fatalf("error %v, want %s: %s", err, code, detail)
	}
}

func TestCreateEndpointValidation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		strict := mustService(t, d, func(c *Config) { c.AllowLoopback = false })
		loose := mustService(t, d, nil)
		sc := Scope{PartnerID: partnerA, AppID: appA1}
		types := []string{"payment.created"}
		cases := []struct {
			name   string
			s      *Service
			env    environment.Environment
			in     EndpointInput
			detail string // "" = ok
			code   problem.Code
		}{
			{"ok/production-https", strict, environment.Production, EndpointInput{URL: "https://hooks.example.com/bb", EventTypes: types}, "", ""},
			{"ok/production-https-public-ip", strict, environment.Production, EndpointInput{URL: "https://93.184.216.34/bb", EventTypes: types}, "", ""},
			{"ok/sandbox-loopback-allowed", loose, environment.Sandbox, EndpointInput{URL: "http://127.0.0.1:8080/x", EventTypes: types}, "", ""},
			{"ok/sandbox-localhost-allowed", loose, environment.Sandbox, EndpointInput{URL: "http://localhost:8080/x", EventTypes: types, Signing: SigningEd25519}, "", ""},
			{"fail/production-http", strict, environment.Production, EndpointInput{URL: "http://hooks.example.com/bb", EventTypes: types}, "url must use https", problem.CodeValidation},
			{"fail/production-http-even-with-allow-loopback", loose, environment.Production, EndpointInput{URL: "http://hooks.example.com/bb", EventTypes: types}, "url must use https", problem.CodeValidation},
			{"fail/production-loopback", loose, environment.Production, EndpointInput{URL: "https://127.0.0.1/bb", EventTypes: types}, `url host "127.0.0.1": 127.0.0.1 is a loopback address`, problem.CodeValidation},
			{"fail/production-localhost", loose, environment.Production, EndpointInput{URL: "https://localhost/bb", EventTypes: types}, `url host "localhost": 127.0.0.1 is a loopback address`, problem.CodeValidation},
			{"fail/production-ipv6-loopback", strict, environment.Production, EndpointInput{URL: "https://[::1]/bb", EventTypes: types}, `url host "::1": ::1 is a loopback address`, problem.CodeValidation},
			{"fail/production-resolves-ipv6-loopback", strict, environment.Production, EndpointInput{URL: "https://v6loop.example.com/bb", EventTypes: types}, `url host "v6loop.example.com": ::1 is a loopback address`, problem.CodeValidation},
			{"fail/production-private-10", strict, environment.Production, EndpointInput{URL: "https://10.0.0.7/bb", EventTypes: types}, `url host "10.0.0.7": 10.0.0.7 is a private address`, problem.CodeValidation},
			{"fail/production-resolves-private", strict, environment.Production, EndpointInput{URL: "https://private.example.com/bb", EventTypes: types}, `url host "private.example.com": 10.1.2.3 is a private address`, problem.CodeValidation},
			{"fail/production-one-of-many-private", strict, environment.Production, EndpointInput{URL: "https://mixed.example.com/bb", EventTypes: types}, `url host "mixed.example.com": 192.168.1.1 is a private address`, problem.CodeValidation},
			{"fail/production-link-local", strict, environment.Production, EndpointInput{URL: "https://169.254.169.254/latest", EventTypes: types}, `url host "169.254.169.254": 169.254.169.254 is a link-local address`, problem.CodeValidation},
			{"fail/production-resolves-link-local", strict, environment.Production, EndpointInput{URL: "https://meta.example.com/", EventTypes: types}, `url host "meta.example.com": 169.254.169.254 is a link-local address`, problem.CodeValidation},
			{"fail/production-ipv4-compatible-loopback", loose, environment.Production, EndpointInput{URL: "https://[::7f00:1]/bb", EventTypes: types}, `url host "::7f00:1": ::7f00:1 is in ::/96 (deprecated IPv4-compatible address, RFC 4291 §2.5.5.1)`, problem.CodeValidation},
			{"fail/production-6to4-metadata", strict, environment.Production, EndpointInput{URL: "https://[2002:a9fe:a9fe::]/latest", EventTypes: types}, `url host "2002:a9fe:a9fe::": 2002:a9fe:a9fe:: is a 6to4 address (2002::/16, RFC 3056) embedding 169.254.169.254, a link-local address`, problem.CodeValidation},
			{"fail/production-resolves-nat64-metadata", strict, environment.Production, EndpointInput{URL: "https://nat64.example.com/", EventTypes: types}, `url host "nat64.example.com": 64:ff9b::a9fe:a9fe is a NAT64 address (64:ff9b::/96, RFC 6052) embedding 169.254.169.254, a link-local address`, problem.CodeValidation},
			{"fail/production-teredo", strict, environment.Production, EndpointInput{URL: "https://[2001::a9fe:a9fe]/", EventTypes: types}, `url host "2001::a9fe:a9fe": 2001::a9fe:a9fe is in 2001::/32 (Teredo, RFC 4380, RFC 8190)`, problem.CodeValidation},
			{"fail/production-multicast", strict, environment.Production, EndpointInput{URL: "https://224.0.0.1/", EventTypes: types}, `url host "224.0.0.1": 224.0.0.1 is a multicast address`, problem.CodeValidation},
			{"fail/production-unspecified", strict, environment.Production, EndpointInput{URL: "https://0.0.0.0/", EventTypes: types}, `url host "0.0.0.0": 0.0.0.0 is an unspecified address`, problem.CodeValidation},
			{"fail/sandbox-loopback-not-allowed", strict, environment.Sandbox, EndpointInput{URL: "https://127.0.0.1/x", EventTypes: types}, `url host "127.0.0.1": 127.0.0.1 is a loopback address`, problem.CodeValidation},
			{"fail/sandbox-http-not-allowed", strict, environment.Sandbox, EndpointInput{URL: "http://hooks.example.com/x", EventTypes: types}, "url must use https", problem.CodeValidation},
			{"fail/sandbox-http-public-with-allow-loopback", loose, environment.Sandbox, EndpointInput{URL: "http://hooks.example.com/x", EventTypes: types}, "url must use https", problem.CodeValidation},
			{"fail/sandbox-private-with-allow-loopback", loose, environment.Sandbox, EndpointInput{URL: "http://10.0.0.1/x", EventTypes: types}, `url host "10.0.0.1": 10.0.0.1 is a private address`, problem.CodeValidation},
			{"fail/not-a-url", strict, environment.Production, EndpointInput{URL: "hooks.example.com/bb", EventTypes: types}, "url must be an absolute http(s) URL", problem.CodeValidation},
			{"fail/ftp", strict, environment.Production, EndpointInput{URL: "ftp://hooks.example.com/bb", EventTypes: types}, "url must be an absolute http(s) URL", problem.CodeValidation},
			{"fail/credentials", strict, environment.Production, EndpointInput{URL: "https://u:p@hooks.example.com/bb", EventTypes: types}, "url must not contain credentials", problem.CodeValidation},
			{"fail/unresolvable", strict, environment.Production, EndpointInput{URL: "https://nowhere.example.com/bb", EventTypes: types}, `url host "nowhere.example.com" does not resolve`, problem.CodeValidation},
			{"fail/unknown-event-type", strict, environment.Production, EndpointInput{URL: "https://hooks.example.com/bb", EventTypes: []string{"payment.created", "payment.exploded"}}, `unknown event type "payment.exploded"`, problem.CodeValidation},
			{"fail/test-type-not-subscribable", strict, environment.Production, EndpointInput{URL: "https://hooks.example.com/bb", EventTypes: []string{TestEventType}}, `unknown event type "webhook.test"`, problem.CodeValidation},
			{"fail/no-event-types", strict, environment.Production, EndpointInput{URL: "https://hooks.example.com/bb"}, "event_types must list at least one event type", problem.CodeValidation},
			{"fail/duplicate-event-type", strict, environment.Production, EndpointInput{URL: "https://hooks.example.com/bb", EventTypes: []string{"payment.created", "payment.created"}}, `event type "payment.created" listed twice`, problem.CodeValidation},
			{"fail/signing", strict, environment.Production, EndpointInput{URL: "https://hooks.example.com/bb", EventTypes: types, Signing: "rsa"}, `signing must be "hmac-sha256" or "ed25519"`, problem.CodeValidation},
			{"fail/environment", strict, "staging", EndpointInput{URL: "https://hooks.example.com/bb", EventTypes: types}, `environment must be "sandbox" or "production"`, problem.CodeValidation},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				e, creds, err := tc.s.CreateEndpoint(context.Background(), sc, tc.env, tc.in)
				if tc.detail != "" {
					wantProblem(t, err, tc.code, tc.detail)
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if e.Signing == SigningHMAC && (creds.Secret == "" || creds.PublicKey != "") {
					t.Fatalf("hmac creds %+v", creds)
				}
				if e.Signing == SigningEd25519 && (creds.Secret != "" || creds.PublicKey == "" || e.PublicKey != creds.PublicKey || e.KeyID == "") {
					t.Fatalf("ed25519 creds %+v endpoint %+v", creds, e)
				}
			})
		}
	})
}

func TestSecretSealedAtRest(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := mustService(t, d, nil)
		e, creds := mustCreate(t, s, Scope{PartnerID: partnerA, AppID: appA1}, environment.Sandbox, EndpointInput{URL: "http://127.0.0.1:1/", EventTypes: []string{"payment.created"}})
		var r endpointRow
		if err := d.Where("id = ?", e.ID).Take(&r).Error; err != nil {
			t.Fatal(err)
		}
		if r.SecretSealed == creds.Secret || len(r.SecretSealed) < 10 {
			t.Fatalf("secret stored in clear")
		}
		pt, err := s.box.Open(r.SecretSealed, "webhook-secret:"+e.ID)
		if err != nil || string(pt) != creds.Secret {
			t.Fatalf("open sealed secret: %v", err)
		}
		if _, err := s.box.Open(r.SecretSealed, "webhook-secret:whe_other"); err == nil {
			t.Fatal("sealed secret opens under another endpoint's purpose")
		}
	})
}

func TestPublishOutbox(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := mustService(t, d, nil)
		ctx := context.Background()
		url := "http://127.0.0.1:1/"
		a1, _ := mustCreate(t, s, Scope{PartnerID: partnerA, AppID: appA1}, environment.Sandbox, EndpointInput{URL: url, EventTypes: []string{"payment.created", "partner.status_changed"}})
		a1b, _ := mustCreate(t, s, Scope{PartnerID: partnerA, AppID: appA1}, environment.Sandbox, EndpointInput{URL: url, EventTypes: []string{"consent.revoked"}})
		a2, _ := mustCreate(t, s, Scope{PartnerID: partnerA, AppID: appA2}, environment.Sandbox, EndpointInput{URL: url, EventTypes: []string{"payment.created", "partner.status_changed"}})
		off := false
		a2off, _ := mustCreate(t, s, Scope{PartnerID: partnerA, AppID: appA2}, environment.Sandbox, EndpointInput{URL: url, EventTypes: []string{"partner.status_changed"}, Enabled: &off})
		b1, _ := mustCreate(t, s, Scope{PartnerID: partnerB, AppID: appB1}, environment.Sandbox, EndpointInput{URL: url, EventTypes: []string{"payment.created", "partner.status_changed"}})

		// Rolled back with the caller's change: nothing written.
		boom := errors.New("state change failed")
		err := d.Tx(ctx, func(tx *gorm.DB) error {
			if err := s.Publish(ctx, tx, Event{Type: "payment.created", PartnerID: partnerA, AppID: appA1, Data: map[string]any{"payment_id": "pay_1"}}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		var n int64
		d.Model(&eventRow{}).Count(&n)
		if n != 0 {
			t.Fatalf("%d events after rollback", n)
		}
		mustPublish(t, s, d, Event{ID: "evt_app", Type: "payment.created", PartnerID: partnerA, AppID: appA1, Data: map[string]any{"payment_id": "pay_1"}})
		mustPublish(t, s, d, Event{ID: "evt_all", Type: "partner.status_changed", PartnerID: partnerA, Data: []byte(`{"status":"live"}`)})
		want := map[string]int{a1.ID: 2, a1b.ID: 0, a2.ID: 1, a2off.ID: 0, b1.ID: 0}
		for id, w := range want {
			if got := deliveryStatuses(t, d, id)[StatusPending]; got != w {
				t.Errorf("endpoint %s: %d pending deliveries, want %d", id, got, w)
			}
		}
		var ev eventRow
		d.Where("id = ?", "evt_app").Take(&ev)
		m := decodeBody(t, []byte(ev.Payload))
		data := m["data"].(map[string]any)
		if m["type"] != "payment.created" || data["payment_id"] != "pay_1" || data["event_id"] != "evt_app" || data["partner_id"] != partnerA || data["app_id"] != appA1 {
			t.Fatalf("payload %s", ev.Payload)
		}

		cases := []struct {
			name   string
			e      Event
			detail string
		}{
			{"fail/unknown-type", Event{Type: "payment.exploded", PartnerID: partnerA}, `unknown event type "payment.exploded"`},
			{"fail/test-type", Event{Type: TestEventType, PartnerID: partnerA}, `unknown event type "webhook.test"`},
			{"fail/no-partner", Event{Type: "payment.created"}, "event has no partner"},
			{"fail/data-not-object", Event{Type: "payment.created", PartnerID: partnerA, Data: []string{"x"}}, "event data must be a JSON object"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				err := d.Tx(ctx, func(tx *gorm.DB) error { return s.Publish(ctx, tx, tc.e) })
				wantProblem(t, err, problem.CodeValidation, tc.detail)
			})
		}
	})
}

func TestEndpointLifecycle(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := mustService(t, d, nil)
		ctx := context.Background()
		sc := Scope{PartnerID: partnerA, AppID: appA1}
		e, _ := mustCreate(t, s, sc, environment.Production, EndpointInput{URL: "https://hooks.example.com/a", EventTypes: []string{"payment.created"}, Description: "main"})
		for _, other := range []Scope{{PartnerID: partnerA, AppID: appA2}, {PartnerID: partnerB, AppID: appA1}, {PartnerID: partnerB}} {
			if _, err := s.GetEndpoint(ctx, other, e.ID); err == nil {
				t.Fatalf("scope %+v sees the endpoint", other)
			} else {
				wantProblem(t, err, problem.CodeNotFound, "webhook endpoint "+e.ID+" not found")
			}
		}
		if got, err := s.GetEndpoint(ctx, Scope{PartnerID: partnerA}, e.ID); err != nil || got.URL != e.URL {
			t.Fatalf("partner-wide scope: %v", err)
		}
		url, types, off := "https://rebind.example.com/b", []string{"consent.revoked", "payment.created"}, false
		u, err := s.UpdateEndpoint(ctx, sc, e.ID, EndpointPatch{URL: &url, EventTypes: &types, Enabled: &off})
		if err != nil || u.URL != url || len(u.EventTypes) != 2 || u.Enabled || u.DisabledReason != "disabled by partner" || u.Description != "main" {
			t.Fatalf("update: %+v %v", u, err)
		}
		bad := "http://hooks.example.com/"
		_, err = s.UpdateEndpoint(ctx, sc, e.ID, EndpointPatch{URL: &bad})
		wantProblem(t, err, problem.CodeValidation, "url must use https")
		list, _ := s.ListEndpoints(ctx, sc)
		if len(list) != 1 {
			t.Fatalf("list %d", len(list))
		}
		if err := s.DeleteEndpoint(ctx, Scope{PartnerID: partnerA, AppID: appA2}, e.ID); err == nil {
			t.Fatal("other app deleted the endpoint")
		}
		if err := s.DeleteEndpoint(ctx, sc, e.ID); err != nil {
			t.Fatal(err)
		}
		_, err = s.GetEndpoint(ctx, sc, e.ID)
		wantProblem(t, err, problem.CodeNotFound, "webhook endpoint "+e.ID+" not found")
	})
}
