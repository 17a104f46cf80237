package bankbridge

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Headers the SDK sends and reads.
const (
	// HeaderInteractionID correlates a request with the platform's logs
	// (UK OB / FAPI); the SDK sends a fresh UUID unless given one, and the
	// platform echoes it.
	HeaderInteractionID = "x-fapi-interaction-id"
	// HeaderIdempotencyKey makes a POST safe to retry: the same key and body
	// within 24 hours replays the first answer.
	HeaderIdempotencyKey = "x-idempotency-key"
	// HeaderIdempotentReplay is "true" on a replayed answer.
	HeaderIdempotentReplay = "x-idempotent-replay"
)

// Config configures a Client. Issuer, ClientID and a client key (PrivateJWK
// or Signer) are required.
type Config struct {
	// Issuer is the platform's issuer URL, e.g. "https://bank.example" or,
	// against a local server, "http://127.0.0.1:8080". The SDK reads
	// Issuer + "/.well-known/openid-configuration" and calls the partner
	// APIs under Issuer.
	Issuer string
	// ClientID is the app's client_id (app_…).
	ClientID string
	// PrivateJWK is the app's private key as a JWK (JSON): EC P-256 (ES256)
	// or RSA 2048+ (PS256), with the kid registered in the app's JWKS. Used
	// for private_key_jwt client assertions and signed request objects.
	PrivateJWK []byte
	// Signer is an alternative to PrivateJWK: any crypto.Signer holding an
	// ECDSA P-256 or RSA key (for example in a KMS), with KeyID its kid.
	Signer crypto.Signer
	// KeyID is the kid of Signer; with PrivateJWK it overrides the JWK's kid.
	KeyID string
	// DPoPKey is the key DPoP proofs are signed with (ECDSA P-256 or RSA).
	// Tokens are bound to it, so keep it as long as the tokens (and, between
	// PushAuthorization and ExchangeCode, the pending authorization). nil
	// makes a fresh P-256 key for this Client.
	DPoPKey crypto.Signer
	// SignedRequestObjects makes PushAuthorization send the authorization
	// parameters as a signed request object (JAR, RFC 9101) through PAR,
	// as FAPI 2.0 Message Signing does.
	SignedRequestObjects bool
	// RateLimitRetries is how many times an API call answered 429 (the
	// platform's per-second rate limit) or 503 with a Retry-After is
	// repeated after the wait it names. Every API call is safe to repeat: GETs and DELETEs are
	// idempotent and every POST carries an idempotency key. 0 means 3; a
	// negative value disables the retries.
	RateLimitRetries int
	// MaxRetryAfter is the longest Retry-After the SDK waits for; a longer
	// one (e.g. a daily quota_exhausted) is returned as the *Problem at
	// once. 0 means 10 seconds.
	MaxRetryAfter time.Duration
	// HTTPClient sends every request; nil means a client with a 30 s timeout.
	HTTPClient *http.Client
	// Now is the clock for iat/exp claims and webhook tolerance; nil means time.Now.
	Now func() time.Time
}

// Client is a partner app talking to a Bankbridge platform: discovery,
// authorization (PAR + PKCE + DPoP, optionally JAR), tokens and, through
// API, the partner APIs. It is safe for concurrent use.
type Client struct {
	issuer   string
	clientID string
	key      *signingKey
	dpop     *signingKey
	jar      bool
	http     *http.Client
	now      func() time.Time
	retries  int
	maxWait  time.Duration
	sleep    func(ctx context.Context, d time.Duration) error

	mu       sync.Mutex
	metadata *ProviderMetadata
	nonces   map[string]string // origin → last DPoP-Nonce
}

// New makes a Client from cfg.
func New(cfg Config) (*Client, error) {
	iss := strings.TrimSuffix(cfg.Issuer, "/")
	u, err := url.Parse(iss)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("bankbridge: Config.Issuer %q must be an http(s) URL without query or fragment", cfg.Issuer)
	}
	if cfg.ClientID == "" {
		return nil, errors.New("bankbridge: Config.ClientID is required")
	}
	signer, kid := cfg.Signer, cfg.KeyID
	switch {
	case len(cfg.PrivateJWK) > 0 && signer != nil:
		return nil, errors.New("bankbridge: set Config.PrivateJWK or Config.Signer, not both")
	case len(cfg.PrivateJWK) > 0:
		var jwkKid string
		signer, jwkKid, err = ParsePrivateJWK(cfg.PrivateJWK)
		if err != nil {
			return nil, err
		}
		if kid == "" {
			kid = jwkKid
		}
	case signer == nil:
		return nil, errors.New("bankbridge: Config.PrivateJWK or Config.Signer is required")
	}
	if kid == "" {
		return nil, errors.New("bankbridge: the client key needs a kid (the JWK's \"kid\" or Config.KeyID)")
	}
	key, err := newSigningKey(signer, kid)
	if err != nil {
		return nil, err
	}
	dk := cfg.DPoPKey
	if dk == nil {
		if dk, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			return nil, err
		}
	}
	dpop, err := newSigningKey(dk, "")
	if err != nil {
		return nil, fmt.Errorf("bankbridge: DPoP key: %w", err)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	retries := cfg.RateLimitRetries
	switch {
	case retries == 0:
		retries = 3
	case retries < 0:
		retries = 0
	}
	maxWait := cfg.MaxRetryAfter
	if maxWait <= 0 {
		maxWait = 10 * time.Second
	}
	return &Client{issuer: iss, clientID: cfg.ClientID, key: key, dpop: dpop, jar: cfg.SignedRequestObjects,
		http: hc, now: now, retries: retries, maxWait: maxWait, sleep: sleepCtx, nonces: map[string]string{}}, nil
}

// sleepCtx waits for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Issuer is the configured issuer URL (without a trailing slash).
func (c *Client) Issuer() string { return c.issuer }

// ClientID is the configured client_id.
func (c *Client) ClientID() string { return c.clientID }

// DPoPThumbprint is the RFC 7638 thumbprint of the DPoP key: the cnf.jkt
// of every token this Client obtains.
func (c *Client) DPoPThumbprint() string { return c.dpop.jkt }

// ProviderMetadata is the part of the platform's discovery document
// (OpenID Connect Discovery 1.0 / RFC 8414) the SDK uses; Raw holds it all.
type ProviderMetadata struct {
	Issuer                                 string                     `json:"issuer"`
	AuthorizationEndpoint                  string                     `json:"authorization_endpoint"`
	TokenEndpoint                          string                     `json:"token_endpoint"`
	PushedAuthorizationRequestEndpoint     string                     `json:"pushed_authorization_request_endpoint"`
	RequirePushedAuthorizationRequests     bool                       `json:"require_pushed_authorization_requests"`
	JWKSURI                                string                     `json:"jwks_uri"`
	IntrospectionEndpoint                  string                     `json:"introspection_endpoint"`
	RevocationEndpoint                     string                     `json:"revocation_endpoint"`
	ScopesSupported                        []string                   `json:"scopes_supported"`
	AuthorizationDetailsTypesSupported     []string                   `json:"authorization_details_types_supported"`
	AuthorizationResponseISSParameter      bool                       `json:"authorization_response_iss_parameter_supported"`
	DPoPSigningAlgValuesSupported          []string                   `json:"dpop_signing_alg_values_supported"`
	RequestObjectSigningAlgValuesSupported []string                   `json:"request_object_signing_alg_values_supported"`
	TokenEndpointAuthSigningAlgValues      []string                   `json:"token_endpoint_auth_signing_alg_values_supported"`
	CodeChallengeMethodsSupported          []string                   `json:"code_challenge_methods_supported"`
	ResponseModesSupported                 []string                   `json:"response_modes_supported"`
	GrantTypesSupported                    []string                   `json:"grant_types_supported"`
	Raw                                    map[string]json.RawMessage `json:"-"`
}

// Discover returns the platform's discovery document, fetched once and then
// cached for the Client's lifetime (a failed fetch is not cached). The
// document must name the configured issuer (RFC 8414 §3.3) and its
// endpoints must be http(s) URLs.
func (c *Client) Discover(ctx context.Context) (*ProviderMetadata, error) {
	c.mu.Lock()
	md := c.metadata
	c.mu.Unlock()
	if md != nil {
		return md, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.issuer+"/.well-known/openid-configuration", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, body, err := c.roundTrip(req)
	if err != nil {
		return nil, fmt.Errorf("bankbridge: discovery: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("bankbridge: discovery: %w", problemFrom(resp, body))
	}
	md = &ProviderMetadata{}
	if err := json.Unmarshal(body, md); err != nil {
		return nil, fmt.Errorf("bankbridge: discovery: %w: %v", ErrUnexpectedResponse, err)
	}
	if err := json.Unmarshal(body, &md.Raw); err != nil {
		return nil, fmt.Errorf("bankbridge: discovery: %w: %v", ErrUnexpectedResponse, err)
	}
	if strings.TrimSuffix(md.Issuer, "/") != c.issuer {
		return nil, fmt.Errorf("%w: discovery names issuer %q, configured %q", ErrIssuerMismatch, md.Issuer, c.issuer)
	}
	for name, ep := range map[string]string{"authorization_endpoint": md.AuthorizationEndpoint, "token_endpoint": md.TokenEndpoint,
		"pushed_authorization_request_endpoint": md.PushedAuthorizationRequestEndpoint} {
		if u, err := url.Parse(ep); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("bankbridge: discovery: %w: %s %q is not an http(s) URL", ErrUnexpectedResponse, name, ep)
		}
	}
	c.mu.Lock()
	c.metadata = md
	c.mu.Unlock()
	return md, nil
}

// maxBody bounds every response body read.
const maxBody = 16 << 20

// roundTrip sends req and reads the whole body, remembering a DPoP-Nonce.
func (c *Client) roundTrip(req *http.Request) (*http.Response, []byte, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, nil, err
	}
	if n := resp.Header.Get("DPoP-Nonce"); n != "" {
		c.setNonce(req.URL, n)
	}
	return resp, body, nil
}

func origin(u *url.URL) string { return strings.ToLower(u.Scheme + "://" + u.Host) }

func (c *Client) nonce(u *url.URL) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nonces[origin(u)]
}

func (c *Client) setNonce(u *url.URL, n string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nonces[origin(u)] = n
}

// dpopProof makes a DPoP proof (RFC 9449 §4.2) for method and u, with ath
// when accessToken is set and the server's last nonce for u's origin.
func (c *Client) dpopProof(method string, u *url.URL, accessToken string) (string, error) {
	htu := *u
	htu.RawQuery, htu.Fragment, htu.RawFragment = "", "", ""
	claims := map[string]any{"jti": randomString(16), "htm": method, "htu": htu.String(), "iat": c.now().Unix()}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		claims["ath"] = b64.EncodeToString(sum[:])
	}
	if n := c.nonce(u); n != "" {
		claims["nonce"] = n
	}
	return c.dpop.sign(map[string]any{"typ": "dpop+jwt", "jwk": c.dpop.jwk}, claims)
}

// request is one DPoP-protected call: body is rebuilt per attempt (a client
// assertion must be fresh each time).
type request struct {
	method      string
	url         *url.URL
	header      http.Header
	accessToken string // resource calls: Authorization: DPoP <token> and ath
	body        func() ([]byte, error)
}

// doDPoP sends r with a DPoP proof and, when the server answers with
// use_dpop_nonce (400 from an authorization server endpoint, RFC 9449 §8;
// 401 with WWW-Authenticate from a resource server, §9), once more with the
// nonce it supplied.
func (c *Client) doDPoP(ctx context.Context, r request) (*http.Response, []byte, error) {
	for attempt := 0; ; attempt++ {
		var rd io.Reader
		if r.body != nil {
			b, err := r.body()
			if err != nil {
				return nil, nil, err
			}
			rd = bytes.NewReader(b)
		}
		req, err := http.NewRequestWithContext(ctx, r.method, r.url.String(), rd)
		if err != nil {
			return nil, nil, err
		}
		for k, vs := range r.header {
			req.Header[k] = append([]string(nil), vs...)
		}
		proof, err := c.dpopProof(r.method, r.url, r.accessToken)
		if err != nil {
			return nil, nil, err
		}
		req.Header.Set("DPoP", proof)
		if r.accessToken != "" {
			req.Header.Set("Authorization", "DPoP "+r.accessToken)
		}
		resp, body, err := c.roundTrip(req)
		if err != nil {
			return nil, nil, err
		}
		if attempt == 0 && resp.Header.Get("DPoP-Nonce") != "" && isNonceChallenge(resp, body) {
			continue
		}
		return resp, body, nil
	}
}

// isNonceChallenge reports whether resp asks for a DPoP nonce.
func isNonceChallenge(resp *http.Response, body []byte) bool {
	switch resp.StatusCode {
	case http.StatusBadRequest:
		var e struct {
			Error string `json:"error"`
		}
		return json.Unmarshal(body, &e) == nil && e.Error == "use_dpop_nonce"
	case http.StatusUnauthorized:
		return authParam(resp.Header.Values("WWW-Authenticate"), "error") == "use_dpop_nonce"
	}
	return false
}

// isJSON reports whether resp's Content-Type is JSON.
func isJSON(resp *http.Response) bool {
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}
