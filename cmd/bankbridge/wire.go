//go:build wiring

package main

import (
	"context"
	"fmt"
	"net/http"
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
	p.Services.OAuth.Register(r)
	r.GET("/", func(c *gin.Context) { c.Redirect(http.StatusFound, "/docs") })
}
