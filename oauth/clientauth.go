package oauth

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/hashicorp/go-retryablehttp"
	"github.com/ory/fosite"

	"github.com/bankbridge/bankbridge/internal/netguard"
)

// clientAssertionType is the only client_assertion_type accepted (RFC 7523 §2.2).
const clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// assertionFutureLeeway is how far in the future iat and nbf may be.
const assertionFutureLeeway = 10 * time.Second

// assertionMaxLifetime caps how long after now an assertion may expire.
const assertionMaxLifetime = time.Hour

// jwksTTL is how long a client's fetched jwks_uri is cached.
const jwksTTL = 5 * time.Minute

// jwksRefetchEvery bounds refetches for an unknown kid.
const jwksRefetchEvery = 10 * time.Second

// assertionHeader is the protected header members we look at before
// verifying.
type assertionHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
}

// assertionClaims are the claims of a private_key_jwt client assertion.
type assertionClaims struct {
	Iss string          `json:"iss"`
	Sub string          `json:"sub"`
	Aud json.RawMessage `json:"aud"`
	Exp *json.Number    `json:"exp"`
	Iat *json.Number    `json:"iat"`
	Nbf *json.Number    `json:"nbf"`
	Jti string          `json:"jti"`
}

func (c assertionClaims) audiences() ([]string, bool) {
	if len(c.Aud) == 0 {
		return nil, false
	}
	var one string
	if err := json.Unmarshal(c.Aud, &one); err == nil {
		return []string{one}, true
	}
	var many []string
	if err := json.Unmarshal(c.Aud, &many); err == nil {
		return many, true
	}
	return nil, false
}

func numericDate(n *json.Number) (time.Time, bool) {
	if n == nil {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0).UTC(), true
}

// parsedAssertion is a client assertion split into its parts, not yet verified.
type parsedAssertion struct {
	Header assertionHeader
	Claims assertionClaims
	jws    *jose.JSONWebSignature
}

// parseClientAssertion splits a compact JWS client assertion and decodes its
// header and claims without verifying the signature. Errors are fosite
// RFC6749Errors with a hint saying what is wrong.
func parseClientAssertion(assertion string) (*parsedAssertion, error) {
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return nil, fosite.ErrInvalidClient.WithHint("The client_assertion is not a compact JWS (three base64url parts separated by dots).")
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return nil, fosite.ErrInvalidClient.WithHint("The client_assertion header is not base64url.")
	}
	var p parsedAssertion
	if err := json.Unmarshal(hb, &p.Header); err != nil {
		return nil, fosite.ErrInvalidClient.WithHint("The client_assertion header is not a JSON object.")
	}
	if p.Header.Alg != "ES256" && p.Header.Alg != "PS256" {
		return nil, fosite.ErrInvalidClient.WithHintf("The client_assertion uses signing algorithm '%s'; only ES256 and PS256 are accepted.", p.Header.Alg)
	}
	jws, err := jose.ParseSignedCompact(assertion, []jose.SignatureAlgorithm{jose.ES256, jose.PS256})
	if err != nil {
		return nil, fosite.ErrInvalidClient.WithHint("The client_assertion could not be parsed as a JWS.")
	}
	if len(jws.Signatures) != 1 {
		return nil, fosite.ErrInvalidClient.WithHint("The client_assertion must carry exactly one signature.")
	}
	d := json.NewDecoder(bytes.NewReader(jws.UnsafePayloadWithoutVerification()))
	d.UseNumber()
	if err := d.Decode(&p.Claims); err != nil {
		return nil, fosite.ErrInvalidClient.WithHint("The client_assertion claims are not a JSON object.")
	}
	p.jws = jws
	return &p, nil
}

// authenticateClient is fosite's ClientAuthenticationStrategy: private_key_jwt
// only (RFC 7523 / OIDC Core §9), ES256 or PS256, replay-protected by jti.
func (s *Server) authenticateClient(ctx context.Context, r *http.Request, form url.Values) (fosite.Client, error) {
	c, err := s.authenticate(ctx, r, form)
	if err != nil {
		return nil, err
	}
	return &fositeClient{c: c}, nil
}

func (s *Server) authenticate(ctx context.Context, r *http.Request, form url.Values) (*Client, error) {
	if _, _, ok := r.BasicAuth(); ok || form.Get("client_secret") != "" {
		return nil, fosite.ErrInvalidClient.WithHint("Only private_key_jwt client authentication is accepted; client secrets are not.")
	}
	switch at := form.Get("client_assertion_type"); at {
	case clientAssertionType:
	case "":
		return nil, fosite.ErrInvalidClient.WithHint("Client authentication is required: send client_assertion_type=" + clientAssertionType + " and a client_assertion (private_key_jwt).")
	default:
		return nil, fosite.ErrInvalidClient.WithHintf("Unknown client_assertion_type '%s'.", at)
	}
	assertion := form.Get("client_assertion")
	if assertion == "" {
		return nil, fosite.ErrInvalidClient.WithHint("The client_assertion parameter is missing.")
	}
	p, err := parseClientAssertion(assertion)
	if err != nil {
		return nil, err
	}
	cl := p.Claims
	clientID := form.Get("client_id")
	if clientID == "" {
		clientID = cl.Sub
	}
	if clientID == "" {
		return nil, fosite.ErrInvalidClient.WithHint("The client_assertion has no 'sub' claim.")
	}
	client, err := s.store.client(ctx, clientID)
	if errors.Is(err, fosite.ErrNotFound) {
		return nil, fosite.ErrInvalidClient.WithHint("The client is not registered.")
	} else if err != nil {
		return nil, fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	key, err := s.jwks.key(ctx, client, p.Header)
	if err != nil {
		return nil, err
	}
	if _, err := p.jws.Verify(key); err != nil {
		return nil, fosite.ErrInvalidClient.WithHint("The client_assertion signature does not verify with the client's registered keys.")
	}
	now := s.now().UTC()
	switch {
	case cl.Iss != client.ID:
		return nil, fosite.ErrInvalidClient.WithHint("Claim 'iss' of the client_assertion must be the client_id.")
	case cl.Sub != client.ID:
		return nil, fosite.ErrInvalidClient.WithHint("Claim 'sub' of the client_assertion must be the client_id.")
	case cl.Jti == "":
		return nil, fosite.ErrInvalidClient.WithHint("Claim 'jti' of the client_assertion is missing.")
	case len(cl.Jti) > 256:
		return nil, fosite.ErrInvalidClient.WithHint("Claim 'jti' of the client_assertion is longer than 256 characters.")
	}
	exp, ok := numericDate(cl.Exp)
	if !ok {
		return nil, fosite.ErrInvalidClient.WithHint("Claim 'exp' of the client_assertion is missing or not a number.")
	}
	if !exp.After(now) {
		return nil, fosite.ErrInvalidClient.WithHint("The client_assertion has expired.")
	}
	if exp.After(now.Add(assertionMaxLifetime)) {
		return nil, fosite.ErrInvalidClient.WithHint("Claim 'exp' of the client_assertion is more than one hour in the future.")
	}
	if iat, ok := numericDate(cl.Iat); ok && iat.After(now.Add(assertionFutureLeeway)) {
		return nil, fosite.ErrInvalidClient.WithHint("Claim 'iat' of the client_assertion is in the future.")
	} else if cl.Iat != nil && !ok {
		return nil, fosite.ErrInvalidClient.WithHint("Claim 'iat' of the client_assertion is not a number.")
	}
	if nbf, ok := numericDate(cl.Nbf); ok && nbf.After(now.Add(assertionFutureLeeway)) {
		return nil, fosite.ErrInvalidClient.WithHint("The client_assertion is not valid yet ('nbf' is in the future).")
	} else if cl.Nbf != nil && !ok {
		return nil, fosite.ErrInvalidClient.WithHint("Claim 'nbf' of the client_assertion is not a number.")
	}
	auds, ok := cl.audiences()
	if !ok || !s.audienceAccepted(ctx, auds) {
		return nil, fosite.ErrInvalidClient.WithHintf("Claim 'aud' of the client_assertion must be the issuer '%s' or the URL of the endpoint called.", s.cfg.Issuer)
	}
	if !client.Active {
		return nil, fosite.ErrInvalidClient.WithHint("The client is not active.")
	}
	if pw := pendingFrom(ctx); pw != nil && !pw.done && s.store.journal == nil {
		// A token request: the id is recorded with the proof's (and, for
		// client_credentials, with the token).
		pw.assertionKey, pw.assertionExp = client.ID+"|"+cl.Jti, exp
		if pw.fold {
			return client, nil
		}
		if err := s.store.flushPending(ctx, pw); err != nil {
			var rfc *fosite.RFC6749Error
			if errors.As(err, &rfc) {
				return nil, err
			}
			return nil, fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
		}
		return client, nil
	}
	if err := s.store.SetClientAssertionJWT(ctx, client.ID+"|"+cl.Jti, exp); errors.Is(err, fosite.ErrJTIKnown) {
		return nil, fosite.ErrInvalidClient.WithHint("Claim 'jti' of the client_assertion was already used; every assertion must be used once only.")
	} else if err != nil {
		return nil, fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	return client, nil
}

// audienceAccepted: the issuer, the token endpoint, or the endpoint called.
func (s *Server) audienceAccepted(ctx context.Context, auds []string) bool {
	endpoint, _ := ctx.Value(ctxEndpoint).(string)
	for _, a := range auds {
		if a == s.cfg.Issuer || a == s.url(pathToken) || (endpoint != "" && a == endpoint) {
			return true
		}
	}
	return false
}

// jwksCache caches each client's parsed key set: inline sets until the
// registered JSON changes, jwks_uri sets for jwksTTL.
type jwksCache struct {
	http   *retryablehttp.Client
	policy netguard.Policy
	now    func() time.Time
	mu     sync.Mutex
	sets   map[string]*cachedJWKS
}

type cachedJWKS struct {
	source    string // the inline JSON or the URI
	set       jose.JSONWebKeySet
	fetchedAt time.Time
}

func newJWKSCache(now func() time.Time, hc *http.Client, policy netguard.Policy) *jwksCache {
	rc := retryablehttp.NewClient()
	rc.RetryMax = 2
	rc.RetryWaitMin = 100 * time.Millisecond
	rc.RetryWaitMax = time.Second
	rc.Logger = nil
	// A refused destination is final: retrying cannot make it allowed.
	rc.CheckRetry = func(ctx context.Context, resp *http.Response, err error) (bool, error) {
		if errors.Is(err, netguard.ErrForbiddenAddress) {
			return false, err
		}
		return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
	}
	if hc != nil {
		rc.HTTPClient = hc
	} else {
		dialer := &net.Dialer{Timeout: 3 * time.Second, Control: policy.Control}
		rc.HTTPClient = &http.Client{
			Timeout:   5 * time.Second,
			Transport: &http.Transport{DialContext: dialer.DialContext, TLSHandshakeTimeout: 3 * time.Second, MaxIdleConnsPerHost: 2},
			// A redirect would be another fetch the partner chose; refuse it.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return &jwksCache{http: rc, now: now, sets: map[string]*cachedJWKS{}, policy: policy}
}

func (j *jwksCache) set(ctx context.Context, c *Client, refresh bool) (jose.JSONWebKeySet, error) {
	var source string
	inline := len(c.JWKS) > 0
	if inline {
		source = string(c.JWKS)
	} else if c.JWKSURI != "" {
		source = c.JWKSURI
	} else {
		return jose.JSONWebKeySet{}, fosite.ErrInvalidClient.WithHint("The client has no registered keys (jwks or jwks_uri).")
	}
	now := j.now()
	j.mu.Lock()
	cached := j.sets[c.ID]
	j.mu.Unlock()
	if cached != nil && cached.source == source {
		if inline || (!refresh && now.Sub(cached.fetchedAt) < jwksTTL) || (refresh && now.Sub(cached.fetchedAt) < jwksRefetchEvery) {
			return cached.set, nil
		}
	}
	var raw []byte
	if inline {
		raw = c.JWKS
	} else {
		b, err := j.fetch(ctx, c.JWKSURI)
		if err != nil {
			if cached != nil && cached.source == source {
				return cached.set, nil // keep serving the last good set
			}
			return jose.JSONWebKeySet{}, fosite.ErrInvalidClient.WithHintf("The client's jwks_uri could not be fetched: %s.", err)
		}
		raw = b
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &set); err != nil {
		return jose.JSONWebKeySet{}, fosite.ErrInvalidClient.WithHint("The client's registered JWK Set is not valid JSON Web Key Set JSON.")
	}
	j.mu.Lock()
	j.sets[c.ID] = &cachedJWKS{source: source, set: set, fetchedAt: now}
	j.mu.Unlock()
	return set, nil
}

func (j *jwksCache) fetch(ctx context.Context, uri string) ([]byte, error) {
	u, err := url.Parse(uri)
	if err != nil || u.Host == "" {
		return nil, errors.New("not an absolute URL")
	}
	if h := u.Hostname(); u.Scheme != "https" && !(u.Scheme == "http" && j.policy.AllowLoopback && (h == "localhost" || h == "127.0.0.1" || h == "::1")) {
		return nil, errors.New("jwks_uri must use https")
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := j.http.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.Is(err, netguard.ErrForbiddenAddress) && errors.As(err, &op) && op.Err != nil {
			return nil, fmt.Errorf("destination refused: %s", strings.TrimPrefix(op.Err.Error(), netguard.ErrForbiddenAddress.Error()+": "))
		}
		return nil, errors.New("request failed")
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 1<<20))
}

// key finds the public key to verify an assertion: by kid when the header
// names one, else the single key of the right type. A jwks_uri set is
// refetched (rate-limited) when the kid is unknown, for key rotation.
func (j *jwksCache) key(ctx context.Context, c *Client, h assertionHeader) (any, error) {
	set, err := j.set(ctx, c, false)
	if err != nil {
		return nil, err
	}
	k, err := pickKey(set, h)
	if err != nil && len(c.JWKS) == 0 {
		if set, err2 := j.set(ctx, c, true); err2 == nil {
			return pickKey(set, h)
		}
	}
	return k, err
}

func pickKey(set jose.JSONWebKeySet, h assertionHeader) (any, error) {
	keys := set.Keys
	if h.Kid != "" {
		keys = set.Key(h.Kid)
		if len(keys) == 0 {
			return nil, fosite.ErrInvalidClient.WithHintf("No registered key of the client has kid '%s'.", h.Kid)
		}
	}
	var found []any
	for _, k := range keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		if k.Algorithm != "" && k.Algorithm != h.Alg {
			continue
		}
		switch pk := k.Key.(type) {
		case *ecdsa.PublicKey:
			if h.Alg == "ES256" {
				found = append(found, pk)
			}
		case *rsa.PublicKey:
			if h.Alg == "PS256" && pk.N.BitLen() >= 2048 {
				found = append(found, pk)
			}
		}
	}
	switch {
	case len(found) == 0:
		return nil, fosite.ErrInvalidClient.WithHintf("No registered signing key of the client fits algorithm %s.", h.Alg)
	case len(found) > 1 && h.Kid == "":
		return nil, fosite.ErrInvalidClient.WithHint("The client has several signing keys: the client_assertion must name one with 'kid'.")
	}
	return found[0], nil
}
