package oauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/ory/fosite"
)

// JWT-Secured Authorization Requests (JAR, RFC 9101) through PAR, as FAPI 2.0
// Message Signing profiles them: the pushed "request" parameter is a request
// object signed (PS256 or ES256) with one of the client's registered keys,
// whose claims replace the form's authorization parameters. fosite v0.49
// only reads request objects for OpenID Connect requests (scope openid), so
// Bankbridge verifies them itself with go-jose.

// requestObjectAlgs are the algorithms a request object may be signed with.
var requestObjectAlgs = []string{"ES256", "PS256"}

// requestObjectMaxLifetime bounds exp - nbf (FAPI 2.0 Message Signing §5.3.2:
// no longer than 60 minutes), and how far in the past nbf may be.
const requestObjectMaxLifetime = 60 * time.Minute

// requestObjectSkew is the clock skew allowed on nbf.
const requestObjectSkew = 10 * time.Second

// clientAuthParams are the outer form parameters kept beside a request
// object's claims: client authentication (RFC 9126 §3) and client_id.
var clientAuthParams = []string{"client_id", "client_assertion", "client_assertion_type"}

// requestObjectOnlyClaims are JWT claims that are not authorization
// parameters.
var requestObjectOnlyClaims = map[string]bool{"iss": true, "aud": true, "exp": true, "nbf": true, "iat": true, "jti": true}

func errRequestObject(hint string, args ...any) *fosite.RFC6749Error {
	return fosite.ErrInvalidRequestObject.WithHintf(hint, args...)
}

// applyRequestObject verifies the pushed request object, if any, and
// replaces the request's form with its claims (RFC 9101 §6.3: only the
// parameters inside the request object are used). It reports whether one
// was used.
func (s *Server) applyRequestObject(ctx context.Context, r *http.Request) (bool, error) {
	raw := r.PostForm.Get("request")
	if raw == "" {
		return false, nil
	}
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.ES256, jose.PS256})
	if err != nil || len(jws.Signatures) != 1 {
		return false, errRequestObject("The request object must be a compact JWS signed with one of %v ('none' is not accepted).", requestObjectAlgs)
	}
	hdr := jws.Signatures[0].Protected
	claims := map[string]any{}
	dec := json.NewDecoder(bytes.NewReader(jws.UnsafePayloadWithoutVerification()))
	dec.UseNumber()
	if err := dec.Decode(&claims); err != nil {
		return false, errRequestObject("The request object's payload is not a JSON object.")
	}
	iss, _ := claims["iss"].(string)
	outer := r.PostForm.Get("client_id")
	switch {
	case iss == "":
		return false, errRequestObject("Claim 'iss' of the request object is missing: it must be the client_id.")
	case outer != "" && iss != outer:
		return false, errRequestObject("Claim 'iss' of the request object must be the client_id.")
	}
	if cid, ok := claims["client_id"]; ok && cid != iss {
		return false, errRequestObject("Claim 'client_id' of the request object must be the client_id.")
	}
	client, err := s.store.client(ctx, iss)
	if errors.Is(err, fosite.ErrNotFound) {
		return false, fosite.ErrInvalidClient.WithHint("The client is not registered.")
	} else if err != nil {
		return false, fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	key, err := s.jwks.key(ctx, client, assertionHeader{Alg: hdr.Algorithm, Kid: hdr.KeyID})
	if err != nil {
		return false, errRequestObject("No registered signing key of the client fits the request object (alg %s, kid '%s').", hdr.Algorithm, hdr.KeyID)
	}
	if _, err := jws.Verify(key); err != nil {
		return false, errRequestObject("The request object signature does not verify with the client's registered keys.")
	}
	if !audienceHas(claims["aud"], s.cfg.Issuer) {
		return false, errRequestObject("Claim 'aud' of the request object must be the issuer '%s'.", s.cfg.Issuer)
	}
	now := s.now().UTC()
	exp, ok := numberClaim(claims["exp"])
	if !ok {
		return false, errRequestObject("Claim 'exp' of the request object is missing.")
	}
	nbf, ok := numberClaim(claims["nbf"])
	if !ok {
		return false, errRequestObject("Claim 'nbf' of the request object is missing.")
	}
	switch {
	case !exp.After(now):
		return false, errRequestObject("The request object has expired.")
	case nbf.After(now.Add(requestObjectSkew)):
		return false, errRequestObject("The request object is not valid yet (claim 'nbf').")
	case nbf.Before(now.Add(-requestObjectMaxLifetime)):
		return false, errRequestObject("Claim 'nbf' of the request object is more than 60 minutes in the past.")
	case exp.Sub(nbf) > requestObjectMaxLifetime:
		return false, errRequestObject("The request object's lifetime (exp - nbf) is longer than 60 minutes.")
	}
	form := url.Values{}
	for _, p := range clientAuthParams {
		if v, ok := r.PostForm[p]; ok {
			form[p] = v
		}
	}
	form.Set("client_id", iss)
	for k, v := range claims {
		if requestObjectOnlyClaims[k] || k == "client_id" {
			continue
		}
		if k == "request" || k == "request_uri" {
			return false, errRequestObject("The request object must not contain a '%s' claim.", k)
		}
		switch t := v.(type) {
		case string:
			form.Set(k, t)
		case json.Number:
			form.Set(k, t.String())
		case bool:
			form.Set(k, strconv.FormatBool(t))
		default:
			// authorization_details and other JSON values, as their form
			// encoding (RFC 9396 §3) would carry them.
			b, err := json.Marshal(t)
			if err != nil {
				return false, errRequestObject("Claim '%s' of the request object cannot be read.", k)
			}
			form.Set(k, string(b))
		}
	}
	r.PostForm = form
	r.Form = form
	return true, nil
}

// audienceHas reports whether a JWT aud (string or array) names want.
func audienceHas(aud any, want string) bool {
	switch a := aud.(type) {
	case string:
		return a == want
	case []any:
		for _, v := range a {
			if v == want {
				return true
			}
		}
	}
	return false
}

// numberClaim reads a NumericDate claim.
func numberClaim(v any) (time.Time, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, false
	}
	return numericDate(&n)
}
