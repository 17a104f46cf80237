package oauth

import (
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/internal/httpx"
	"github.com/bankbridge/bankbridge/internal/problem"
)

// resourceCodes maps a ResourceError code to the problem code the partner
// APIs render it as; an unknown code is CodeUnauthorized.
var resourceCodes = map[string]problem.Code{
	"invalid_token":      problem.CodeInvalidToken,
	"invalid_dpop_proof": problem.CodeInvalidDPoPProof,
	"use_dpop_nonce":     problem.CodeInvalidDPoPProof,
	"insufficient_scope": problem.CodeInsufficientScope,
	"invalid_request":    problem.CodeInvalidRequest,
	"server_error":       problem.CodeInternal,
}

// ResourceProblem is the problem a resource refusal is rendered as by every
// partner API (apis, webhooks): its code (and so its status and title, from
// internal/problem) follows re.Code, its detail is re.Description. A
// server_error is CodeInternal (500, "Internal error") with re as its cause.
func ResourceProblem(re *ResourceError) *problem.Error {
	code, ok := resourceCodes[re.Code]
	if !ok {
		code = problem.CodeUnauthorized
	}
	p := problem.New(code, "%s", re.Description)
	if code == problem.CodeInternal {
		p.Err = re
	}
	return p
}

// AbortResource answers a token/DPoP refusal on a partner API: the
// WWW-Authenticate and DPoP-Nonce headers re carries, and ResourceProblem(re)
// as problem+json (through httpx.Abort). It returns the problem's code (for
// the request log).
func AbortResource(c *gin.Context, re *ResourceError) problem.Code {
	if re.WWWAuthenticate != "" {
		c.Header("WWW-Authenticate", re.WWWAuthenticate)
	}
	if re.DPoPNonce != "" {
		c.Header("DPoP-Nonce", re.DPoPNonce)
	}
	p := ResourceProblem(re)
	httpx.Abort(c, p)
	return p.Code
}

// InsufficientScope is the refusal of a valid token that lacks scope: 403
// with a WWW-Authenticate naming the scope (RFC 6750 §3.1, RFC 9449 §7.1).
func InsufficientScope(scope string) *ResourceError {
	desc := "the access token lacks scope " + scope
	return &ResourceError{Status: 403, Code: "insufficient_scope", Description: desc,
		WWWAuthenticate: `DPoP error="insufficient_scope", error_description="` + desc + `", scope="` + scope + `"`}
}

// JSONEndpoint reports whether path is one of the authorization server's
// JSON endpoints (discovery, JWKS, PAR, token, introspection, revocation),
// whose failures are RFC 6749 JSON errors. The authorization endpoint is
// not one: a browser lands on it, and it answers with pages.
func JSONEndpoint(path string) bool {
	switch path {
	case pathOIDCDiscovery, pathOAuthDiscovery, pathJWKS, pathPAR, pathToken, pathIntrospect, pathRevoke:
		return true
	}
	return strings.HasPrefix(path, "/.well-known/")
}
