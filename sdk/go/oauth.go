package bankbridge

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Authorization details types (RFC 9396) the platform understands; each
// names the consent (ConsentID) the customer is asked to authorise.
const (
	DetailAccountAccess     = "account_access"
	DetailPaymentInitiation = "payment_initiation"
	DetailDataSharing       = "data_sharing"
)

// Scopes of the partner APIs.
const (
	ScopeOpenID      = "openid"
	ScopeAccounts    = "accounts"
	ScopePayments    = "payments"
	ScopeDataSharing = "data_sharing"
	ScopeWebhooks    = "webhooks"
)

// AuthorizationDetail is one RFC 9396 authorization_details entry. Members
// other than type and consent_id (for example what the customer chose on the
// consent page, in a token response) are kept in Extra.
type AuthorizationDetail struct {
	Type      string                     `json:"type"`
	ConsentID string                     `json:"consent_id,omitempty"`
	Extra     map[string]json.RawMessage `json:"-"`
}

// MarshalJSON writes Type, ConsentID and Extra as one object.
func (d AuthorizationDetail) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, len(d.Extra)+2)
	for k, v := range d.Extra {
		m[k] = v
	}
	m["type"] = d.Type
	if d.ConsentID != "" {
		m["consent_id"] = d.ConsentID
	}
	return json.Marshal(m)
}

// UnmarshalJSON reads Type, ConsentID and keeps the other members in Extra.
func (d *AuthorizationDetail) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*d = AuthorizationDetail{}
	if v, ok := m["type"]; ok {
		if err := json.Unmarshal(v, &d.Type); err != nil {
			return fmt.Errorf("authorization detail type: %w", err)
		}
		delete(m, "type")
	}
	if v, ok := m["consent_id"]; ok {
		if err := json.Unmarshal(v, &d.ConsentID); err != nil {
			return fmt.Errorf("authorization detail consent_id: %w", err)
		}
		delete(m, "consent_id")
	}
	if len(m) > 0 {
		d.Extra = m
	}
	return nil
}

// AuthorizationRequest is what PushAuthorization asks the customer for.
type AuthorizationRequest struct {
	// RedirectURI is one of the app's registered redirect URIs.
	RedirectURI string
	// Scope is space-separated, e.g. "openid accounts".
	Scope string
	// AuthorizationDetails name the consents to authorise, e.g.
	// {Type: DetailAccountAccess, ConsentID: "cns_…"}.
	AuthorizationDetails []AuthorizationDetail
	// State is sent as the state parameter; empty means a fresh random
	// value (kept in the PendingAuthorization) unless OmitState is set.
	State string
	// OmitState sends no state: OAuth 2.1 allows it with PKCE, and PKCE
	// already ties the response to this request.
	OmitState bool
	// Nonce is sent as the OpenID Connect nonce when set.
	Nonce string
	// Extra are further authorization parameters (e.g. "prompt", "acr_values").
	Extra url.Values
}

// PendingAuthorization is what to keep (for example in the customer's
// session) between PushAuthorization and ExchangeCode. It holds the PKCE
// verifier, so keep it server-side or encrypted. It marshals to JSON.
type PendingAuthorization struct {
	// URL is where to send the customer's browser (the authorization
	// endpoint with client_id and the pushed request_uri).
	URL          string    `json:"url"`
	State        string    `json:"state,omitempty"`
	CodeVerifier string    `json:"code_verifier"`
	RedirectURI  string    `json:"redirect_uri"`
	Nonce        string    `json:"nonce,omitempty"`
	RequestURI   string    `json:"request_uri"`
	ExpiresAt    time.Time `json:"expires_at"`
	// DPoPJKT is the DPoP key thumbprint the authorization code is bound to:
	// ExchangeCode must run with the same DPoP key.
	DPoPJKT string `json:"dpop_jkt"`
}

// Token is a DPoP-bound token response. It marshals to JSON (keep it with
// the DPoP key it is bound to).
type Token struct {
	AccessToken          string                `json:"access_token"`
	TokenType            string                `json:"token_type"`
	RefreshToken         string                `json:"refresh_token,omitempty"`
	ExpiresAt            time.Time             `json:"expires_at"`
	Scope                string                `json:"scope,omitempty"`
	IDToken              string                `json:"id_token,omitempty"`
	AuthorizationDetails []AuthorizationDetail `json:"authorization_details,omitempty"`
}

// Expired reports whether the access token has expired at now (with 10
// seconds to spare).
func (t *Token) Expired(now time.Time) bool {
	return !t.ExpiresAt.IsZero() && !now.Add(10*time.Second).Before(t.ExpiresAt)
}

// ConsentID returns the consent id of the token's first authorization
// detail of type typ, or "".
func (t *Token) ConsentID(typ string) string {
	for _, d := range t.AuthorizationDetails {
		if d.Type == typ {
			return d.ConsentID
		}
	}
	return ""
}

// NewCodeVerifier returns a fresh PKCE code verifier (RFC 7636 §4.1: 43
// characters from 32 random bytes).
func NewCodeVerifier() string { return randomString(32) }

// CodeChallengeS256 is the RFC 7636 §4.2 S256 challenge of verifier.
func CodeChallengeS256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return b64.EncodeToString(sum[:])
}

// clientAssertion is a fresh private_key_jwt assertion (RFC 7523 §2.2)
// for the issuer.
func (c *Client) clientAssertion() (string, error) {
	now := c.now()
	return c.key.sign(map[string]any{"typ": "JWT", "kid": c.key.kid}, map[string]any{
		"iss": c.clientID, "sub": c.clientID, "aud": c.issuer, "jti": randomString(16),
		"iat": now.Unix(), "exp": now.Add(60 * time.Second).Unix(),
	})
}

// authenticatedForm returns a body builder: form plus client_id and a fresh
// client assertion per call.
func (c *Client) authenticatedForm(form url.Values) func() ([]byte, error) {
	return func() ([]byte, error) {
		a, err := c.clientAssertion()
		if err != nil {
			return nil, err
		}
		f := url.Values{}
		for k, v := range form {
			f[k] = v
		}
		f.Set("client_id", c.clientID)
		f.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		f.Set("client_assertion", a)
		return []byte(f.Encode()), nil
	}
}

// PushAuthorization pushes an authorization request (PAR, RFC 9126) with
// PKCE S256, private_key_jwt and a DPoP proof (binding the authorization
// code to the DPoP key, RFC 9449 §10), and returns where to send the
// customer and what to keep for ExchangeCode. With
// Config.SignedRequestObjects the parameters travel as a signed request
// object (JAR, RFC 9101).
func (c *Client) PushAuthorization(ctx context.Context, ar AuthorizationRequest) (*PendingAuthorization, error) {
	md, err := c.Discover(ctx)
	if err != nil {
		return nil, err
	}
	if ar.RedirectURI == "" {
		return nil, fmt.Errorf("bankbridge: AuthorizationRequest.RedirectURI is required")
	}
	p := &PendingAuthorization{CodeVerifier: NewCodeVerifier(), RedirectURI: ar.RedirectURI, Nonce: ar.Nonce, DPoPJKT: c.dpop.jkt}
	if !ar.OmitState {
		p.State = ar.State
		if p.State == "" {
			p.State = randomString(24)
		}
	}
	params := url.Values{}
	for k, v := range ar.Extra {
		params[k] = append([]string(nil), v...)
	}
	params.Set("response_type", "code")
	params.Set("client_id", c.clientID)
	params.Set("redirect_uri", ar.RedirectURI)
	params.Set("code_challenge", CodeChallengeS256(p.CodeVerifier))
	params.Set("code_challenge_method", "S256")
	if ar.Scope != "" {
		params.Set("scope", ar.Scope)
	}
	if p.State != "" {
		params.Set("state", p.State)
	}
	if ar.Nonce != "" {
		params.Set("nonce", ar.Nonce)
	}
	var details []byte
	if len(ar.AuthorizationDetails) > 0 {
		if details, err = json.Marshal(ar.AuthorizationDetails); err != nil {
			return nil, err
		}
		params.Set("authorization_details", string(details))
	}
	form := params
	if c.jar {
		obj, err := c.requestObject(params, details)
		if err != nil {
			return nil, err
		}
		form = url.Values{"request": {obj}}
	}
	u, err := url.Parse(md.PushedAuthorizationRequestEndpoint)
	if err != nil {
		return nil, err
	}
	resp, body, err := c.doDPoP(ctx, request{method: http.MethodPost, url: u,
		header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Accept": {"application/json"}},
		body:   c.authenticatedForm(form)})
	if err != nil {
		return nil, fmt.Errorf("bankbridge: pushed authorization request: %w", err)
	}
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return nil, oauthErrorFrom(resp, body)
	}
	var par struct {
		RequestURI string `json:"request_uri"`
		ExpiresIn  int64  `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &par); err != nil || par.RequestURI == "" {
		return nil, fmt.Errorf("bankbridge: pushed authorization request: %w: no request_uri in %s", ErrUnexpectedResponse, truncate(body, maxErrorDetail))
	}
	p.RequestURI = par.RequestURI
	p.ExpiresAt = c.now().Add(time.Duration(par.ExpiresIn) * time.Second).UTC()
	au, err := url.Parse(md.AuthorizationEndpoint)
	if err != nil {
		return nil, err
	}
	q := au.Query()
	q.Set("client_id", c.clientID)
	q.Set("request_uri", par.RequestURI)
	au.RawQuery = q.Encode()
	p.URL = au.String()
	return p, nil
}

// requestObject signs the authorization parameters as a JAR request object
// (RFC 9101 §4; typ oauth-authz-req+jwt, iss = client_id, aud = issuer, a
// 5-minute lifetime; authorization_details as a JSON array, RFC 9396 §3).
func (c *Client) requestObject(params url.Values, details []byte) (string, error) {
	now := c.now()
	claims := map[string]any{}
	for k, v := range params {
		if len(v) > 0 {
			claims[k] = v[0]
		}
	}
	if details != nil {
		claims["authorization_details"] = json.RawMessage(details)
	}
	claims["iss"] = c.clientID
	claims["aud"] = c.issuer
	claims["jti"] = randomString(16)
	claims["iat"] = now.Unix()
	claims["nbf"] = now.Unix()
	claims["exp"] = now.Add(5 * time.Minute).Unix()
	return c.key.sign(map[string]any{"typ": "oauth-authz-req+jwt", "kid": c.key.kid}, claims)
}

// ExchangeCode completes an authorization: it checks the authorization
// response the customer's browser brought to the redirect URI (its query
// parameters, e.g. r.URL.Query()) — iss must be the issuer (RFC 9207),
// state must match, an error becomes an *OAuthError — and redeems the code
// with the PKCE verifier for a DPoP-bound token.
func (c *Client) ExchangeCode(ctx context.Context, p *PendingAuthorization, response url.Values) (*Token, error) {
	md, err := c.Discover(ctx)
	if err != nil {
		return nil, err
	}
	code, err := c.checkAuthorizationResponse(md, p, response)
	if err != nil {
		return nil, err
	}
	return c.token(ctx, url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {p.RedirectURI}, "code_verifier": {p.CodeVerifier}})
}

// checkAuthorizationResponse validates iss and state and returns the code.
func (c *Client) checkAuthorizationResponse(md *ProviderMetadata, p *PendingAuthorization, q url.Values) (string, error) {
	// RFC 9207 §2.4: iss first, on success and error responses alike;
	// required when the metadata says the server sends it.
	iss := q.Get("iss")
	if iss == "" && md.AuthorizationResponseISSParameter {
		return "", fmt.Errorf("%w: the authorization response has no iss parameter", ErrIssuerMismatch)
	}
	if iss != "" && strings.TrimSuffix(iss, "/") != c.issuer {
		return "", fmt.Errorf("%w: the authorization response came from %q, not %q", ErrIssuerMismatch, iss, c.issuer)
	}
	if st := q.Get("state"); subtle.ConstantTimeCompare([]byte(st), []byte(p.State)) != 1 {
		return "", ErrStateMismatch
	}
	if e := q.Get("error"); e != "" {
		return "", &OAuthError{Code: e, Description: q.Get("error_description"), URI: q.Get("error_uri")}
	}
	code := q.Get("code")
	if code == "" {
		return "", ErrMissingCode
	}
	return code, nil
}

// Refresh exchanges a refresh token for a new DPoP-bound token (same DPoP
// key). The platform does not rotate refresh tokens by default: when the
// answer carries none, the returned Token keeps refreshToken.
func (c *Client) Refresh(ctx context.Context, refreshToken string) (*Token, error) {
	t, err := c.token(ctx, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}})
	if err != nil {
		return nil, err
	}
	if t.RefreshToken == "" {
		t.RefreshToken = refreshToken
	}
	return t, nil
}

// ClientCredentials gets a DPoP-bound token for the app itself (no
// customer), e.g. with scope "accounts payments" to create consents or
// "webhooks" to manage webhook endpoints.
func (c *Client) ClientCredentials(ctx context.Context, scope string) (*Token, error) {
	form := url.Values{"grant_type": {"client_credentials"}}
	if scope != "" {
		form.Set("scope", scope)
	}
	return c.token(ctx, form)
}

// token calls the token endpoint with private_key_jwt and DPoP.
func (c *Client) token(ctx context.Context, form url.Values) (*Token, error) {
	md, err := c.Discover(ctx)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(md.TokenEndpoint)
	if err != nil {
		return nil, err
	}
	resp, body, err := c.doDPoP(ctx, request{method: http.MethodPost, url: u,
		header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Accept": {"application/json"}},
		body:   c.authenticatedForm(form)})
	if err != nil {
		return nil, fmt.Errorf("bankbridge: token request: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, oauthErrorFrom(resp, body)
	}
	var tr struct {
		Token
		ExpiresIn int64 `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &tr); err != nil || tr.AccessToken == "" {
		return nil, fmt.Errorf("bankbridge: token request: %w: no access_token", ErrUnexpectedResponse)
	}
	if !strings.EqualFold(tr.TokenType, "DPoP") {
		return nil, fmt.Errorf("%w: token_type %q", ErrNotDPoPBound, tr.TokenType)
	}
	t := tr.Token
	if tr.ExpiresIn > 0 {
		t.ExpiresAt = c.now().Add(time.Duration(tr.ExpiresIn) * time.Second).UTC()
	}
	return &t, nil
}
