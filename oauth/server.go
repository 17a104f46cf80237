package oauth

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/gin-gonic/gin"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/oauth2"
	enigma "github.com/ory/fosite/token/hmac"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/netguard"
	"github.com/bankbridge/bankbridge/internal/secrets"
	"github.com/bankbridge/bankbridge/internal/throttle"
	"github.com/bankbridge/bankbridge/oauth/dpop"
	"github.com/bankbridge/bankbridge/oauth/keys"
)

// Endpoint paths, relative to Config.Issuer.
const (
	pathOIDCDiscovery  = "/.well-known/openid-configuration"
	pathOAuthDiscovery = "/.well-known/oauth-authorization-server"
	pathJWKS           = "/jwks.json"
	pathPAR            = "/par"
	pathAuthorize      = "/authorize"
	pathToken          = "/token"
	pathIntrospect     = "/introspect"
	pathRevoke         = "/revoke"
)

// Config configures the authorization server. Zero durations take the defaults.
type Config struct {
	// Issuer is the public base URL, no trailing slash (e.g. https://bank.example).
	Issuer string
	// AccessTokenLifetime defaults to 5 minutes.
	AccessTokenLifetime time.Duration
	// RefreshTokenLifetime defaults to 30 days.
	RefreshTokenLifetime time.Duration
	// AuthCodeLifetime defaults to, and may not exceed, 60 seconds.
	AuthCodeLifetime time.Duration
	// PARLifetime is the request_uri lifetime: default 60 s, must be < 600 s.
	PARLifetime time.Duration
	// RotateRefreshTokens issues a new refresh token on every refresh and
	// revokes the old one; off by default.
	RotateRefreshTokens bool
	// RefreshGraceWindow is how long a rotated refresh token may still be
	// retried (default 30 s); reuse after it revokes the whole grant.
	RefreshGraceWindow time.Duration
	// DPoPRequireNonce makes server-provided DPoP nonces mandatory.
	DPoPRequireNonce bool
	// GlobalSecret (32 bytes) keys fosite's HMAC token strategy.
	GlobalSecret []byte
	// PairwiseSecret keys the pairwise subject identifiers of id_tokens.
	PairwiseSecret []byte
	// JWKSAllowLoopback lets a client's jwks_uri be http://localhost (or
	// another loopback address) for development and tests. Off, jwks_uri
	// documents are fetched only over https from global addresses, checked
	// on the address actually dialled (internal/netguard), so a partner
	// cannot make the authorization server call into the bank's network.
	JWKSAllowLoopback bool
	// RequireSCAForAccountAccess refuses account access and data sharing
	// to a production customer without a second factor (access_denied);
	// off, such a customer grants it with the password alone (acr
	// ACRPassword). Sandbox personas are never refused for it.
	RequireSCAForAccountAccess bool
	// Reauthentication is how old the customer's authentication behind a
	// refresh token may be (PSD2 RTS art. 10a: SCA renewed at least every
	// 180 days for account access); default DefaultReauthentication.
	Reauthentication time.Duration
	// SecureCookies marks the customer pages' cookies Secure (HTTPS). oauth
	// itself sets no cookie: cmd passes this to the Pages implementation
	// (web.NewCustomerAuth).
	SecureCookies bool
}

// Defaults.
const (
	DefaultAccessTokenLifetime  = 5 * time.Minute
	DefaultRefreshTokenLifetime = 30 * 24 * time.Hour
	DefaultAuthCodeLifetime     = 60 * time.Second
	DefaultPARLifetime          = 60 * time.Second
	DefaultRefreshGraceWindow   = 30 * time.Second
	// DefaultReauthentication is PSD2 RTS art. 10a's 180 days.
	DefaultReauthentication = 180 * 24 * time.Hour
)

// KeySource is what the server needs from oauth/keys.Manager: the current
// signing key for an algorithm and the public JWK Set.
type KeySource interface {
	Signing(ctx context.Context, alg string) (kid string, key crypto.Signer, err error)
	PublicJWKS(ctx context.Context) (jose.JSONWebKeySet, error)
}

// Deps are the server's collaborators.
type Deps struct {
	DB        *db.DB
	Keys      KeySource // *keys.Manager
	Clients   ClientRegistry
	Customers CustomerAuthenticator
	Consents  ConsentBroker // may be nil: no authorization_details types
	Pages     Pages
	// SecondFactors may be nil: then no customer is asked for a second
	// factor and every authentication is ACRPassword.
	SecondFactors SecondFactors
	// Exemptions are the bank's exemptions from SCA for payments; nil means
	// none (every payment of a customer with a second factor needs SCA).
	Exemptions SCAExemptions
	// DPoPReplay records DPoP proof ids (use dpop.NewGormReplayStore or the
	// Redis store when several nodes run).
	DPoPReplay dpop.ReplayStore
	Now        func() time.Time
	Logger     *slog.Logger
	// HTTPClient fetches client jwks_uri documents; nil means a default with
	// a 5 s timeout, no redirects and netguard's destination policy (see
	// Config.JWKSAllowLoopback). A client given here is used as it is.
	HTTPClient *http.Client
}

// Server is Bankbridge's FAPI 2.0 authorization server.
type Server struct {
	cfg   Config
	deps  Deps
	now   func() time.Time
	log   *slog.Logger
	store *Store
	// logins is the customer login throttle (customerLoginPolicy).
	logins    *throttle.Limiter
	provider  fosite.OAuth2Provider
	fcfg      *fosite.Config
	strategy  *hmacStrategy
	revoker   *oauth2.TokenRevocationHandler
	dpop      *dpop.Verifier
	nonces    *dpop.NonceSource
	jwks      *jwksCache
	discovery map[string]any
	// interactions seals the login/consent pages' state (interaction.go).
	interactions *secrets.Box
}

var (
	_ KeySource         = (*keys.Manager)(nil)
	_ ResourceVerifier  = (*Server)(nil)
	_ DeferringVerifier = (*Server)(nil)
	_ StatementClaimer  = (*Server)(nil)
	_ TokenRevoker      = (*Server)(nil)
)

// New builds the server.
func New(cfg Config, deps Deps) (*Server, error) {
	switch {
	case cfg.Issuer == "" || cfg.Issuer[len(cfg.Issuer)-1] == '/':
		return nil, errors.New("oauth: Config.Issuer must be set, without a trailing slash")
	case len(cfg.GlobalSecret) < 32:
		return nil, errors.New("oauth: Config.GlobalSecret must be at least 32 bytes")
	case len(cfg.PairwiseSecret) < 16:
		return nil, errors.New("oauth: Config.PairwiseSecret must be at least 16 bytes")
	case deps.DB == nil || deps.Keys == nil || deps.Clients == nil || deps.Customers == nil || deps.Pages == nil || deps.DPoPReplay == nil:
		return nil, errors.New("oauth: Deps.DB, Keys, Clients, Customers, Pages and DPoPReplay are required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.AccessTokenLifetime, DefaultAccessTokenLifetime)
	def(&cfg.RefreshTokenLifetime, DefaultRefreshTokenLifetime)
	def(&cfg.AuthCodeLifetime, DefaultAuthCodeLifetime)
	def(&cfg.PARLifetime, DefaultPARLifetime)
	def(&cfg.RefreshGraceWindow, DefaultRefreshGraceWindow)
	def(&cfg.Reauthentication, DefaultReauthentication)
	if cfg.AuthCodeLifetime > 60*time.Second {
		return nil, errors.New("oauth: Config.AuthCodeLifetime may not exceed 60 s")
	}
	if cfg.PARLifetime >= 600*time.Second {
		return nil, errors.New("oauth: Config.PARLifetime must be under 600 s")
	}
	now := deps.Now
	if now == nil {
		now = time.Now
	}
	log := deps.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &Server{cfg: cfg, deps: deps, now: func() time.Time { return now().UTC() }, log: log}
	s.store = NewStore(deps.DB.DB, deps.Clients, s.now)
	s.logins = throttle.NewStore(deps.DB.DB, s.now).Limiter(customerSurface, customerLoginPolicy)
	switch r := deps.DPoPReplay.(type) {
	case *dpop.GormReplayStore:
		s.store.useReplay(r)
	case *dpop.JournalReplayStore:
		s.store.useJournal(r)
	}
	s.jwks = newJWKSCache(s.now, deps.HTTPClient, netguard.Policy{AllowLoopback: cfg.JWKSAllowLoopback})
	interactions, err := interactionKeyFrom(cfg.GlobalSecret)
	if err != nil {
		return nil, err
	}
	s.interactions = interactions
	nonceKey := hmac.New(sha256.New, cfg.GlobalSecret)
	nonceKey.Write([]byte("bankbridge dpop nonce"))
	s.nonces = dpop.NewNonceSource(nonceKey.Sum(nil), time.Minute, s.now)
	s.dpop = &dpop.Verifier{
		Replay:       deps.DPoPReplay,
		Nonces:       s.nonces,
		RequireNonce: cfg.DPoPRequireNonce,
		Now:          s.now,
		Algs:         []string{"ES256", "PS256"},
	}

	fc := &fosite.Config{
		AccessTokenLifespan:            cfg.AccessTokenLifetime,
		RefreshTokenLifespan:           cfg.RefreshTokenLifetime,
		AuthorizeCodeLifespan:          cfg.AuthCodeLifetime,
		IDTokenLifespan:                cfg.AccessTokenLifetime,
		IDTokenIssuer:                  cfg.Issuer,
		AccessTokenIssuer:              cfg.Issuer,
		TokenURL:                       cfg.Issuer + pathToken,
		GlobalSecret:                   cfg.GlobalSecret,
		EnforcePKCE:                    true,
		EnforcePKCEForPublicClients:    true,
		EnablePKCEPlainChallengeMethod: false,
		IsPushedAuthorizeEnforced:      true,
		PushedAuthorizeContextLifespan: cfg.PARLifetime,
		// RFC 9126 §2.2 suggests this URN prefix.
		PushedAuthorizeRequestURIPrefix: "urn:ietf:params:oauth:request_uri:",
		ScopeStrategy:                   fosite.ExactScopeStrategy,
		AudienceMatchingStrategy:        fosite.DefaultAudienceMatchingStrategy,
		RefreshTokenScopes:              []string{},
		// state is optional under OAuth 2.1 and FAPI 2.0 (PKCE protects
		// the flow); fosite still demands 8 characters whatever this says,
		// so handlePAR accepts its invalid_state refusal (see par.go).
		MinParameterEntropy:        fosite.MinParameterEntropy,
		SendDebugMessagesToClients: false,
		RedirectSecureChecker:      fosite.IsRedirectURISecureStrict,
	}
	fc.ClientAuthenticationStrategy = s.authenticateClient
	fc.ResponseModeHandlerExtension = jarmModes{s: s}
	s.fcfg = fc
	s.strategy = &hmacStrategy{
		enigma: &enigma.HMACStrategy{Config: fc},
		cfg:    fc,
		now:    s.now,
	}
	s.provider = observedProvider{compose.Compose(fc, s.store, s.strategy,
		compose.OAuth2AuthorizeExplicitFactory,
		compose.OAuth2PKCEFactory,
		compose.OAuth2ClientCredentialsGrantFactory,
		compose.PushedAuthorizeHandlerFactory,
	)}
	// A client uses only the grant types it registered: checked before any
	// grant's handler.
	fc.TokenEndpointHandlers = append(fosite.TokenEndpointHandlers{grantTypeHandler{}}, fc.TokenEndpointHandlers...)
	// Refresh and the DPoP binding are Bankbridge's own token handlers.
	fc.TokenEndpointHandlers.Append(&refreshHandler{s: s})
	fc.TokenEndpointHandlers.Append(&bindingHandler{s: s})
	s.revoker = &oauth2.TokenRevocationHandler{
		TokenRevocationStorage: s.store,
		RefreshTokenStrategy:   s.strategy,
		AccessTokenStrategy:    s.strategy,
	}
	s.discovery = s.buildDiscovery()
	return s, nil
}

// Store returns the server's fosite storage (for housekeeping jobs).
func (s *Server) Store() *Store { return s.store }

// Register mounts /.well-known/openid-configuration,
// /.well-known/oauth-authorization-server, /jwks.json, /par, /authorize (GET
// and POST), /token, /introspect and /revoke.
func (s *Server) Register(r gin.IRouter) {
	r.GET(pathOIDCDiscovery, s.handleDiscovery)
	r.GET(pathOAuthDiscovery, s.handleDiscovery)
	r.GET(pathJWKS, s.handleJWKS)
	r.POST(pathPAR, s.handlePAR)
	r.GET(pathAuthorize, s.handleAuthorize)
	r.POST(pathAuthorize, s.handleAuthorizePost)
	r.POST(pathToken, s.handleToken)
	r.POST(pathIntrospect, s.handleIntrospect)
	r.POST(pathRevoke, s.handleRevoke)
}

func (s *Server) url(path string) string { return s.cfg.Issuer + path }

// RevokeConsent implements TokenRevoker.
func (s *Server) RevokeConsent(ctx context.Context, consentID string) error {
	return s.store.RevokeConsent(ctx, consentID)
}

// RevokeClient implements TokenRevoker.
func (s *Server) RevokeClient(ctx context.Context, clientID string) error {
	return s.store.RevokeClient(ctx, clientID)
}

// pairwiseSubject is the customer's stable, partner-specific subject:
// base64url(HMAC-SHA256(PairwiseSecret, partnerID "|" customerID)).
func (s *Server) pairwiseSubject(partnerID, customerID string) string {
	m := hmac.New(sha256.New, s.cfg.PairwiseSecret)
	m.Write([]byte(partnerID))
	m.Write([]byte{'|'})
	m.Write([]byte(customerID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *Server) supportedDetailTypes() []string {
	if s.deps.Consents == nil {
		return []string{}
	}
	return s.deps.Consents.Types()
}

func (s *Server) buildDiscovery() map[string]any {
	authMethods := []string{"private_key_jwt"}
	algs := []string{"ES256", "PS256"}
	scopes := []string{"openid"}
	for k := range scopeTexts {
		if k != "openid" {
			scopes = append(scopes, k)
		}
	}
	slices.Sort(scopes[1:])
	return map[string]any{
		"issuer":                                                   s.cfg.Issuer,
		"authorization_endpoint":                                   s.url(pathAuthorize),
		"token_endpoint":                                           s.url(pathToken),
		"pushed_authorization_request_endpoint":                    s.url(pathPAR),
		"require_pushed_authorization_requests":                    true,
		"jwks_uri":                                                 s.url(pathJWKS),
		"introspection_endpoint":                                   s.url(pathIntrospect),
		"revocation_endpoint":                                      s.url(pathRevoke),
		"response_types_supported":                                 []string{"code"},
		"response_modes_supported":                                 []string{"query", string(responseModeJWT), string(responseModeQueryJWT)},
		"authorization_signing_alg_values_supported":               []string{responseSigningAlg},
		"request_object_signing_alg_values_supported":              requestObjectAlgs,
		"require_signed_request_object":                            false,
		"grant_types_supported":                                    []string{"authorization_code", "refresh_token", "client_credentials"},
		"code_challenge_methods_supported":                         []string{"S256"},
		"token_endpoint_auth_methods_supported":                    authMethods,
		"token_endpoint_auth_signing_alg_values_supported":         algs,
		"introspection_endpoint_auth_methods_supported":            authMethods,
		"introspection_endpoint_auth_signing_alg_values_supported": algs,
		"introspection_signing_alg_values_supported":               []string{responseSigningAlg},
		"revocation_endpoint_auth_methods_supported":               authMethods,
		"revocation_endpoint_auth_signing_alg_values_supported":    algs,
		"dpop_signing_alg_values_supported":                        algs,
		"authorization_response_iss_parameter_supported":           true,
		"authorization_details_types_supported":                    s.supportedDetailTypes(),
		"id_token_signing_alg_values_supported":                    []string{"ES256"},
		"subject_types_supported":                                  []string{"pairwise"},
		"scopes_supported":                                         scopes,
		"claims_supported":                                         []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr"},
		"claims_parameter_supported":                               true,
		"acr_values_supported":                                     []string{ACRPassword, ACRStrong},
		"tls_client_certificate_bound_access_tokens":               false,
	}
}

func (s *Server) handleDiscovery(c *gin.Context) {
	c.Header("Cache-Control", "public, max-age=300")
	c.JSON(http.StatusOK, s.discovery)
}

func (s *Server) handleJWKS(c *gin.Context) {
	set, err := s.deps.Keys.PublicJWKS(c.Request.Context())
	if err != nil {
		s.log.Error("oauth: jwks", "err", err)
		c.Header("Cache-Control", "no-store")
		c.JSON(http.StatusServiceUnavailable, gin.H{"error": "temporarily_unavailable"})
		return
	}
	c.Header("Cache-Control", "public, max-age=300")
	c.Header("Content-Type", "application/jwk-set+json")
	c.JSON(http.StatusOK, set)
}

// hmacStrategy is fosite's opaque HMAC token strategy with an injectable
// clock for expiry checks (fosite's own uses time.Now).
type hmacStrategy struct {
	enigma *enigma.HMACStrategy
	cfg    *fosite.Config
	now    func() time.Time
}

var _ oauth2.CoreStrategy = (*hmacStrategy)(nil)

func (h *hmacStrategy) signature(token string) string { return h.enigma.Signature(token) }

func (h *hmacStrategy) validate(ctx context.Context, r fosite.Requester, t fosite.TokenType, lifespan time.Duration, token string) error {
	exp := r.GetSession().GetExpiresAt(t)
	if exp.IsZero() {
		exp = r.GetRequestedAt().Add(lifespan)
	}
	if !exp.After(h.now()) {
		return fosite.ErrTokenExpired.WithHintf("The token expired at '%s'.", exp.UTC().Format(time.RFC3339))
	}
	return h.enigma.Validate(ctx, token)
}

func (h *hmacStrategy) AccessTokenSignature(_ context.Context, token string) string {
	return h.signature(token)
}
func (h *hmacStrategy) GenerateAccessToken(ctx context.Context, _ fosite.Requester) (string, string, error) {
	return h.enigma.Generate(ctx)
}
func (h *hmacStrategy) ValidateAccessToken(ctx context.Context, r fosite.Requester, token string) error {
	return h.validate(ctx, r, fosite.AccessToken, h.cfg.AccessTokenLifespan, token)
}
func (h *hmacStrategy) RefreshTokenSignature(_ context.Context, token string) string {
	return h.signature(token)
}
func (h *hmacStrategy) GenerateRefreshToken(ctx context.Context, _ fosite.Requester) (string, string, error) {
	return h.enigma.Generate(ctx)
}
func (h *hmacStrategy) ValidateRefreshToken(ctx context.Context, r fosite.Requester, token string) error {
	return h.validate(ctx, r, fosite.RefreshToken, h.cfg.RefreshTokenLifespan, token)
}
func (h *hmacStrategy) AuthorizeCodeSignature(_ context.Context, token string) string {
	return h.signature(token)
}
func (h *hmacStrategy) GenerateAuthorizeCode(ctx context.Context, _ fosite.Requester) (string, string, error) {
	return h.enigma.Generate(ctx)
}
func (h *hmacStrategy) ValidateAuthorizeCode(ctx context.Context, r fosite.Requester, token string) error {
	return h.validate(ctx, r, fosite.AuthorizeCode, h.cfg.AuthorizeCodeLifespan, token)
}

// logServerError logs server_error refusals with their debug detail (never
// sent to clients).
func (s *Server) logServerError(endpoint string, err error) {
	rfc := fosite.ErrorToRFC6749Error(err)
	if rfc.CodeField >= 500 {
		s.log.Error("oauth: server error", "endpoint", endpoint, "err", err, "debug", rfc.DebugField)
	}
}
