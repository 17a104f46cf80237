package partners

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/oauth"
	"github.com/bankbridge/bankbridge/partners/staff"
)

func TestRedirectURIs(t *testing.T) {
	long := "https://a.example/" + string(make([]byte, 0))
	for len(long) <= 2000 {
		long += "aaaaaaaaaa"
	}
	for _, tc := range []struct {
		name   string
		env    environment.Environment
		uris   []string
		detail string
	}{
		{"ok/https", "production", []string{"https://wallet.example/cb"}, ""},
		{"ok/https-port-query", "production", []string{"https://wallet.example:8443/cb?x=1"}, ""},
		{"ok/sandbox-localhost", "sandbox", []string{"http://localhost:3000/callback"}, ""},
		{"ok/sandbox-loopback", "sandbox", []string{"http://127.0.0.1/cb"}, ""},
		{"fail/none", "sandbox", nil, "at least one redirect URI is required"},
		{"fail/production-localhost", "production", []string{"http://localhost:3000/cb"}, `redirect URI "http://localhost:3000/cb": http (localhost) is only allowed for sandbox apps`},
		{"fail/http-other-host", "sandbox", []string{"http://wallet.example/cb"}, `redirect URI "http://wallet.example/cb": http is only allowed for localhost or 127.0.0.1`},
		{"fail/ipv6-loopback", "sandbox", []string{"http://[::1]/cb"}, `redirect URI "http://[::1]/cb": http is only allowed for localhost or 127.0.0.1`},
		{"fail/relative", "sandbox", []string{"/cb"}, `redirect URI "/cb" must be an absolute URL`},
		{"fail/fragment", "sandbox", []string{"https://wallet.example/cb#x"}, `redirect URI "https://wallet.example/cb#x" must not contain a fragment`},
		{"fail/credentials", "sandbox", []string{"https://u:p@wallet.example/cb"}, `redirect URI "https://u:p@wallet.example/cb" must not contain credentials`},
		{"fail/custom-scheme", "sandbox", []string{"com.wallet://cb"}, `redirect URI "com.wallet://cb" must use https`},
		{"fail/javascript", "sandbox", []string{"javascript:alert(1)"}, `redirect URI "javascript:alert(1)" must be an absolute URL`},
		{"fail/duplicate", "sandbox", []string{"https://a.example/cb", "https://a.example/cb"}, `redirect URI "https://a.example/cb" is listed twice`},
		{"fail/too-long", "sandbox", []string{long}, "redirect URI is longer than 2000 characters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateRedirectURIs(tc.env, tc.uris)
			if tc.detail == "" {
				mustOK(t, err)
				return
			}
			wantProblem(t, err, problem.CodeValidation, tc.detail)
		})
	}
}

func jwk(t *testing.T, key any, kid, alg, use string) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key, KeyID: kid, Algorithm: alg, Use: use}}})
	mustOK(t, err)
	return b
}

func TestJWKSValidation(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsa2048, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	two, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &ec.PublicKey, KeyID: "a"}, {Key: &rsa2048.PublicKey, KeyID: "b"}}})
	twoNoKid, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &ec.PublicKey, KeyID: "a"}, {Key: &rsa2048.PublicKey}}})
	dupKid, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &ec.PublicKey, KeyID: "a"}, {Key: &rsa2048.PublicKey, KeyID: "a"}}})
	for _, tc := range []struct {
		name   string
		jwks   json.RawMessage
		uri    string
		detail string
	}{
		{"ok/ec-p256", jwk(t, &ec.PublicKey, "k", "ES256", "sig"), "", ""},
		{"ok/rsa-2048-ps256", jwk(t, &rsa2048.PublicKey, "k", "PS256", ""), "", ""},
		{"ok/two-keys", two, "", ""},
		{"ok/jwks-uri", nil, "https://wallet.example/jwks.json", ""},
		{"fail/none", nil, "", "jwks or jwks_uri is required (private_key_jwt client authentication)"},
		{"fail/both", jwk(t, &ec.PublicKey, "k", "", ""), "https://wallet.example/jwks.json", "give either jwks or jwks_uri, not both"},
		{"fail/http-uri", nil, "http://wallet.example/jwks.json", `jwks_uri must be an absolute https URL without credentials or fragment, got "http://wallet.example/jwks.json"`},
		{"fail/private-ec", jwk(t, ec, "k", "ES256", "sig"), "", `jwks key 0 contains private or symmetric key material ("d"); register public keys only`},
		{"fail/private-rsa", jwk(t, rsa2048, "k", "PS256", ""), "", `jwks key 0 contains private or symmetric key material ("d"); register public keys only`},
		{"fail/symmetric", json.RawMessage(`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`), "", `jwks key 0 contains private or symmetric key material ("k"); register public keys only`},
		{"fail/p384", jwk(t, &ec384.PublicKey, "k", "", ""), "", `jwks key "k" is an EC key on P-384; only P-256 (ES256) is accepted`},
		{"fail/rsa-1024", jwk(t, &rsa1024.PublicKey, "k", "", ""), "", `jwks key "k" is a 1024-bit RSA key; at least 2048 bits are required (PS256)`},
		{"fail/rs256", jwk(t, &rsa2048.PublicKey, "k", "RS256", ""), "", `jwks key "k" has alg "RS256"; an RSA key must be PS256 (RS256 is not allowed by FAPI 2.0)`},
		{"fail/ec-wrong-alg", jwk(t, &ec.PublicKey, "k", "ES384", ""), "", `jwks key "k" has alg "ES384"; an EC P-256 key must be ES256`},
		{"fail/enc-use", jwk(t, &ec.PublicKey, "k", "", "enc"), "", `jwks key "k" has use "enc"; client authentication keys must have use sig`},
		{"fail/empty-set", json.RawMessage(`{"keys":[]}`), "", "jwks must contain at least one key"},
		{"fail/not-json", json.RawMessage(`[1,2]`), "", "jwks is not a JSON JWK Set: json: cannot unmarshal array into Go value of type struct { Keys []map[string]json.RawMessage \"json:\\\"keys\\\"\" }"},
		{"fail/no-kid-in-set", twoNoKid, "", "jwks key 1 has no kid; every key needs a distinct kid when the set holds several"},
		{"fail/duplicate-kid", dupKid, "", `jwks key "a" appears twice; kids must be distinct`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateCredentials(tc.jwks, tc.uri)
			if tc.detail == "" {
				mustOK(t, err)
				return
			}
			wantProblem(t, err, problem.CodeValidation, tc.detail)
		})
	}
}

func TestApps(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		owner, pid := e.signUp("owner@acme.example", "Acme")
		dev := e.member(owner, pid, "dev@acme.example", RoleDeveloper)
		viewer := e.member(owner, pid, "viewer@acme.example", RoleViewer)
		otherOwner, otherPID := e.signUp("owner@other.example", "Other")

		_, err := e.s.CreateApp(ctx, viewer, pid, sandboxApp(t))
		wantProblem(t, err, problem.CodeForbidden, "role viewer may not apps.write.sandbox")
		_, err = e.s.CreateApp(ctx, dev, pid, prodApp(t))
		wantProblem(t, err, problem.CodeForbidden, "role developer may not apps.write.production")
		_, err = e.s.CreateApp(ctx, owner, pid, prodApp(t))
		wantProblem(t, err, problem.CodeInvalidState, "cannot create a production app: partner is sandbox (needs live); use the sandbox until go-live")
		_, err = e.s.CreateApp(ctx, otherOwner, pid, sandboxApp(t))
		wantProblem(t, err, problem.CodeNotFound, "partner "+pid+" not found")
		in := sandboxApp(t)
		in.Scopes = []string{"accounts", "admin"}
		_, err = e.s.CreateApp(ctx, dev, pid, in)
		wantProblem(t, err, problem.CodeValidation, `scope "admin" is not one of openid accounts payments data_sharing webhooks`)
		in = sandboxApp(t)
		in.Environment = "staging"
		_, err = e.s.CreateApp(ctx, owner, pid, in)
		wantProblem(t, err, problem.CodeValidation, `environment must be sandbox or production, got "staging"`)

		app, err := e.s.CreateApp(ctx, dev, pid, sandboxApp(t))
		mustOK(t, err)
		got, err := e.s.GetApp(ctx, viewer, pid, app.ID)
		mustOK(t, err)
		if got.Name != "Wallet sandbox" || len(got.RedirectURIs) != 1 || got.Status != AppActive {
			t.Fatalf("app %+v", got)
		}
		list, err := e.s.ListApps(ctx, viewer, pid)
		mustOK(t, err)
		if len(list) != 1 {
			t.Fatalf("apps %+v", list)
		}

		// Another organisation never sees the app: not found, no data.
		for _, tc := range []struct {
			name string
			run  func() error
		}{
			{"fail/other-org-get", func() error { _, err := e.s.GetApp(ctx, otherOwner, otherPID, app.ID); return err }},
			{"fail/other-org-update", func() error {
				_, err := e.s.UpdateApp(ctx, otherOwner, otherPID, app.ID, AppUpdate{Name: "x", RedirectURIs: []string{"https://x.example"}, Scopes: []string{"openid"}})
				return err
			}},
			{"fail/other-org-rotate", func() error {
				_, err := e.s.RotateCredentials(ctx, otherOwner, otherPID, app.ID, testJWKS(t), "")
				return err
			}},
			{"fail/other-org-revoke", func() error { return e.s.RevokeApp(ctx, otherOwner, otherPID, app.ID) }},
		} {
			t.Run(tc.name, func(t *testing.T) { wantProblem(t, tc.run(), problem.CodeNotFound, "app "+app.ID+" not found") })
		}
		_, err = e.s.GetApp(ctx, otherOwner, pid, app.ID)
		wantProblem(t, err, problem.CodeNotFound, "partner "+pid+" not found")

		_, err = e.s.UpdateApp(ctx, viewer, pid, app.ID, AppUpdate{Name: "x", RedirectURIs: []string{"https://x.example"}, Scopes: []string{"openid"}})
		wantProblem(t, err, problem.CodeForbidden, "role viewer may not apps.write.sandbox")
		upd, err := e.s.UpdateApp(ctx, dev, pid, app.ID, AppUpdate{Name: "Renamed", RedirectURIs: []string{"https://wallet.example/cb"}, Scopes: []string{"openid", "payments"}})
		mustOK(t, err)
		c, err := e.s.OAuthClient(ctx, app.ID)
		mustOK(t, err)
		if c.Name != "Renamed" || c.RedirectURIs[0] != "https://wallet.example/cb" || len(c.Scopes) != 2 || upd.Name != "Renamed" {
			t.Fatalf("client after update %+v", c)
		}
		newKeys := testJWKS(t)
		_, err = e.s.RotateCredentials(ctx, dev, pid, app.ID, nil, "https://wallet.example/jwks")
		mustOK(t, err)
		if c, _ = e.s.OAuthClient(ctx, app.ID); c.JWKSURI != "https://wallet.example/jwks" || len(c.JWKS) != 0 {
			t.Fatalf("client after rotation %+v", c)
		}
		_, err = e.s.RotateCredentials(ctx, dev, pid, app.ID, newKeys, "")
		mustOK(t, err)

		mustOK(t, e.s.RevokeApp(ctx, dev, pid, app.ID))
		if c, _ = e.s.OAuthClient(ctx, app.ID); c.Active {
			t.Fatal("revoked client active")
		}
		if got := e.rev.list(); len(got) != 1 || got[0] != app.ID {
			t.Fatalf("revoker calls %v", got)
		}
		wantProblem(t, e.s.RevokeApp(ctx, dev, pid, app.ID), problem.CodeInvalidState, "app "+app.ID+" is revoked")

		// Operator (CLI) paths.
		p, err := e.s.CreatePartner(ctx, "CLI Partner")
		mustOK(t, err)
		_, err = e.s.CreateAppAsOperator(ctx, p.ID, prodApp(t))
		wantProblem(t, err, problem.CodeInvalidState, "cannot create a production app: partner is sandbox (needs live); use the sandbox until go-live")
		e.force(p.ID, StatusLive, "")
		_, err = e.s.CreateAppAsOperator(ctx, p.ID, prodApp(t))
		mustOK(t, err)
		_, err = e.s.CreateAppAsOperator(ctx, "ptn_missing", sandboxApp(t))
		wantProblem(t, err, problem.CodeNotFound, "partner ptn_missing not found")
	})
}

func TestOAuthClientActive(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		_, err := e.s.OAuthClient(ctx, "app_unknown")
		if !errors.Is(err, oauth.ErrClientNotFound) {
			t.Fatalf("err %v", err)
		}
		p, err := e.s.CreatePartner(ctx, "Acme")
		mustOK(t, err)
		e.force(p.ID, StatusLive, "")
		sb, err := e.s.CreateAppAsOperator(ctx, p.ID, sandboxApp(t))
		mustOK(t, err)
		prod, err := e.s.CreateAppAsOperator(ctx, p.ID, prodApp(t))
		mustOK(t, err)
		for _, st := range Statuses {
			for _, a := range []*App{sb, prod} {
				want := st != StatusSuspended && st != StatusTerminated && (a.Environment == environment.Sandbox || st == StatusLive)
				name := fmt.Sprintf("%s/%s", a.Environment, st)
				t.Run(name, func(t *testing.T) {
					e.force(p.ID, st, "")
					c, err := e.s.OAuthClient(ctx, a.ID)
					mustOK(t, err)
					if c.Active != want || ClientActive(AppActive, a.Environment, st) != want {
						t.Fatalf("Active = %v, want %v", c.Active, want)
					}
				})
			}
		}
		for _, st := range []string{AppSuspended, AppRevoked} {
			if ClientActive(st, environment.Sandbox, StatusLive) {
				t.Fatalf("app %s active", st)
			}
		}
		// Suspension through the service flips a cached answer at once.
		e.force(p.ID, StatusLive, "")
		c, err := e.s.OAuthClient(ctx, prod.ID) // cached now
		mustOK(t, err)
		if !c.Active {
			t.Fatal("inactive before suspension")
		}
		c.RedirectURIs[0] = "https://mutated.example" // callers cannot corrupt the cache
		risk, _ := e.staff(staff.RoleRiskOfficer)
		mustOK(t, e.s.Suspend(ctx, risk, p.ID, "fraud"))
		c, err = e.s.OAuthClient(ctx, prod.ID)
		mustOK(t, err)
		if c.Active || c.RedirectURIs[0] != "https://wallet.example/cb" {
			t.Fatalf("after suspension %+v", c)
		}
	})
}

func TestSeedSandbox(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		r1, err := e.s.SeedSandbox(ctx)
		mustOK(t, err)
		if !r1.Created || len(r1.PrivateJWK) == 0 {
			t.Fatalf("first seed %+v", r1)
		}
		var priv jose.JSONWebKey
		mustOK(t, json.Unmarshal(r1.PrivateJWK, &priv))
		if priv.IsPublic() || priv.Algorithm != "ES256" {
			t.Fatalf("private JWK %+v", priv)
		}
		c, err := e.s.OAuthClient(ctx, r1.AppID)
		mustOK(t, err)
		var set jose.JSONWebKeySet
		mustOK(t, json.Unmarshal(c.JWKS, &set))
		if !c.Active || c.RedirectURIs[0] != SeedRedirectURI || c.PartnerName != SeedPartnerName || set.Keys[0].KeyID != priv.KeyID {
			t.Fatalf("seed client %+v", c)
		}
		r2, err := e.s.SeedSandbox(ctx)
		mustOK(t, err)
		if r2.Created || r2.AppID != r1.AppID || r2.PartnerID != r1.PartnerID || r2.UserID != r1.UserID {
			t.Fatalf("second seed %+v vs %+v", r2, r1)
		}
		u, err := e.s.Login(ctx, SeedEmail, SeedPassword)
		mustOK(t, err)
		if u.EmailVerifiedAt == nil {
			t.Fatal("demo user not verified")
		}
	})
}

func BenchmarkOAuthClient(b *testing.B) {
	for _, eng := range dbtest.Engines() {
		for _, mode := range []struct {
			name string
			ttl  int
		}{{"cached", 0}, {"uncached", -1}} {
			b.Run(eng.Name+"/"+mode.name, func(b *testing.B) {
				d := eng.Open(b)
				box, _ := newBenchBox()
				s, err := New(Config{DB: d, Box: box, ClientCacheTTL: benchTTL(mode.ttl)})
				if err != nil {
					b.Fatal(err)
				}
				p, err := s.CreatePartner(ctx, "Bench")
				if err != nil {
					b.Fatal(err)
				}
				a, err := s.CreateAppAsOperator(ctx, p.ID, sandboxApp(b))
				if err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := s.OAuthClient(ctx, a.ID); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}

// Two nodes share one database: the node that suspends sees it at once; the
// other within its cache TTL (simulated with the test clock, not by waiting).
func TestOAuthClientTwoNodes(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		a := newEnv(t, d)
		b := newEnv(t, d)
		b.clock = a.clock
		b.s.now = a.clock.now
		owner, pid := a.signUp("owner@acme.example", "Acme")
		app, err := a.s.CreateApp(ctx, owner, pid, sandboxApp(t))
		mustOK(t, err)
		for _, n := range []*env{a, b} {
			c, err := n.s.OAuthClient(ctx, app.ID)
			mustOK(t, err)
			if !c.Active {
				t.Fatal("inactive before suspension")
			}
		}
		risk, _ := a.staff(staff.RoleRiskOfficer)
		mustOK(t, a.s.Suspend(ctx, risk, pid, "fraud"))
		if c, _ := a.s.OAuthClient(ctx, app.ID); c.Active {
			t.Fatal("suspending node still active")
		}
		if c, _ := b.s.OAuthClient(ctx, app.ID); !c.Active {
			t.Fatal("other node refreshed before its TTL (cache not used?)")
		}
		b.clock.advance(2 * time.Second)
		if c, _ := b.s.OAuthClient(ctx, app.ID); c.Active {
			t.Fatal("other node still active after its TTL")
		}
	})
}
