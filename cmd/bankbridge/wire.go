//go:build wiring

package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/internal/secrets"
	"github.com/bankbridge/bankbridge/oauth"
	"github.com/bankbridge/bankbridge/oauth/dpop"
	"github.com/bankbridge/bankbridge/oauth/keys"
	"github.com/bankbridge/bankbridge/partners"
	"github.com/bankbridge/bankbridge/web"
)

// Services are the wired domain services.
type Services struct {
	Keys     *keys.Manager
	OAuth    *oauth.Server
	Partners *partners.Service
	Core     *core.Reference
}

// clientRegistry adapts the partners service to oauth.ClientRegistry.
type clientRegistry struct{ p *partners.Service }

func (c clientRegistry) Client(ctx context.Context, id string) (*oauth.Client, error) {
	return c.p.OAuthClient(ctx, id)
}

// wire builds the domain services.
func (p *Platform) wire(ctx context.Context) error {
	s := &p.Services
	now := func() time.Time { return time.Now().UTC() }
	s.Keys = keys.NewManager(p.DB.DB, p.Box, now)
	if err := s.Keys.EnsureKeys(ctx, "ES256", "PS256"); err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	s.Core = core.NewReference(p.DB, core.Options{CursorKey: secrets.DeriveKey(p.Master, "core-cursor")})
	var err error
	if s.Partners, err = partners.New(partners.Config{
		DB: p.DB, Box: p.Box, Logger: p.Log,
		PortalURL: p.Issuer + "/portal", RegistrationURL: p.Issuer + "/register",
	}); err != nil {
		return err
	}
	s.OAuth, err = oauth.New(oauth.Config{
		Issuer:               p.Issuer,
		AccessTokenLifetime:  p.Config.AccessTokenLifetime,
		RefreshTokenLifetime: p.Config.RefreshTokenLifetime,
		RotateRefreshTokens:  p.Config.RotateRefreshTokens,
		DPoPRequireNonce:     p.Config.DPoPRequireNonce,
		GlobalSecret:         secrets.DeriveKey(p.Master, "fosite-hmac"),
		PairwiseSecret:       secrets.DeriveKey(p.Master, "pairwise-sub"),
		SecureCookies:        strings.HasPrefix(p.Issuer, "https://"),
	}, oauth.Deps{
		DB: p.DB, Keys: s.Keys, Clients: clientRegistry{s.Partners}, Customers: s.Core,
		Pages:      web.NewCustomerPages(p.Pages, web.CSRF{Secure: strings.HasPrefix(p.Issuer, "https://")}),
		DPoPReplay: dpop.NewGormReplayStore(p.DB.DB), Now: now, Logger: p.Log,
	})
	if err != nil {
		return err
	}
	s.Partners.SetRevoker(s.OAuth)
	return nil
}

// mount registers every domain's routes.
func (p *Platform) mount(r *gin.Engine) {
	s := &p.Services
	secure := strings.HasPrefix(p.Issuer, "https://")
	csrf := web.CSRF{Secure: secure}
	sessions := &web.Sessions{DB: p.DB.DB, Secure: secure}
	s.OAuth.Register(r)
	personas := web.SandboxPersonasFunc(func() []web.PersonaView {
		var out []web.PersonaView
		for _, x := range core.Personas() {
			v := web.PersonaView{Username: x.Username, Password: x.Password, DisplayName: x.DisplayName,
				Description: x.Description, Purpose: x.Purpose}
			switch {
			case x.ConsentBehaviour == "reject":
				v.Behaviour = "Every consent is rejected"
			case x.Locked:
				v.Behaviour = "Sign-in is locked"
			}
			out = append(out, v)
		}
		return out
	})
	(&web.Portal{Pages: p.Pages, CSRF: csrf, Sessions: sessions, Partners: s.Partners, Personas: personas,
		DB: p.DB.DB, DevOutbox: true, RegistrationURL: p.Issuer + "/register", Log: p.Log}).Register(r)
	(&web.Console{Pages: p.Pages, CSRF: csrf, Sessions: sessions, Partners: s.Partners, DB: p.DB.DB, Log: p.Log}).Register(r)
	r.GET("/", func(c *gin.Context) { c.Redirect(http.StatusFound, "/portal") })
}

// seed creates the sandbox's synthetic customers and the demo partner; the
// demo app's private key is written to the data directory the first time.
func (p *Platform) seed(ctx context.Context) error {
	rep, err := p.Services.Core.Seed(ctx, core.SeedOptions{})
	if err != nil {
		return fmt.Errorf("sandbox customers: %w", err)
	}
	demo, err := p.Services.Partners.SeedSandbox(ctx)
	if err != nil {
		return fmt.Errorf("demo partner: %w", err)
	}
	keyFile := filepath.Join(p.Config.DataDir, "demo-app-key.json")
	if demo.Created && len(demo.PrivateJWK) > 0 {
		if err := os.WriteFile(keyFile, demo.PrivateJWK, 0o600); err != nil {
			return err
		}
	}
	p.Log.Info("sandbox seeded", "customers", rep.Customers, "transactions", rep.Transactions,
		"demo_partner", demo.PartnerID, "demo_client_id", demo.AppID, "demo_key_file", keyFile,
		"portal_login", demo.Email)
	return nil
}
