package oauth

import (
	"context"
	"crypto"
	"errors"
	"fmt"
)

// ErrNoClientKey is returned (wrapped) by ClientJWSKey when the client has no
// registered key that fits the kid and alg, or its keys cannot be had.
var ErrNoClientKey = errors.New("oauth: no registered client key fits")

// ClientJWSKey returns the public key of clientID's registered JWK Set (jwks,
// or jwks_uri fetched and cached as for private_key_jwt) named kid, usable
// with alg (PS256 with RSA of at least 2048 bits, or ES256). Resource servers
// use it to verify message signatures such as UK OB x-jws-signature.
// Errors: ErrClientNotFound, or one wrapping ErrNoClientKey.
func (s *Server) ClientJWSKey(ctx context.Context, clientID, alg, kid string) (crypto.PublicKey, error) {
	c, err := s.deps.Clients.Client(ctx, clientID)
	if err != nil {
		return nil, err
	}
	if kid == "" {
		return nil, fmt.Errorf("%w: kid is required", ErrNoClientKey)
	}
	k, err := s.jwks.key(ctx, c, assertionHeader{Alg: alg, Kid: kid})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoClientKey, err)
	}
	return k, nil
}

// ClientRequiresSignedRequests reports Client.RequireSignedRequests of
// clientID (ErrClientNotFound for an unknown one).
func (s *Server) ClientRequiresSignedRequests(ctx context.Context, clientID string) (bool, error) {
	c, err := s.deps.Clients.Client(ctx, clientID)
	if err != nil {
		return false, err
	}
	return c.RequireSignedRequests, nil
}
