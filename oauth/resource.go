package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/ory/fosite"

	"github.com/bankbridge/bankbridge/oauth/dpop"
)

// resourceAlgs is the algs parameter of WWW-Authenticate (RFC 9449 §7.1).
const resourceAlgs = `algs="ES256 PS256"`

// VerifyRequest implements ResourceVerifier: it requires Authorization: DPoP
// with one of our access tokens and a DPoP proof for this request (htm, htu =
// issuer + path, ath, the token's key), refuses expired or revoked tokens and
// tokens of clients no longer active. Errors are *ResourceError. It costs one
// token lookup by signature, one replay-store write and one client lookup.
func (s *Server) VerifyRequest(ctx context.Context, r *http.Request) (*AccessContext, error) {
	authz := r.Header.Get("Authorization")
	scheme, token, _ := strings.Cut(authz, " ")
	token = strings.TrimSpace(token)
	switch {
	case authz == "":
		return nil, &ResourceError{Status: http.StatusUnauthorized, Code: "invalid_token",
			Description:     "No access token: send Authorization: DPoP <token> and a DPoP proof.",
			WWWAuthenticate: "DPoP " + resourceAlgs}
	case strings.EqualFold(scheme, "Bearer"):
		return nil, s.tokenError("The access token is DPoP-bound: use the DPoP authorization scheme, not Bearer.")
	case !strings.EqualFold(scheme, "DPoP"):
		return nil, s.tokenError("Unsupported authorization scheme: use DPoP.")
	case token == "" || len(token) > 512 || strings.ContainsAny(token, " ,\"") || !strings.Contains(token, "."):
		return nil, s.tokenError("The access token is malformed.")
	}
	if err := s.strategy.enigma.Validate(ctx, token); err != nil {
		return nil, s.tokenError("The access token is not valid.")
	}
	sig := s.strategy.AccessTokenSignature(ctx, token)
	row, err := s.store.cachedResourceRow(ctx, sig)
	if err != nil && !errors.Is(err, fosite.ErrNotFound) {
		return nil, &ResourceError{Status: http.StatusInternalServerError, Code: "server_error", Description: "token lookup failed"}
	}
	now := s.now()
	switch {
	case err != nil || !row.Active:
		return nil, s.tokenError("The access token is not active.")
	case !row.ExpiresAt.After(now):
		return nil, s.tokenError("The access token has expired.")
	case row.JKT == "":
		return nil, s.tokenError("The access token is not DPoP-bound.")
	}
	proof, err := dpop.FromHeader(r.Header)
	if err == nil {
		_, err = s.dpop.Verify(ctx, proof, r.Method, s.cfg.Issuer+r.URL.Path,
			dpop.VerifyOptions{AccessToken: token, ExpectedJKT: row.JKT})
	}
	if err != nil {
		return nil, s.proofResourceError(err)
	}
	client, err := s.deps.Clients.Client(ctx, row.ClientID)
	if errors.Is(err, ErrClientNotFound) || (err == nil && !client.Active) {
		return nil, s.tokenError("The client the access token was issued to is no longer active.")
	} else if err != nil {
		return nil, &ResourceError{Status: http.StatusInternalServerError, Code: "server_error", Description: "client lookup failed"}
	}
	ac := &AccessContext{
		ClientID:    row.ClientID,
		PartnerID:   client.PartnerID,
		Environment: client.Environment,
		CustomerID:  row.Subject,
		Scopes:      strings.Fields(row.Scopes),
		JKT:         row.JKT,
		GrantID:     row.RequestID,
		ExpiresAt:   row.ExpiresAt,
	}
	if row.AuthorizationDetails != "" {
		if err := json.Unmarshal([]byte(row.AuthorizationDetails), &ac.AuthorizationDetails); err != nil {
			return nil, &ResourceError{Status: http.StatusInternalServerError, Code: "server_error", Description: "stored authorization_details unreadable"}
		}
	}
	return ac, nil
}

func (s *Server) tokenError(desc string) *ResourceError {
	return &ResourceError{
		Status:          http.StatusUnauthorized,
		Code:            "invalid_token",
		Description:     desc,
		WWWAuthenticate: `DPoP error="invalid_token", error_description="` + desc + `", ` + resourceAlgs,
	}
}

func (s *Server) proofResourceError(err error) *ResourceError {
	var de *dpop.Error
	if !errors.As(err, &de) {
		return &ResourceError{Status: http.StatusInternalServerError, Code: "server_error", Description: "DPoP proof check failed"}
	}
	desc := de.Description + "."
	desc = strings.ReplaceAll(desc, `"`, `'`)
	e := &ResourceError{
		Status:          http.StatusUnauthorized,
		Code:            de.Code,
		Description:     desc,
		WWWAuthenticate: `DPoP error="` + de.Code + `", error_description="` + desc + `", ` + resourceAlgs,
	}
	if de.Code == dpop.CodeUseNonce {
		e.DPoPNonce = s.nonces.Nonce()
	}
	return e
}
