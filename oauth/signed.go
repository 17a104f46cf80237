package oauth

import (
	"context"
	"mime"
	"strings"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Server-signed responses (FAPI 2.0 Message Signing): RFC 9701 introspection
// responses and JARM authorization responses (authzresponse.go). They are
// signed with the server's ES256 key, published at jwks_uri, like the
// id_token.

const (
	// mediaIntrospectionJWT is RFC 9701's media type, asked for in Accept
	// and answered in Content-Type.
	mediaIntrospectionJWT = "application/token-introspection+jwt"
	// typIntrospectionJWT is the JWS typ of a signed introspection response
	// (RFC 9701 §5).
	typIntrospectionJWT = "token-introspection+jwt"
	// responseSigningAlg is the one algorithm Bankbridge signs responses with.
	responseSigningAlg = "ES256"
)

// signJWT signs claims with the server key under JWS header typ.
func (s *Server) signJWT(ctx context.Context, typ string, claims map[string]any) (string, error) {
	kid, key, err := s.deps.Keys.Signing(ctx, responseSigningAlg)
	if err != nil {
		return "", err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType(jose.ContentType(typ)))
	if err != nil {
		return "", err
	}
	return jwt.Signed(signer).Claims(claims).Serialize()
}

// acceptsIntrospectionJWT reports whether the Accept header asks for a
// signed introspection response (RFC 9701 §4): the media type is listed
// with a non-zero quality.
func acceptsIntrospectionJWT(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || !strings.EqualFold(mt, mediaIntrospectionJWT) {
			continue
		}
		if q := strings.TrimSpace(params["q"]); q == "0" || q == "0.0" || q == "0.00" || q == "0.000" {
			continue
		}
		return true
	}
	return false
}

// signedIntrospection is the RFC 9701 §5 JWT: iss, aud (the calling
// client), iat and the RFC 7662 response in token_introspection.
func (s *Server) signedIntrospection(ctx context.Context, client *Client, resp map[string]any) (string, error) {
	return s.signJWT(ctx, typIntrospectionJWT, map[string]any{
		"iss":                 s.cfg.Issuer,
		"aud":                 client.ID,
		"iat":                 s.now().Unix(),
		"token_introspection": resp,
	})
}
